//! What a batch job needs on this run, decided from what the manifest recorded: reuse,
//! report, attach, look for a lost submission, or submit; and how a wait's error ends a
//! job. What a submission's own error means is `decide::submission`'s, and whether a run
//! is a lost submission's is `decide::lost`'s. No I/O: the loop in
//! `src/client/batch_runner.rs` acts on the answers.

use crate::decide::record::{JobStatus, Record, SavedOutput};
use crate::wire::error::Error;

/// What a job needs on this run of the batch, from the last record of its key.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Plan {
    /// Done before, outputs still on disk: report it, send nothing.
    Reuse(Vec<SavedOutput>),
    /// Failed before and not to be retried: report it, send nothing.
    ReportFailed(Option<String>, Option<String>),
    /// Submitted before: wait for that run (never submit again).
    Attach(String),
    /// A submission was sent at this time (seconds since the epoch) and its answer never
    /// recorded: look for the run before submitting again (see `Client::run_batch`).
    Find(u64),
    /// The run of a lost submission, found among FlowScale's runs: record it, then attach.
    Found(String),
    /// A lost submission could not be found for sure (the runs could not be listed, a
    /// match is listed without its id or inputs, none is listed yet): send nothing, report
    /// the job [`Unknown`](JobStatus::Unknown) with why (the reason, in words) and since
    /// when (seconds since the epoch) to look.
    Unresolved(String, u64),
    /// Never submitted, or to be retried: submit.
    Submit,
}

/// Decides a job's plan from its last record and `on_disk`, the record's saved files when
/// every one of them is still there (see `files::manifest::on_disk`). The rule that
/// matters: a recorded run id that did not end in a failed run is always attached to,
/// never submitted again, and a submission whose answer was lost is looked for first.
pub(crate) fn plan(
    last: Option<&Record>,
    on_disk: Option<Vec<SavedOutput>>,
    retry_failed: bool,
) -> Plan {
    let Some(record) = last else {
        return Plan::Submit;
    };
    match (record.status, &record.run_id, on_disk) {
        (JobStatus::Completed, _, Some(saved)) => Plan::Reuse(saved),
        // Completed, but a file went missing: its run still has the links.
        (JobStatus::Completed, Some(run_id), None) => Plan::Attach(run_id.clone()),
        (JobStatus::Failed, _, _) if !retry_failed => {
            Plan::ReportFailed(record.run_id.clone(), record.error.clone())
        }
        (JobStatus::Failed, _, _) => Plan::Submit,
        (_, Some(run_id), _) => Plan::Attach(run_id.clone()),
        (JobStatus::Submitted, None, _) => match record.sent_at {
            Some(at) => Plan::Find(at),
            None => Plan::Submit,
        },
        _ => Plan::Submit,
    }
}

/// Seconds since the epoch as RFC 3339 (UTC, to the second), for messages.
pub(crate) fn rfc3339(secs: u64) -> String {
    crate::wire::submission::rfc3339(crate::decide::submission::at(secs))
}

/// Whether a wait's error says the run itself failed (final), rather than that the wait
/// could not go on (the job stays submitted and is attached to next time).
pub(crate) fn run_failed(e: &Error) -> bool {
    matches!(e, Error::RunFailed { .. } | Error::RunTimedOut { .. })
}

/// How many pages of runs (newest first, 100 a page) are looked through for a lost
/// submission; past them, a run not found is a doubt, never a reason to submit again.
pub(crate) const LOST_SUBMISSION_PAGES: u32 = 10;
