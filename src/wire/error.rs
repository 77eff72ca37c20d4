//! The one error type shared by [`Client`](crate::Client) and `AsyncClient`.
//!
//! Derived with `thiserror`. Every variant's `Display` says what happened in the SDK's own
//! words, and leaves the underlying cause to [`source()`](std::error::Error::source): error
//! reporters (anyhow, eyre, tracing) print the chain, so nothing is printed twice. The
//! wrappers (`WaitFailed`, `AnswerLost`, `Incomplete`) hold an error of this crate as their
//! `cause`, shown in their own message (the status and the server's words at a glance), and
//! so have no `source()`.

use std::path::PathBuf;
use std::time::Duration;

use crate::wire::failure::TransportErrorKind;
use crate::wire::types::RunStatus;

/// A `Result` whose error is this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// A boxed error from the HTTP backend (ureq or reqwest).
pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// Everything that can go wrong when talking to FlowScale.
///
/// The same type is returned by the blocking and the async client, with the same message
/// for the same failure. Messages say what happened and, where there is one, what to do
/// about it; none of them ever contains the API key.
///
/// Every variant is `#[non_exhaustive]`: match with `..`, as in
/// `Error::Api { status, .. }`.
///
/// To sort failures, ask the error rather than its status by hand: the answer is the same
/// in both clients, and a wrapper (a wait that gave up, a lost answer, a download kept
/// for resuming) answers for its cause.
///
/// ```no_run
/// # fn main() -> flowscale::Result<()> {
/// # let client = flowscale::Client::new("key", "https://pod.example")?;
/// use flowscale::{Error, WaitOptions};
/// match client.wait_for_run("808f34d0-ef97-4b78-a00f-1268077ea6db", &WaitOptions::new()) {
///     Ok(result) => println!("{} outputs", result.outputs.len()),
///     Err(e) if e.is_auth() => eprintln!("the key was refused: {e}"),
///     Err(e) if e.is_not_found() => eprintln!("no such run: {e}"),
///     Err(e) if e.is_run_failure() => eprintln!("the run failed: {e}"),
///     Err(e) if e.is_timeout() => eprintln!("still running, wait again later: {e}"),
///     Err(e @ Error::AnswerLost { .. }) => eprintln!("a run may exist, look first: {e}"),
///     Err(e) if e.is_retryable() => eprintln!("try again: {e}"),
///     Err(e) => return Err(e),
/// }
/// # Ok(()) }
/// ```
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The server answered with an error status (or a `"status": "error"` envelope).
    ///
    /// `message` is the server's own explanation: the envelope's `errors`, FastAPI's
    /// `detail` list, or for a non-JSON body (an HTML page from a proxy, say) a short snippet.
    #[error("FlowScale API error {status}: {message}")]
    #[non_exhaustive]
    Api {
        /// The HTTP status code.
        status: u16,
        /// The server's message, made readable.
        message: String,
        /// The start of the raw response body (at most 2 KiB), for logs.
        body: String,
        /// How long the server asked to wait before trying again (`Retry-After`).
        retry_after: Option<Duration>,
    },

    /// The request could not be sent or the response could not be read whole.
    ///
    /// `kind` names the cause in words (connection refused, timed out waiting for the
    /// response, TLS, ...); `source()` is the HTTP backend's own error, when there is one.
    #[error("request to {url} failed: {kind}")]
    #[non_exhaustive]
    Transport {
        /// The URL the request was for (never contains the API key; a download link's
        /// query, which holds its signature, is cut off).
        url: String,
        /// What went wrong.
        kind: TransportErrorKind,
        /// The backend's error.
        #[source]
        source: Option<BoxError>,
    },

    /// Waiting for a run took longer than the caller's deadline.
    ///
    /// The run is not lost: `run_id` lets you attach to it again with `wait_for_run`.
    #[error(
        "gave up waiting for run {run_id} after {elapsed:.1?} (last status: {}); the run goes \
         on, and waiting for it again picks it up",
        last(.last_status)
    )]
    #[non_exhaustive]
    Timeout {
        /// The run that was being waited for.
        run_id: String,
        /// How long the wait lasted.
        elapsed: Duration,
        /// The last run status seen, if any poll succeeded.
        last_status: Option<RunStatus>,
    },

    /// The wait was stopped by a flag given to
    /// [`WaitOptions::stop_on`](crate::WaitOptions::stop_on) (or
    /// [`Batch::stop_on`](crate::Batch::stop_on)) before the run finished.
    ///
    /// The run goes on on FlowScale: `run_id` lets you wait for it again.
    #[error("stopped waiting for run {run_id}")]
    #[non_exhaustive]
    Interrupted {
        /// The run that was being waited for.
        run_id: String,
    },

    /// A wait gave up before its run finished because polling the run failed: with an
    /// error a retry cannot heal (a revoked key, an answer that cannot be read, an unknown
    /// run), or with transient failures past
    /// [`WaitOptions::max_poll_failures`](crate::WaitOptions::max_poll_failures) in a row.
    ///
    /// The run may well go on on FlowScale: `run_id` lets you wait for it again once the
    /// cause is fixed. `cause` is the poll's error, shown in this one's message.
    #[error(
        "stopped waiting for run {run_id} (last status: {}): polling it failed: {}",
        last(.last_status),
        with_causes(.cause)
    )]
    #[non_exhaustive]
    WaitFailed {
        /// The run that was being waited for.
        run_id: String,
        /// The last run status seen, if any poll succeeded.
        last_status: Option<RunStatus>,
        /// Why the poll failed.
        cause: Box<Error>,
    },

    /// The run ended in `failed`, `error` or `cancelled`.
    #[error("run {run_id} ended with status `{status}`")]
    #[non_exhaustive]
    RunFailed {
        /// The run that failed.
        run_id: String,
        /// The status the server reported.
        status: RunStatus,
    },

    /// The server reported (HTTP 408 from `output`) that the run producing this output
    /// timed out on FlowScale's side.
    #[error("the run producing output `{output}` timed out on the FlowScale side")]
    #[non_exhaustive]
    RunTimedOut {
        /// The output name that was asked for.
        output: String,
        /// The run, when known (set by the wait loop).
        run_id: Option<String>,
    },

    /// An argument or input was rejected, before anything was sent where that was possible.
    #[error("invalid input `{field}`: {reason}")]
    #[non_exhaustive]
    Input {
        /// The argument or form field at fault.
        field: String,
        /// What is wrong with it and how to fix it.
        reason: String,
    },

    /// The server's answer was not what the FlowScale API documents.
    ///
    /// An answer to `execute_workflow` that cannot be read may still have started a paid
    /// run: `run_id` holds any run id the body names, so the run can be waited for
    /// ([`Error::run_id`] returns it).
    #[error("could not decode the FlowScale response (HTTP {status}; body starts: {snippet})")]
    #[non_exhaustive]
    Decode {
        /// The HTTP status of the response.
        status: u16,
        /// The start of the body (at most 2 KiB).
        snippet: String,
        /// A run id the body names (a `run_id` string anywhere in it), if any.
        run_id: Option<String>,
        /// What did not fit.
        source: serde_json::Error,
    },

    /// Reading or writing a local file failed: an upload's file, a download's destination.
    /// A full disk or a read-only directory ends up here.
    #[error("file system error{}", at(.path))]
    #[non_exhaustive]
    Io {
        /// The file or directory concerned, when there is one.
        path: Option<PathBuf>,
        /// The operating system's error.
        source: std::io::Error,
    },

    /// A download stopped before its end and could not be resumed within the call (the
    /// retry policy's attempts passed without a byte). The bytes so far are kept in
    /// `partial`, with a record of what they are of: the next call for the same output or
    /// link resumes them (`flowscale download` again, say). `cause` is the last failure.
    #[error(
        "the download stopped at {have}{} bytes ({}); they are kept in {}, and the next \
         download of it resumes them",
        of_total(.total),
        with_causes(.cause),
        .partial.display()
    )]
    #[non_exhaustive]
    Incomplete {
        /// The partial file kept (`<file>.part`).
        partial: PathBuf,
        /// How many bytes it holds.
        have: u64,
        /// The whole length, when the server said.
        total: Option<u64>,
        /// Why the download stopped.
        cause: Box<Error>,
    },

    /// The submission went out whole but its answer was lost (a timeout, a cut connection, a
    /// 5xx), and no run among those FlowScale lists could be named as its own for certain.
    /// A run may exist and be paid for: look among the runs created since `sent_at` (same
    /// workflow and inputs; `candidates` are those that may be it) before submitting again.
    /// `cause` is the error that lost the answer.
    #[error(
        "the answer to the submission of `{workflow_id}` sent at {sent_at} was lost ({}), and \
         {reason}: a run may have started and be paid for{}; look among the runs created since \
         then before submitting again",
        with_causes(.cause),
        maybe(.candidates)
    )]
    #[non_exhaustive]
    AnswerLost {
        /// The workflow submitted.
        workflow_id: String,
        /// When the submission was sent (RFC 3339, UTC).
        sent_at: String,
        /// Why its run could not be named (no match listed yet, two that match...).
        reason: String,
        /// The runs that may be its own (none when none is listed).
        candidates: Vec<String>,
        /// How the answer was lost.
        cause: Box<Error>,
    },

    /// A batch directory (or a `BuildCache` directory) is in use by another process, and
    /// this one was asked not to wait for it (`Batch::wait_for_directory(false)`). Two
    /// processes on one directory could both submit the same job.
    #[error("{} is in use by another process{}", .path.display(), held_by(.holder))]
    #[non_exhaustive]
    Busy {
        /// The directory.
        path: PathBuf,
        /// What the holder wrote of itself (its process id, program and since when).
        holder: Option<String>,
    },

    /// The client was configured wrongly (bad base URL, missing environment variable, ...).
    #[error("configuration error: {message}")]
    #[non_exhaustive]
    Config {
        /// What is wrong and how to fix it.
        message: String,
    },
}

