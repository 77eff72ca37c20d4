//! The one error type shared by [`Client`](crate::Client) and `AsyncClient`.

use std::time::Duration;

/// A `Result` whose error is this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// A boxed error from the HTTP backend (ureq or reqwest) or the file system.
pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// Everything that can go wrong when talking to FlowScale.
///
/// The same type is returned by the blocking and the async client. Messages say what
/// happened and, where there is one, what to do about it; none of them ever contains the
/// API key.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The server answered with an error status (or a `"status": "error"` envelope).
    ///
    /// `message` is the server's own explanation: the envelope's `errors`, FastAPI's
    /// `detail` list, or for a non-JSON body (an HTML page from a proxy, say) a short snippet.
    #[error("FlowScale API error {status}: {message}")]
    Api {
        /// The HTTP status code.
        status: u16,
        /// The server's message, made readable.
        message: String,
        /// The start of the raw response body (at most 2 KiB), for logs.
        body: String,
        /// How long the server asked to wait before trying again (`Retry-After`, in seconds).
        retry_after: Option<Duration>,
    },

    /// The request could not be sent or the response could not be read
    /// (DNS, connection refused, TLS, a per-request timeout, a broken upload stream).
    #[error("request to {url} failed: {source}")]
    Transport {
        /// The URL the request was for (never contains the API key).
        url: String,
        /// The backend's error.
        #[source]
        source: BoxError,
    },

    /// Waiting for a run took longer than the caller's deadline.
    ///
    /// The run is not lost: `run_id` lets you attach to it again with `wait_for_run`.
    #[error(
        "gave up waiting for run {run_id} after {elapsed:?} (last status: {}); \
         call wait_for_run with this run id to keep waiting",
        last_status.as_deref().unwrap_or("unknown")
    )]
    Timeout {
        /// The run that was being waited for.
        run_id: String,
        /// How long the wait lasted.
        elapsed: Duration,
        /// The last run status seen, if any poll succeeded.
        last_status: Option<String>,
    },

    /// The run ended in `failed`, `error` or `cancelled`.
    #[error("run {run_id} ended with status `{status}`")]
    RunFailed {
        /// The run that failed.
        run_id: String,
        /// The status the server reported.
        status: String,
    },

    /// The server reported (HTTP 408 from `get_output`) that the run producing this output
    /// timed out on FlowScale's side.
    #[error("the run producing output `{output}` timed out on the FlowScale side")]
    RunTimedOut {
        /// The output name that was asked for.
        output: String,
        /// The run, when known (set by the wait loop).
        run_id: Option<String>,
    },

    /// An argument or input was rejected before anything was sent.
    #[error("invalid input `{field}`: {reason}")]
    Input {
        /// The argument or form field at fault.
        field: String,
        /// What is wrong with it and how to fix it.
        reason: String,
    },

    /// The server's answer was not what the FlowScale API documents.
    #[error(
        "could not decode the FlowScale response (HTTP {status}): {message}; body starts: {snippet}"
    )]
    Decode {
        /// The HTTP status of the response.
        status: u16,
        /// What did not fit.
        message: String,
        /// The start of the body (at most 2 KiB).
        snippet: String,
    },

    /// The client was configured wrongly (bad base URL, missing environment variable, ...).
    #[error("configuration error: {0}")]
    Config(String),
}

impl Error {
    /// The HTTP status, for errors that carry one.
    pub fn status(&self) -> Option<u16> {
        match self {
            Error::Api { status, .. } | Error::Decode { status, .. } => Some(*status),
            Error::RunTimedOut { .. } => Some(408),
            _ => None,
        }
    }

    /// The run this error is about, when known.
    pub fn run_id(&self) -> Option<&str> {
        match self {
            Error::Timeout { run_id, .. } | Error::RunFailed { run_id, .. } => Some(run_id),
            Error::RunTimedOut { run_id, .. } => run_id.as_deref(),
            _ => None,
        }
    }

    /// Whether trying the same request again later may succeed: connection problems,
    /// 408 request timeouts from proxies, 429 and 5xx answers.
    pub fn is_retryable(&self) -> bool {
        match self {
            Error::Transport { .. } => true,
            Error::Api { status, .. } => matches!(status, 408 | 425 | 429 | 500..=599),
            _ => false,
        }
    }

    /// How long the server asked to wait before a retry (`Retry-After` on 429 or 503).
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            Error::Api { retry_after, .. } => *retry_after,
            _ => None,
        }
    }

    pub(crate) fn input(field: impl Into<String>, reason: impl Into<String>) -> Self {
        Error::Input {
            field: field.into(),
            reason: reason.into(),
        }
    }

    pub(crate) fn transport(url: &str, source: impl Into<BoxError>) -> Self {
        Error::Transport {
            url: url.to_owned(),
            source: source.into(),
        }
    }
}

/// The first `max` bytes of a body as text, cut on a character boundary.
pub(crate) fn snippet(body: &[u8], max: usize) -> String {
    let text = String::from_utf8_lossy(&body[..body.len().min(max)]);
    let mut s = text.trim().to_owned();
    if body.len() > max {
        s.push('…');
    }
    s
}
