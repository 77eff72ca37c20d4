//! Writing to stdout and stderr as Unix tools do: a reader that stops reading (`| head`)
//! ends the tool quietly, with the status a shell shows for SIGPIPE, instead of a panic
//! ("failed printing to stdout"); a closed stderr is no reason to fail.

use std::fmt::Display;
use std::io::{self, Write};

/// The exit status of a process ended by SIGPIPE, as shells report it (128 + 13).
pub const EXIT_CLOSED_STDOUT: i32 = 141;

/// One line of results on stdout.
pub fn line(text: impl Display) {
    let mut out = io::stdout().lock();
    if let Err(e) = writeln!(out, "{text}").and_then(|()| out.flush()) {
        closed(e);
    }
}

/// One line on stderr; nothing if stderr is gone.
pub fn note(text: impl Display) {
    let _ = writeln!(io::stderr().lock(), "{text}");
}

/// A `warning:` line on stderr.
pub fn warn(text: impl Display) {
    note(format_args!("warning: {text}"));
}

/// Stdout failed: a closed pipe ends the tool quietly; anything else is said on stderr.
fn closed(e: io::Error) -> ! {
    if e.kind() != io::ErrorKind::BrokenPipe {
        note(format_args!("error: cannot write to stdout: {e}"));
    }
    std::process::exit(EXIT_CLOSED_STDOUT);
}