/// The last status for a message: `unknown` before any poll succeeded.
fn last(status: &Option<RunStatus>) -> &str {
    status.as_ref().map_or("unknown", RunStatus::as_str)
}

/// A time as RFC 3339 (UTC, to the second), for messages; times past what RFC 3339 can
/// write (year 9999) or before 1970 are written as its ends, never a panic.
pub(crate) fn rfc3339(at: std::time::SystemTime) -> String {
    // 9999-12-31T23:59:59Z, the last second RFC 3339 writes.
    const LAST: u64 = 253_402_300_799;
    let secs = at
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
        .min(LAST);
    let at = std::time::UNIX_EPOCH + std::time::Duration::from_secs(secs);
    humantime::format_rfc3339_seconds(at).to_string()
}

/// ` (it may be run a or b)`, when runs may be it.
fn maybe(candidates: &[String]) -> String {
    match candidates {
        [] => String::new(),
        [one] => format!(" (it may be run {one})"),
        more => format!(" (it may be one of the runs {})", more.join(", ")),
    }
}

/// ` at <path>`, when there is one.
fn at(path: &Option<PathBuf>) -> String {
    path.as_ref()
        .map_or_else(String::new, |p| format!(" at {}", p.display()))
}

/// ` of <total>`, when the server said.
fn of_total(total: &Option<u64>) -> String {
    total.map_or_else(String::new, |t| format!(" of {t}"))
}

