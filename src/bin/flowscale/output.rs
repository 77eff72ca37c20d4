//! Results on stdout (lines for people or scripts, or one JSON document), notes on
//! stderr, written as Unix tools do: a reader that stops reading (`| head`)
//! ends the tool quietly, with the status a shell shows for SIGPIPE, instead of a panic
//! ("failed printing to stdout"); a closed stderr is no reason to fail. A command with a
//! paid run at stake does not stop: it finishes its work (saving the outputs), writes its
//! results to stderr, and exits with that status at the end.

use std::fmt::Display;
use std::io::{self, Write};
use std::sync::atomic::{AtomicBool, Ordering};

use crate::exit::Failure;

/// The exit status of a process ended by SIGPIPE, as shells report it (128 + 13).
pub const EXIT_CLOSED_STDOUT: i32 = 141;

/// Whether a closed stdout must not stop the tool: a command with a paid run at stake
/// (`run`, `wait`, `download`, `batch`) saves its outputs all the same.
static KEEP_GOING: AtomicBool = AtomicBool::new(false);
/// Whether stdout was found closed while the tool kept going.
static CLOSED: AtomicBool = AtomicBool::new(false);

/// From now on a closed stdout does not end the tool: its results go to stderr instead,
/// and the tool exits [`EXIT_CLOSED_STDOUT`] once its work is done (see [`finished`]).
pub fn keep_going_if_closed() {
    KEEP_GOING.store(true, Ordering::SeqCst);
}

/// Whether stdout was closed while the tool kept going: the work is done, and the exit
/// status says the results did not reach stdout.
pub fn stdout_was_closed() -> bool {
    CLOSED.load(Ordering::SeqCst)
}

/// One line of results on stdout (on stderr once stdout is closed, for a tool that keeps
/// going).
pub fn line(text: impl Display) {
    if CLOSED.load(Ordering::SeqCst) {
        note(text);
        return;
    }
    let mut out = io::stdout().lock();
    if let Err(e) = writeln!(out, "{text}").and_then(|()| out.flush()) {
        drop(out);
        if e.kind() == io::ErrorKind::BrokenPipe && KEEP_GOING.load(Ordering::SeqCst) {
            CLOSED.store(true, Ordering::SeqCst);
            note("warning: stdout was closed: going on, with the results on stderr");
            note(text);
            return;
        }
        closed(e);
    }
}

/// One line on stderr; nothing if stderr is gone.
pub fn note(text: impl Display) {
    let _ = writeln!(io::stderr().lock(), "{text}");
}

/// A `warning:` line on stderr.
pub fn warn(text: impl Display) {
    note(format_args!("{} {text}", paint("warning:", YELLOW)));
}

/// An `error:` line on stderr.
pub fn error(text: impl Display) {
    note(format_args!("{} {text}", paint("error:", RED)));
}

/// A `hint:` line on stderr.
pub fn hint(text: impl Display) {
    note(format_args!("{} {text}", paint("hint:", CYAN)));
}

const RED: &str = "\x1b[1;31m";
const YELLOW: &str = "\x1b[1;33m";
const CYAN: &str = "\x1b[1;36m";

/// Whether the terminal says it understands no escape codes (`TERM=dumb`: an editor's
/// shell buffer, a CI log viewer): no colour, no bars redrawn in place.
pub fn dumb_terminal() -> bool {
    std::env::var_os("TERM").is_some_and(|t| t == "dumb")
}

/// `label` in `colour` when stderr is a terminal (or `CLICOLOR_FORCE` is set), as gh and
/// cargo do; never when `NO_COLOR` is set (no-color.org), `CLICOLOR=0` or `TERM=dumb`.
fn paint(label: &str, colour: &str) -> String {
    let set = |name: &str| std::env::var_os(name).is_some_and(|v| !v.is_empty() && v != "0");
    let never = set("NO_COLOR")
        || std::env::var_os("CLICOLOR").is_some_and(|v| v == "0")
        || dumb_terminal();
    let coloured = !never && (set("CLICOLOR_FORCE") || io::IsTerminal::is_terminal(&io::stderr()));
    match coloured {
        true => format!("{colour}{label}\x1b[0m"),
        false => label.to_owned(),
    }
}

