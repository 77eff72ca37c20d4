//! How the tool fails: one `error:` line (and a hint where one helps) on stderr, and an
//! exit code a script can branch on.

use flowscale::{Error, TransportErrorKind};

/// Exit codes, as `--help`, `flowscale man` and the CLI guide document them.
pub const EXIT_FAILED: i32 = 1;
pub const EXIT_USAGE: i32 = 2;
pub const EXIT_TIMEOUT: i32 = 3;
pub const EXIT_NOT_READY: i32 = 4;
/// A run may exist that the tool could not confirm (a lost answer), or the batch directory
/// is another process's: a person must look before anything is sent again.
pub const EXIT_UNCONFIRMED: i32 = 5;
/// The key was refused (401/403).
pub const EXIT_AUTH: i32 = 6;
/// What was asked for is not there (404).
pub const EXIT_NOT_FOUND: i32 = 7;
/// The run failed or timed out on FlowScale's side.
pub const EXIT_RUN_FAILED: i32 = 8;
/// `flowscale lock --check`: the pod differs from `flowscale.lock`.
pub const EXIT_DRIFT: i32 = 9;
pub const EXIT_INTERRUPTED: i32 = 130;

/// A failure to report: its message, a hint, the run it concerns, and the exit code.
#[derive(Debug)]
pub struct Failure {
    pub message: String,
    pub hint: Option<String>,
    pub run_id: Option<String>,
    pub code: i32,
    /// Whether the result was printed already (then `--json` prints no second document).
    pub result_printed: bool,
    /// The run's status, when the failure is about a run that ended (`failed`,
    /// `cancelled`...): for the error document, so that scripts need not parse the words.
    pub status: Option<String>,
}

/// The exit codes by name, as the error document's `code` says them: one table, which
/// `--help`, `flowscale man` and the CLI guide print too (`EXIT_CODES`).
pub fn code_name(code: i32) -> &'static str {
    match code {
        0 => "ok",
        EXIT_USAGE => "usage",
        EXIT_TIMEOUT => "timeout",
        EXIT_NOT_READY => "not_ready",
        EXIT_UNCONFIRMED => "unconfirmed",
        EXIT_AUTH => "auth",
        EXIT_NOT_FOUND => "not_found",
        EXIT_RUN_FAILED => "run_failed",
        EXIT_DRIFT => "drift",
        EXIT_INTERRUPTED => "interrupted",
        _ => "failed",
    }
}

impl Failure {
    /// A mistake in how the tool was called.
    pub fn usage(message: impl Into<String>, hint: impl Into<String>) -> Self {
        Failure {
            message: message.into(),
            hint: Some(hint.into()),
            run_id: None,
            code: EXIT_USAGE,
            result_printed: false,
            status: None,
        }
    }
}

