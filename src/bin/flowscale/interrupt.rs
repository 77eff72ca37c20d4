//! Ctrl-C, SIGTERM and SIGHUP (a CI cancel, `timeout`, `docker stop`, a closed ssh
//! session), cooperatively, alike. An upload that has not gone out whole is stopped: no
//! run can start from it, nothing is paid. A run whose submission went out whole may
//! already be paid for: the first signal lets that submission finish so that its run id is
//! printed (`run`) or recorded (`batch`) before the tool exits 130 with the line that
//! resumes it (and, with `--json`, the document that names the run). During a wait,
//! nothing is lost by leaving at once, so the first signal does. A second one always exits
//! at once.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use crate::exit::EXIT_INTERRUPTED;
use crate::output;

/// What the tool is doing, for the handler.
enum Phase {
    /// Nothing that a Ctrl-C could make lose: exit at once.
    Other,
    /// A submission is on the wire: stop its upload if it has not gone out whole (the flag
    /// the SDK watches), else let it finish.
    Submitting(Option<Arc<AtomicBool>>),
    /// A batch: stop it through its flag (no new submissions, waits end).
    Batch(Arc<AtomicBool>),
}

static PHASE: Mutex<Phase> = Mutex::new(Phase::Other);
static PRESSED: AtomicBool = AtomicBool::new(false);
/// How to resume what is under way, said on the way out.
static RESUME: Mutex<Option<String>> = Mutex::new(None);
/// The run under way, for the `--json` document on the way out.
static RUN_ID: Mutex<Option<String>> = Mutex::new(None);
/// Whether stdout takes one JSON document (`--json`).
static JSON: AtomicBool = AtomicBool::new(false);
static EVENTS: AtomicBool = AtomicBool::new(false);

/// Installs the handler; with `--json` the way out prints the error document, with
/// `--events` a `failed` event.
pub fn install(mode: crate::output::Mode) {
    JSON.store(mode == crate::output::Mode::Json, Ordering::SeqCst);
    EVENTS.store(mode == crate::output::Mode::Events, Ordering::SeqCst);
    let _ = ctrlc::set_handler(|| {
        if PRESSED.swap(true, Ordering::SeqCst) {
            leave();
        }
        match &*PHASE.lock().unwrap_or_else(PoisonError::into_inner) {
            Phase::Other => leave(),
            Phase::Submitting(stop) => {
                if let Some(stop) = stop {
                    stop.store(true, Ordering::SeqCst);
                    *RESUME.lock().unwrap_or_else(PoisonError::into_inner) = Some(
                        "the upload was stopped before its end: no run was started, nothing \
                         is paid for"
                            .to_owned(),
                    );
                }
                output::note(
                    "\ninterrupted: stopping the upload; if it had all gone out, its run may \
                     exist and its id is awaited, so that it is not lost (Ctrl-C again to quit \
                     at once)",
                )
            }
            Phase::Batch(stop) => {
                stop.store(true, Ordering::SeqCst);
                output::note(
                    "\ninterrupted: submitting nothing more; recording the submissions already \
                     sent (Ctrl-C again to quit at once)",
                );
            }
        }
    });
}

/// Exits 130 with the resume line.
fn leave() -> ! {
    match resume() {
        Some(resume) => output::note(format_args!("\ninterrupted: {resume}")),
        None => output::note("\ninterrupted"),
    }
    if EVENTS.load(Ordering::SeqCst) {
        let run_id = RUN_ID.lock().ok().and_then(|r| r.clone());
        output::event(
            "failed",
            serde_json::json!({"exit_code": EXIT_INTERRUPTED, "error": "interrupted",
                               "run_id": run_id}),
        );
    } else if JSON.load(Ordering::SeqCst) {
        let run_id = RUN_ID.lock().ok().and_then(|r| r.clone());
        let doc = serde_json::json!({
            "error": "interrupted",
            "run_id": run_id,
            "exit_code": EXIT_INTERRUPTED,
        });
        output::line(output::versioned(&doc));
    }
    std::process::exit(EXIT_INTERRUPTED);
}

/// A submission is about to be sent (`true`) or has been answered (`false`). Once it is
/// answered, a Ctrl-C pressed meanwhile ends the tool (the run id is printed by then).
pub fn submitting(on: bool) {
    *PHASE.lock().unwrap_or_else(PoisonError::into_inner) = if on {
        Phase::Submitting(None)
    } else {
        Phase::Other
    };
    if !on && pressed() {
        leave();
    }
}

/// A submission whose upload `stop` stops is about to be sent.
pub fn uploading(stop: Arc<AtomicBool>) {
    *PHASE.lock().unwrap_or_else(PoisonError::into_inner) = Phase::Submitting(Some(stop));
}

/// A batch runs: the first Ctrl-C sets `stop`.
pub fn batch(stop: Arc<AtomicBool>) {
    *PHASE.lock().unwrap_or_else(PoisonError::into_inner) = Phase::Batch(stop);
}

/// Whether Ctrl-C was pressed.
pub fn pressed() -> bool {
    PRESSED.load(Ordering::SeqCst)
}

/// Sets what the way out says, and the run under way if there is one.
pub fn set_resume(run_id: Option<&str>, hint: String) {
    *RESUME.lock().unwrap_or_else(PoisonError::into_inner) = Some(hint);
    *RUN_ID.lock().unwrap_or_else(PoisonError::into_inner) = run_id.map(str::to_owned);
}

/// Clears it: nothing is under way.
pub fn clear_resume() {
    *RESUME.lock().unwrap_or_else(PoisonError::into_inner) = None;
    *RUN_ID.lock().unwrap_or_else(PoisonError::into_inner) = None;
}

/// What the way out says.
pub fn resume() -> Option<String> {
    RESUME.lock().ok().and_then(|r| r.clone())
}

/// The run under way, if one is known (for a failure's `--json` document).
pub fn current_run() -> Option<String> {
    RUN_ID.lock().ok().and_then(|r| r.clone())
}
