//! `--events`: one JSON object per line on stdout as things happen, for another program to
//! follow a run or a batch. Every event has `"version"`, `"event"`, `"time"` (RFC 3339,
//! UTC) and the run id or job name it is about; the CLI guide (`flowscale::guide::cli`) lists them.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use flowscale::types::Transfer;
use flowscale::{BatchEvent, Progress, RunEvent, SavedOutput};
use serde_json::json;

/// Download progress is told at most this often per file (and always at its end).
const PROGRESS_GAP: Duration = Duration::from_millis(250);

/// When each file's progress was last told.
static TOLD: Mutex<Option<HashMap<String, Instant>>> = Mutex::new(None);

use crate::output::event as emit;

/// A wait's event: `recovered` (a lost answer's run found, and why it is the submission's),
/// `submitted`, `status`, `outputs_known`, `output_ready`, `retrying`.
pub fn run_event(event: &RunEvent) {
    match event {
        RunEvent::Submitted { run_id } => emit("submitted", json!({"run_id": run_id})),
        RunEvent::Recovered { run_id, why } => {
            emit("recovered", json!({"run_id": run_id, "why": why}))
        }
        RunEvent::StatusChanged { run_id, status } => {
            emit("status", json!({"run_id": run_id, "status": status}))
        }
        RunEvent::OutputNamesKnown { run_id, names } => {
            emit("outputs_known", json!({"run_id": run_id, "names": names}))
        }
        RunEvent::OutputReady { run_id, name, .. } => {
            emit("output_ready", json!({"run_id": run_id, "name": name}))
        }
        RunEvent::Retrying {
            run_id,
            attempt,
            error,
            delay,
        } => emit(
            "retrying",
            json!({"run_id": run_id, "attempt": attempt, "error": error,
                   "delay_ms": delay.as_millis() as u64}),
        ),
        _ => {}
    }
}

/// A download's progress (`download_progress`), at most every 250 ms per file and always
/// when it completes.
pub fn progress(run_id: Option<&str>, p: &Progress) {
    let Transfer::Download { name, .. } = &p.transfer else {
        return;
    };
    let now = Instant::now();
    {
        let mut told = TOLD.lock().unwrap_or_else(|e| e.into_inner());
        let told = told.get_or_insert_with(HashMap::new);
        let recent = told
            .get(name)
            .is_some_and(|at| now.duration_since(*at) < PROGRESS_GAP);
        if recent && !p.is_complete() {
            return;
        }
        told.insert(name.clone(), now);
    }
    emit(
        "download_progress",
        json!({"run_id": run_id, "name": name, "done": p.done, "total": p.total}),
    );
}

/// A file saved (`saved`), as soon as it has its final name.
pub fn saved(run_id: Option<&str>, file: &SavedOutput) {
    emit("saved", saved_doc(None, run_id, file));
}

/// A `saved` event's fields: the job (a batch's), the run, the file.
fn saved_doc(job: Option<&str>, run_id: Option<&str>, file: &SavedOutput) -> serde_json::Value {
    json!({"job": job, "run_id": run_id, "name": file.name,
           "path": file.path.display().to_string(), "bytes": file.bytes})
}

/// A batch's event: `planned` (how many jobs are new), `submitted` and `attached` (with the
/// job), `job_finished`, `warning`.
pub fn batch_event(event: &BatchEvent) {
    match event {
        BatchEvent::Submitted { job, run_id, .. } => {
            emit("submitted", json!({"job": job, "run_id": run_id}))
        }
        BatchEvent::Attached { job, run_id, .. } => {
            emit("attached", json!({"job": job, "run_id": run_id}))
        }
        BatchEvent::Finished { outcome, .. } => emit(
            "job_finished",
            json!({"job": outcome.name, "run_id": outcome.run_id, "status": outcome.status,
                   "outputs": crate::output::outputs_doc(&outcome.saved),
                   "error": outcome.error, "reused": outcome.reused}),
        ),
        BatchEvent::DirectoryBusy { holder } => emit(
            "waiting",
            json!({"message": event.to_string(), "holder": holder}),
        ),
        BatchEvent::SkippedLine { .. } => emit("warning", json!({"message": event.to_string()})),
        BatchEvent::Saved {
            job,
            run_id,
            output,
        } => emit("saved", saved_doc(Some(job), Some(run_id), output)),
        BatchEvent::Planned {
            new,
            recorded,
            unmatched,
        } => emit(
            "planned",
            json!({"new": new, "recorded": recorded, "unmatched": unmatched,
                   "message": event.to_string()}),
        ),
        _ => {}
    }
}