/// ` (<holder>)`, when the holder wrote of itself.
fn held_by(holder: &Option<String>) -> String {
    holder
        .as_ref()
        .map_or_else(String::new, |h| format!(" ({h})"))
}

/// An error and every cause after it, `: `-separated: how a wrapper (a wait that gave up,
/// a lost answer, a download kept for resuming) shows its cause in its own message. A
/// wrapper's cause is in its message, not its `source()`, so a reporter that prints the
/// chain says each thing once.
fn with_causes(error: &Error) -> String {
    error.with_causes()
}

impl Error {
    /// The HTTP status, for errors that carry one (a failed wait: its poll's).
    pub fn status(&self) -> Option<u16> {
        match self {
            Error::WaitFailed { cause, .. }
            | Error::AnswerLost { cause, .. }
            | Error::Incomplete { cause, .. } => cause.status(),
            Error::Api { status, .. } | Error::Decode { status, .. } => Some(*status),
            Error::RunTimedOut { .. } => Some(408),
            _ => None,
        }
    }

    /// Whether the key was refused (401 or 403), also when a wait, a lost answer or a
    /// download ended on it: fix the key, not the network.
    pub fn is_auth(&self) -> bool {
        matches!(self.status(), Some(401 | 403))
    }

    /// Whether what was asked for does not exist (404): a run id, an output, a workflow.
    pub fn is_not_found(&self) -> bool {
        self.status() == Some(404)
    }

