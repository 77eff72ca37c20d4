//! Ctrl-C, SIGTERM and SIGHUP (a CI cancel, `timeout`, `docker stop`, a closed ssh
//! session), cooperatively, alike. What the way out says about a run comes from the
//! submission's state (`flowscale::SubmissionHandle`), never from a guess: an upload that
//! has not gone out whole is stopped, and then no run can start and nothing is paid; a
//! request that went out whole may have started a run, so the tool looks for it among the
//! pod's runs and leaves with it (exit 130 and the line that resumes it) or with the runs
//! that may be it and the `runs --since` line (exit 5, "a run may exist"), never "nothing
//! is paid". A batch stops its uploads in flight the same way and records the rest.
//! During a wait, nothing is lost by leaving at once, so the first signal does. A second
//! one always exits at once, with what is known then.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use flowscale::{Client, Paid, SubmissionHandle, SubmissionState};

use crate::exit::{EXIT_INTERRUPTED, EXIT_UNCONFIRMED};
use crate::output;

/// What the tool is doing, for the handler.
enum Phase {
    /// Nothing that a Ctrl-C could make lose: exit at once.
    Other,
    /// A submission is on the wire: stop its upload if it has not gone out whole, else
    /// look for its run (with this client) and leave with what is found.
    Submitting(SubmissionHandle, Client),
    /// A batch: stop it through its flag (no new submissions, waits end).
    Batch(Arc<AtomicBool>),
}

static PHASE: Mutex<Phase> = Mutex::new(Phase::Other);
/// The last submission of this process: what the way out says about its run.
static SUBMISSION: Mutex<Option<SubmissionHandle>> = Mutex::new(None);
/// What stops the bars from drawing over the notes a signal prints.
type Silence = Box<dyn Fn() + Send>;
static SILENCE: Mutex<Option<Silence>> = Mutex::new(None);

/// `silence` is called before a signal's first note (the bars stop drawing).
pub fn silence_with(silence: impl Fn() + Send + 'static) {
    *SILENCE.lock().unwrap_or_else(PoisonError::into_inner) = Some(Box::new(silence));
}

/// The line that resumes a run of that submission, from its id.
type ResumeLine = Box<dyn Fn(&str) -> String + Send>;
static RESUME_LINE: Mutex<Option<ResumeLine>> = Mutex::new(None);
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
        if let Some(silence) = &*SILENCE.lock().unwrap_or_else(PoisonError::into_inner) {
            silence();
        }
        if PRESSED.swap(true, Ordering::SeqCst) {
            leave();
        }
        match &*PHASE.lock().unwrap_or_else(PoisonError::into_inner) {
            Phase::Other => leave(),
            Phase::Submitting(handle, client) => {
                handle.stop();
                match handle.state().paid() {
                    // Whether the stop came in time is said on the way out, from the state.
                    Paid::No => output::note(
                        "\ninterrupted: stopping the upload before its end (Ctrl-C again to \
                         quit at once)",
                    ),
                    Paid::Maybe => {
                        output::note(
                            "\ninterrupted: the request had gone out whole, so a run may exist: \
                             waiting 3 s for its answer, then looking for it among the pod's \
                             runs (Ctrl-C again to quit at once)",
                        );
                        // Off the handler's thread, so that a second signal still leaves.
                        let (handle, client) = (handle.clone(), client.clone());
                        std::thread::spawn(move || look_for_the_run(&handle, &client));
                    }
                    // Answered: its id is printed, then the tool leaves.
                    Paid::Yes => {}
                }
            }
            Phase::Batch(stop) => {
                stop.store(true, Ordering::SeqCst);
                output::note(
                    "\ninterrupted: submitting nothing more and stopping the uploads not yet \
                     out whole (no run starts from them); recording the submissions already \
                     answered (Ctrl-C again to quit at once)",
                );
            }
        }
    });
}

/// How long a request that went out whole is given to be answered after a signal, before
/// its run is looked for among the pod's runs.
const ANSWER_GRACE: std::time::Duration = std::time::Duration::from_secs(3);