impl From<Error> for Failure {
    fn from(e: Error) -> Self {
        let run_id = e.run_id().map(str::to_owned);
        let (code, hint) = match &e {
            Error::Timeout { run_id, .. } => (
                EXIT_TIMEOUT,
                Some(format!(
                    "the run goes on: resume with `flowscale wait {run_id}`"
                )),
            ),
            // A run that is not there: no wait can find it (a script retrying on 3 would
            // loop for ever).
            _ if e.is_not_found() => (
                EXIT_NOT_FOUND,
                Some("check the id: `flowscale runs` lists the pod's runs".to_owned()),
            ),
            // A key refused during a wait: the key is the thing to fix, and the run goes on.
            Error::WaitFailed { run_id, .. } if e.is_auth() => (
                EXIT_AUTH,
                Some(format!(
                    "check the API key (`flowscale profiles` shows where it comes from); the \
                     run goes on: resume with `flowscale wait {run_id}`"
                )),
            ),
            Error::WaitFailed { run_id, .. } => (
                EXIT_TIMEOUT,
                Some(format!(
                    "the run goes on: once the cause is fixed, resume with `flowscale wait \
                     {run_id}`"
                )),
            ),
            Error::RunFailed { .. } | Error::RunTimedOut { .. } => (EXIT_RUN_FAILED, None),
            Error::Interrupted { run_id, .. } => (
                EXIT_INTERRUPTED,
                Some(format!(
                    "the run goes on: resume with `flowscale wait {run_id}`"
                )),
            ),
            _ if e.is_auth() => (
                EXIT_AUTH,
                Some(
                    "check the API key (`flowscale profiles` shows where it comes from: a flag, \
                     the environment, ./.env or a profile)"
                        .to_owned(),
                ),
            ),
            Error::Transport {
                kind:
                    TransportErrorKind::ConnectionRefused
                    | TransportErrorKind::Dns
                    | TransportErrorKind::Connect
                    | TransportErrorKind::ConnectTimeout,
                ..
            } => (
                EXIT_FAILED,
                Some(
                    "check the API URL (FLOWSCALE_API_URL, .env or --api-url) and the network"
                        .to_owned(),
                ),
            ),
            // A request that got no answer in time (not a wait's deadline): the URL or the
            // network, most often; how long is waited is a setting.
            Error::Transport {
                kind: TransportErrorKind::Timeout,
                ..
            } => (
                EXIT_FAILED,
                Some(
                    "no answer in time: check the API URL (FLOWSCALE_API_URL, .env or --api-url) \
                     and the network; --response-timeout sets how long each request waits (a \
                     request safe to repeat is tried again a few times)"
                        .to_owned(),
                ),
            ),
            _ if disk_full(&e) => (
                EXIT_FAILED,
                Some(
                    "the disk is full: free space or pick another -o DIR. A run that started \
                     goes on: `flowscale wait RUN_ID -o DIR` saves its outputs (a batch: run the \
                     same command again, it pays for nothing twice)"
                        .to_owned(),
                ),
            ),
            Error::Config { .. } => (EXIT_USAGE, None),
            Error::AnswerLost { sent_at, .. } => (
                EXIT_UNCONFIRMED,
                Some(format!(
                    "look for it before anything else: `flowscale runs --since {} --json` (a \
                     minute before the send, for the pod's clock: the same workflow and inputs); \
                     if it is there, `flowscale wait RUN_ID` saves its outputs; if it is not, \
                     running the same command again submits it again (paid for again)",
                    minute_before(sent_at)
                )),
            ),
            Error::Busy { .. } => (
                EXIT_UNCONFIRMED,
                Some(
                    "wait for that process to finish, or pass --wait to wait for it here; two \
                     processes on one directory could both pay for a job"
                        .to_owned(),
                ),
            ),
            // FastAPI names each missing field `body.<name>`: say how to give it.
            Error::Api {
                status: 422,
                message,
                ..
            } if message.contains("Field required") => (EXIT_FAILED, missing_inputs(message)),
            // The answer could not be read, but it names a run: that run may be going.
            Error::Decode {
                run_id: Some(run_id),
                ..
            } => (
                EXIT_FAILED,
                Some(format!(
                    "the run may have started all the same: wait for it with `flowscale wait \
                     {run_id}` before submitting again"
                )),
            ),
            _ => (EXIT_FAILED, None),
        };
        // The cause chain, in one line: the SDK's errors never repeat their source. A
        // timeout is said in the tool's words (the SDK's names a library call).
        let mut message = match &e {
            Error::Timeout {
                run_id,
                elapsed,
                last_status,
                ..
            } => format!(
                "gave up waiting for run {run_id} after {elapsed:.1?} (last status: {})",
                last_status.as_ref().map_or("unknown", |s| s.as_str())
            ),
            _ => e.to_string(),
        };
        let mut source = std::error::Error::source(&e);
        while let Some(cause) = source {
            message.push_str(": ");
            message.push_str(&cause.to_string());
            source = cause.source();
        }
        let status = match &e {
            Error::RunFailed { status, .. } => Some(status.as_str().to_owned()),
            Error::RunTimedOut { .. } => Some("timed_out".to_owned()),
            _ => None,
        };
        Failure {
            message: message.replace('\n', " "),
            hint,
            run_id,
            code,
            result_printed: false,
            status,
        }
    }
}

/// An RFC 3339 time less a minute (as it is, when it cannot be read).
pub fn minute_before(at: &str) -> String {
    humantime::parse_rfc3339_weak(at)
        .ok()
        .and_then(|t| t.checked_sub(std::time::Duration::from_secs(60)))
        .map_or_else(
            || at.to_owned(),
            |t| humantime::format_rfc3339_seconds(t).to_string(),
        )
}

/// Whether `e` comes down to a full disk (`ENOSPC`), also inside a download kept for
/// resuming (whose cause is in its message, not its `source()`).
pub fn disk_full(e: &Error) -> bool {
    fn full(io: &std::io::Error) -> bool {
        io.kind() == std::io::ErrorKind::StorageFull || io.raw_os_error() == Some(28)
    }
    match e {
        Error::Io { source, .. } => full(source),
        Error::Incomplete { cause, .. } => disk_full(cause),
        other => {
            let mut source = std::error::Error::source(other);
            while let Some(cause) = source {
                if cause.downcast_ref::<std::io::Error>().is_some_and(full) {
                    return true;
                }
                source = cause.source();
            }
            false
        }
    }
}

/// For a 422 naming missing form fields (`body.image_35728: Field required`), the `-i`
/// options that add them.
fn missing_inputs(message: &str) -> Option<String> {
    let names: Vec<&str> = message
        .split(';')
        .filter(|part| part.contains("Field required"))
        .filter_map(|part| part.trim().strip_prefix("body."))
        .filter_map(|part| part.split(':').next())
        .collect();
    if names.is_empty() {
        return None;
    }
    let options: Vec<String> = names.iter().map(|n| format!("-i {n}=VALUE")).collect();
    Some(format!(
        "the workflow needs {}: add {} (a file as -i NAME=@FILE)",
        names.join(", "),
        options.join(" ")
    ))
}