    /// Whether a deadline on this side passed: a wait's timeout
    /// ([`Error::Timeout`]), or a request's connect or response timeout. (A run that timed
    /// out on FlowScale's side is [`Error::RunTimedOut`], a failed run.)
    pub fn is_timeout(&self) -> bool {
        use crate::wire::failure::TransportErrorKind as K;
        match self {
            Error::Timeout { .. } => true,
            Error::Transport {
                kind: K::Timeout | K::ConnectTimeout,
                ..
            } => true,
            Error::WaitFailed { cause, .. }
            | Error::AnswerLost { cause, .. }
            | Error::Incomplete { cause, .. } => cause.is_timeout(),
            _ => false,
        }
    }

    /// Whether FlowScale asked to slow down (429).
    pub fn is_rate_limited(&self) -> bool {
        self.status() == Some(429)
    }

    /// Whether FlowScale (or a proxy before it) failed on its side (a 5xx answer).
    pub fn is_server_error(&self) -> bool {
        self.status().is_some_and(|s| (500..600).contains(&s))
    }

    /// Whether the pod could not be reached at all (no route, refused, DNS, TLS): check the
    /// URL and the network; nothing was sent.
    pub fn is_connect(&self) -> bool {
        use crate::wire::failure::TransportErrorKind as K;
        match self {
            Error::Transport { kind, .. } => matches!(
                kind,
                K::ConnectionRefused | K::Dns | K::Connect | K::ConnectTimeout | K::Tls { .. }
            ),
            Error::WaitFailed { cause, .. } => cause.is_connect(),
            _ => false,
        }
    }

    /// Whether the run itself failed or timed out on FlowScale's side: final, unlike a
    /// wait that gave up.
    pub fn is_run_failure(&self) -> bool {
        matches!(self, Error::RunFailed { .. } | Error::RunTimedOut { .. })
    }

    /// The run this error is about, when known.
    pub fn run_id(&self) -> Option<&str> {
        match self {
            Error::Timeout { run_id, .. }
            | Error::RunFailed { run_id, .. }
            | Error::Interrupted { run_id }
            | Error::WaitFailed { run_id, .. } => Some(run_id),
            Error::Decode { run_id, .. } => run_id.as_deref(),
            Error::RunTimedOut { run_id, .. } => run_id.as_deref(),
            _ => None,
        }
    }