/// Stdout failed: a closed pipe ends the tool quietly; anything else is said on stderr.
fn closed(e: io::Error) -> ! {
    if e.kind() != io::ErrorKind::BrokenPipe {
        note(format_args!("error: cannot write to stdout: {e}"));
    }
    std::process::exit(EXIT_CLOSED_STDOUT);
}

/// How results are printed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    Human,
    Quiet,
    Json,
    /// `--events`: a JSON object per line as things happen, the result as the last one.
    Events,
}

/// One `--events` line: `kind` and `fields`, with the version and the time (RFC 3339, UTC).
pub fn event(kind: &str, fields: serde_json::Value) {
    let mut event = serde_json::Map::new();
    event.insert("version".into(), JSON_VERSION.into());
    event.insert("event".into(), kind.into());
    let now = humantime::format_rfc3339_millis(std::time::SystemTime::now()).to_string();
    event.insert("time".into(), now.into());
    if let serde_json::Value::Object(fields) = fields {
        event.extend(fields);
    }
    line(serde_json::Value::Object(event));
}

/// The version every `--json` document carries: it changes when a field is renamed,
/// removed or changes its meaning, not when one is added.
pub const JSON_VERSION: u32 = 1;

/// A `--json` document with its `"version"`. Every document is an object; anything else is
/// put under `"items"` (no command emits one).
pub fn versioned(doc: &impl serde::Serialize) -> serde_json::Value {
    let value = serde_json::to_value(doc).unwrap_or(serde_json::Value::Null);
    let mut object = match value {
        serde_json::Value::Object(object) => object,
        other => serde_json::Map::from_iter([("items".to_owned(), other)]),
    };
    object.insert("version".to_owned(), JSON_VERSION.into());
    serde_json::Value::Object(object)
}

/// Prints a result: one JSON document (with its version), or lines.
pub fn emit<T: serde::Serialize>(
    mode: Mode,
    doc: &T,
    lines: impl FnOnce() -> Vec<String>,
) -> Result<(), Failure> {
    match mode {
        Mode::Json => match serde_json::to_string_pretty(&versioned(doc)) {
            Ok(text) => line(text),
            Err(e) => {
                return Err(Failure {
                    message: format!("the result could not be written as JSON: {e}"),
                    hint: None,
                    run_id: None,
                    code: crate::exit::EXIT_FAILED,
                    result_printed: false,
                    status: None,
                });
            }
        },
        // The result is the last event: what `--json` would have printed, as `result`.
        Mode::Events => {
            let mut fields = serde_json::Map::new();
            fields.insert("exit_code".into(), 0.into());
            fields.insert("result".into(), versioned(doc));
            event("finished", serde_json::Value::Object(fields));
        }
        Mode::Human | Mode::Quiet => {
            for text in lines() {
                line(text);
            }
        }
    }
    Ok(())
}

/// One output in every document's one shape: `name`, `download_url` (null when the command
/// did not ask for the link), `path` and `bytes` (null when it was not saved).
pub fn output_doc(
    name: &str,
    download_url: Option<&str>,
    saved: Option<&flowscale::SavedOutput>,
) -> serde_json::Value {
    serde_json::json!({
        "name": name,
        "download_url": download_url,
        "path": saved.map(|s| s.path.display().to_string()),
        "bytes": saved.map(|s| s.bytes),
    })
}

/// Saved files as `outputs`, in the one shape.
pub fn outputs_doc(saved: &[flowscale::SavedOutput]) -> serde_json::Value {
    saved
        .iter()
        .map(|s| output_doc(&s.name, None, Some(s)))
        .collect()
}
