//! What a batch job needs on this run, decided from what the manifest recorded: reuse,
//! report, attach, look for a lost submission, or submit; how a submission's error and a
//! wait's error end a job; and whether a run FlowScale lists may be a lost submission's.
//! No I/O: the loop in `src/client/batch_runner.rs` acts on the answers.

use crate::decide::record::{JobStatus, Record, SavedOutput};
use crate::wire::error::Error;
use crate::wire::types::Run;

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

/// How a submission that returned an error ended, for the job's record.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum SubmitError {
    /// Nothing was accepted (a refused key, 429, no connection, a missing file, an input
    /// refused before sending): not started, submitted on the next run.
    NotAccepted,
    /// FlowScale refused the request itself (422, another 4xx): failed.
    Refused,
    /// The request may have reached FlowScale and started a run (a connection cut after
    /// sending, a 5xx, an answer that could not be read): the next run looks for it.
    Unknown,
}

/// Classifies a submission's error: only errors that prove no run was started may lead
/// to a second submission.
pub(crate) fn submit_error(e: &Error) -> SubmitError {
    use crate::wire::failure::TransportErrorKind as K;
    match e {
        // Raised before the request (a missing file, a refused input, a bad setting): or
        // while the body was still going out, which no server takes as a submission.
        Error::Input { .. } | Error::Io { .. } | Error::Config { .. } | Error::Busy { .. } => {
            SubmitError::NotAccepted
        }
        Error::Api {
            status: 401 | 403 | 429,
            ..
        } => SubmitError::NotAccepted,
        Error::Api { status, .. } if *status < 500 && *status != 408 => SubmitError::Refused,
        Error::Transport {
            kind: K::ConnectionRefused | K::Dns | K::Connect | K::ConnectTimeout | K::Tls { .. },
            ..
        } => SubmitError::NotAccepted,
        _ => SubmitError::Unknown,
    }
}

/// What the runs FlowScale lists say of a submission whose answer was lost.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum LostMatch {
    /// Its run, for certain: the same workflow and inputs, created since it was sent, listed
    /// with its id, and no other job's.
    Found(String),
    /// A run that may be its own is listed, but not so that it can be attached to for
    /// certain (without its id, or without its inputs); or the list does not reach back to
    /// when it was sent. The reason, in words.
    Doubt(String),
    /// The list reaches back past when it was sent and holds no run that may be its own.
    /// Still no proof: FlowScale may list a run late (its request was still being handled).
    NotListed,
}

/// Matches a lost submission (sent at `sent_at`, with `fields`) against the runs listed,
/// oldest first, leaving out the runs in `taken` (recorded by other jobs, or found for
/// them). `reached_back`: whether the list goes back past `sent_at` less the clock slack.
pub(crate) fn match_lost(
    listed: &[Run],
    workflow_id: &str,
    fields: &[(String, String)],
    sent_at: u64,
    taken: &std::collections::HashSet<String>,
    reached_back: bool,
) -> LostMatch {
    let floor = sent_at.saturating_sub(LOST_SUBMISSION_SLACK_SECS);
    let mut doubt = None;
    for run in listed
        .iter()
        .filter(|r| may_be_lost_submission(r, workflow_id, fields, floor))
    {
        match &run.id {
            Some(id) if taken.contains(id) => {}
            Some(id) if !run.inputs.is_empty() || fields.is_empty() => {
                return LostMatch::Found(id.clone());
            }
            Some(id) => {
                doubt.get_or_insert_with(|| {
                    format!("run {id} may be its own, but FlowScale lists it without its inputs")
                });
            }
            None => {
                doubt.get_or_insert_with(|| {
                    "FlowScale lists a run that may be its own without its id, so it cannot be \
                     attached to"
                        .to_owned()
                });
            }
        }
    }
    match doubt {
        Some(reason) => LostMatch::Doubt(reason),
        None if !reached_back => LostMatch::Doubt(format!(
            "the newest {} runs FlowScale lists do not reach back to when it was sent",
            u64::from(LOST_SUBMISSION_PAGES) * u64::from(crate::wire::query::MAX_PAGE_SIZE)
        )),
        None => LostMatch::NotListed,
    }
}

/// Seconds since the epoch as RFC 3339 (UTC, to the second), for messages.
pub(crate) fn rfc3339(secs: u64) -> String {
    let at = std::time::UNIX_EPOCH + std::time::Duration::from_secs(secs);
    humantime::format_rfc3339_seconds(at).to_string()
}

/// Whether a wait's error says the run itself failed (final), rather than that the wait
/// could not go on (the job stays submitted and is attached to next time).
pub(crate) fn run_failed(e: &Error) -> bool {
    matches!(e, Error::RunFailed { .. } | Error::RunTimedOut { .. })
}

/// How far before a lost submission's recorded send time its run may have been created
/// (clocks differ between this machine and FlowScale's).
pub(crate) const LOST_SUBMISSION_SLACK_SECS: u64 = 300;

/// How many pages of runs (newest first, 100 a page) are looked through for a lost
/// submission; past them, a run not found is a doubt, never a reason to submit again.
pub(crate) const LOST_SUBMISSION_PAGES: u32 = 10;

/// Whether a run FlowScale lists can be the run of a submission whose answer was lost:
/// the same workflow, created no earlier than `floor` (seconds since the epoch), with the
/// inputs as sent (when the server lists them; a run with no inputs listed is matched by
/// workflow and time alone). Jobs with identical inputs are interchangeable, so a match by
/// inputs never gives one job another's work.
pub(crate) fn may_be_lost_submission(
    run: &Run,
    workflow_id: &str,
    fields: &[(String, String)],
    floor: u64,
) -> bool {
    if run.workflow_id.as_deref().is_some_and(|w| w != workflow_id) {
        return false;
    }
    if created_secs(run).is_some_and(|t| t < floor) {
        return false;
    }
    run.inputs.is_empty()
        || fields.iter().all(|(name, value)| {
            run.inputs.iter().any(|i| {
                i.path == *name
                    && match &i.value {
                        serde_json::Value::String(s) => s == value,
                        // A server that stores `7` as a number.
                        other => serde_json::from_str::<serde_json::Value>(value)
                            .is_ok_and(|v| v == *other),
                    }
            })
        })
}

/// When a run was created, in seconds since the epoch, when the server says in a form
/// RFC 3339 covers.
pub(crate) fn created_secs(run: &Run) -> Option<u64> {
    let at = humantime::parse_rfc3339_weak(run.created_at.as_deref()?).ok()?;
    Some(at.duration_since(std::time::UNIX_EPOCH).ok()?.as_secs())
}