    /// Whether sending the same request again later may succeed: connection problems
    /// and timeouts (not TLS failures, oversized or cut-short bodies, failures nobody could
    /// name), and the answers 425, 429, 500, 502, 503 and 504. The retry policy and the
    /// wait's poll retries follow the same table.
    pub fn is_retryable(&self) -> bool {
        // The one table: `wire::failure::retryable_status` and `TransportErrorKind`.
        match self {
            Error::Transport { kind, .. } => kind.is_retryable(),
            // Calling again resumes the bytes kept.
            Error::Incomplete { cause, .. } => cause.is_retryable(),
            Error::Api { status, .. } => crate::wire::failure::retryable_status(*status),
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

    /// The message with every cause after it, `: `-separated, on one line: for reports
    /// that keep only text (a batch job's outcome).
    pub(crate) fn with_causes(&self) -> String {
        let mut text = self.to_string();
        let mut cause = std::error::Error::source(self);
        while let Some(e) = cause {
            text.push_str(": ");
            text.push_str(&e.to_string());
            cause = e.source();
        }
        text
    }

    pub(crate) fn input(field: impl Into<String>, reason: impl Into<String>) -> Self {
        Error::Input {
            field: field.into(),
            reason: reason.into(),
        }
    }

    pub(crate) fn answer_lost(
        workflow_id: String,
        sent_at: std::time::SystemTime,
        reason: String,
        candidates: Vec<String>,
        source: Error,
    ) -> Self {
        Error::AnswerLost {
            workflow_id,
            sent_at: rfc3339(sent_at),
            reason,
            candidates,
            cause: Box::new(source),
        }
    }

    pub(crate) fn config(message: impl Into<String>) -> Self {
        Error::Config {
            message: message.into(),
        }
    }

    pub(crate) fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Error::Io {
            path: Some(path.into()),
            source,
        }
    }

    pub(crate) fn transport(url: &str, kind: TransportErrorKind, source: Option<BoxError>) -> Self {
        Error::Transport {
            url: url.to_owned(),
            kind,
            source,
        }
    }

    pub(crate) fn decode(status: u16, body: &[u8], source: serde_json::Error) -> Self {
        Error::Decode {
            status,
            snippet: snippet(body, 2048),
            run_id: None,
            source,
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

#[cfg(test)]
mod tests {
    use super::*;
    use std::error::Error as _;

    #[test]
    fn display_never_repeats_the_source() {
        let io = std::io::Error::new(std::io::ErrorKind::StorageFull, "disk full");
        let e = Error::io("/tmp/out.png.part", io);
        assert_eq!(e.to_string(), "file system error at /tmp/out.png.part");
        assert_eq!(e.source().unwrap().to_string(), "disk full");

        let cause: BoxError = "io: Connection refused".into();
        let e = Error::transport(
            "http://h/x",
            TransportErrorKind::ConnectionRefused,
            Some(cause),
        );
        assert_eq!(
            e.to_string(),
            "request to http://h/x failed: connection refused"
        );
        assert!(!e.to_string().contains("io:"));
        assert!(e.is_retryable());

        let json = serde_json::from_str::<u8>("x").unwrap_err();
        let e = Error::decode(200, b"x", json);
        assert!(!e.to_string().contains("expected value"), "{e}");
        assert!(e.source().is_some());
    }

    #[test]
    fn only_healable_failures_are_retryable() {
        let big = Error::transport("u", TransportErrorKind::BodyTooLarge { limit: 10 }, None);
        let cut = Error::transport(
            "u",
            TransportErrorKind::Truncated {
                received: 1,
                expected: 2,
            },
            None,
        );
        let tls = Error::transport(
            "u",
            TransportErrorKind::Tls {
                reason: "certificate not trusted".into(),
            },
            None,
        );
        assert!(!big.is_retryable() && !cut.is_retryable() && !tls.is_retryable());
        let api = |status| Error::Api {
            status,
            message: String::new(),
            body: String::new(),
            retry_after: None,
        };
        assert!(api(503).is_retryable() && api(429).is_retryable());
        assert!(!api(501).is_retryable() && !api(404).is_retryable());
    }
}