/// After a signal, for a request that went out whole: its answer is given a moment (the
/// main thread prints the run and leaves when it comes); then the run is looked for, and
/// the tool leaves with what is known.
fn look_for_the_run(handle: &SubmissionHandle, client: &Client) {
    let start = std::time::Instant::now();
    while start.elapsed() < ANSWER_GRACE {
        if handle.state().paid() != Paid::Maybe {
            // Answered (or settled): the main thread says it.
            return;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    let found = client.locate_run(handle);
    if found.run_id().is_some() {
        // Answered meanwhile: the main thread says it.
        return;
    }
    leave_with(Some(found));
}

/// Whether the tool is on its way out: the first thread to leave says it, alone.
static LEAVING: AtomicBool = AtomicBool::new(false);

/// Leaves with what the last submission's state says.
fn leave() -> ! {
    let state = SUBMISSION
        .lock()
        .ok()
        .and_then(|h| h.as_ref().map(SubmissionHandle::state));
    leave_with(state)
}

/// Leaves with what `state` (the last submission's, if any) says: a run that may exist
/// exits 5 with the line that looks for it; otherwise 130 with the resume line.
fn leave_with(state: Option<SubmissionState>) -> ! {
    if LEAVING.swap(true, Ordering::SeqCst) {
        // Another thread is saying how the tool ends, and exits.
        loop {
            std::thread::park();
        }
    }
    if let Some(state) = state.as_ref().filter(|s| s.paid() == Paid::Maybe) {
        unconfirmed(state);
    }
    if let Some(state) = &state
        && let Some(run_id) = state.run_id()
        && resume().is_none()
    {
        // Found by the look after the signal: its id first, on stdout, as a run's is.
        if !JSON.load(Ordering::SeqCst) && !EVENTS.load(Ordering::SeqCst) {
            output::line(run_id);
        }
        let line = RESUME_LINE
            .lock()
            .ok()
            .and_then(|l| l.as_ref().map(|l| l(run_id)))
            .unwrap_or_else(|| format!("flowscale wait {run_id}"));
        set_resume(Some(run_id), format!("{state}; resume with: {line}"));
    }
    let resume = resume().or_else(|| state.map(|s| s.to_string()));
    match &resume {
        Some(resume) => output::note(format_args!("\ninterrupted: {resume}")),
        None => output::note("\ninterrupted"),
    }
    let run_id = current_run();
    if EVENTS.load(Ordering::SeqCst) {
        output::event(
            "failed",
            serde_json::json!({"exit_code": EXIT_INTERRUPTED, "error": "interrupted",
                               "run_id": run_id}),
        );
    } else if JSON.load(Ordering::SeqCst) {
        let doc = serde_json::json!({
            "error": "interrupted",
            "run_id": run_id,
            "exit_code": EXIT_INTERRUPTED,
        });
        output::line(output::versioned(&doc));
    }
    std::process::exit(EXIT_INTERRUPTED);
}

/// Leaves with exit 5: the request went out whole and its run is not known.
fn unconfirmed(state: &SubmissionState) -> ! {
    let candidates = match state {
        SubmissionState::Doubt { candidates, .. } => candidates.clone(),
        _ => Vec::new(),
    };
    // A minute before the send, for the pod's clock: as every lost answer's hint says it.
    let since = state
        .sent_at()
        .map(|t| crate::exit::minute_before(&humantime::format_rfc3339_seconds(t).to_string()));
    let look = match &since {
        Some(since) => format!("flowscale runs --since {since}"),
        None => "flowscale runs --since 1h".to_owned(),
    };
    let hint = match candidates.as_slice() {
        [] => format!(
            "look for it before submitting again: `{look}` (the same workflow and inputs); if it \
             is there, `flowscale wait RUN_ID` saves its outputs"
        ),
        some => format!(
            "it may be {}: check with `flowscale get RUN_ID` or `{look}`, then `flowscale wait \
             RUN_ID` saves its outputs",
            some.join(", ")
        ),
    };
    output::note(format_args!("\ninterrupted: {state}"));
    output::hint(&hint);
    let doc = serde_json::json!({
        "error": format!("interrupted: {state}"),
        "run_id": null,
        "candidates": candidates,
        "since": since,
        "hint": hint,
        "exit_code": EXIT_UNCONFIRMED,
    });
    if EVENTS.load(Ordering::SeqCst) {
        output::event("failed", doc);
    } else if JSON.load(Ordering::SeqCst) {
        output::line(output::versioned(&doc));
    }
    std::process::exit(EXIT_UNCONFIRMED);
}

/// The submission has been answered (or has failed): a Ctrl-C pressed meanwhile ends the
/// tool now (the run id is printed by then).
pub fn answered() {
    *PHASE.lock().unwrap_or_else(PoisonError::into_inner) = Phase::Other;
    if pressed() {
        leave();
    }
}

/// A submission watched by `handle` is about to be sent by `client`; `resume` makes the
/// line that resumes its run from the run's id.
pub fn uploading(
    handle: &SubmissionHandle,
    client: &Client,
    resume: impl Fn(&str) -> String + Send + 'static,
) {
    *SUBMISSION.lock().unwrap_or_else(PoisonError::into_inner) = Some(handle.clone());
    *RESUME_LINE.lock().unwrap_or_else(PoisonError::into_inner) = Some(Box::new(resume));
    *PHASE.lock().unwrap_or_else(PoisonError::into_inner) =
        Phase::Submitting(handle.clone(), client.clone());
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
