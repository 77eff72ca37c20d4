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
    /// A submission was sent at this time (milliseconds since the epoch) and its answer
    /// never recorded: look for the run before submitting again (see `Client::run_batch`).
    Find(u64),
    /// The run of a lost submission, found among FlowScale's runs: record it, then attach.
    Found(String),
    /// A lost submission could not be found for sure (the runs could not be listed, a
    /// match is listed without its id or inputs, none is listed yet): send nothing, report
    /// the job [`Unknown`](JobStatus::Unknown) with why (the reason, in words) and since
    /// when (milliseconds since the epoch) to look.
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
    resubmit_unknown: bool,
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
        // A recorded run the pod said it does not know: submitted again only when asked.
        (JobStatus::Unknown, Some(_), _) if resubmit_unknown => Plan::Submit,
        (_, Some(run_id), _) => Plan::Attach(run_id.clone()),
        // In milliseconds when recorded so; older records have the second.
        (JobStatus::Submitted, None, _) => match (record.sent_ms, record.sent_at) {
            (Some(ms), _) => Plan::Find(ms),
            (None, Some(secs)) => Plan::Find(secs.saturating_mul(1000)),
            (None, None) => Plan::Submit,
        },
        _ => Plan::Submit,
    }
}

/// Seconds since the epoch as RFC 3339 (UTC, to the second), for messages.
pub(crate) fn rfc3339(secs: u64) -> String {
    crate::wire::error::rfc3339(crate::decide::submission::at(secs.saturating_mul(1000)))
}

/// Whether a submission's error is one every job of the batch would meet: the key refused,
/// or the workflow unknown to the pod (FlowScale refused the submission itself with 404).
/// The batch stops then, its other jobs not started.
pub(crate) fn every_job_meets(e: &Error, state: &crate::wire::submission::SubmissionState) -> bool {
    e.is_auth()
        || matches!(
            state,
            crate::wire::submission::SubmissionState::Refused { status: 404 }
        )
}

/// From when to look for the run of a submission sent at `sent_ms` (milliseconds since the
/// epoch, our clock): a minute earlier, for the pod's clock, as RFC 3339 (what every
/// message's `flowscale runs --since` takes; the exact rule is `decide::lost`'s).
pub(crate) fn look_since(sent_ms: u64) -> String {
    rfc3339((sent_ms / 1000).saturating_sub(60))
}

/// Whether a wait's error says the run itself failed (final), rather than that the wait
/// could not go on (the job stays submitted and is attached to next time).
pub(crate) fn run_failed(e: &Error) -> bool {
    matches!(e, Error::RunFailed { .. } | Error::RunTimedOut { .. })
}

/// How many pages of runs (newest first, 100 a page) are looked through for a lost
/// submission; past them, a run not found is a doubt, never a reason to submit again.
pub(crate) const LOST_SUBMISSION_PAGES: u32 = 10;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decide::record::{Fingerprint, MANIFEST_VERSION};

    fn record(status: JobStatus, run_id: Option<&str>, sent_at: Option<u64>) -> Record {
        Record {
            version: MANIFEST_VERSION,
            fingerprint: Fingerprint::from_hex("ab".repeat(32)),
            job: "job".to_owned(),
            run_id: run_id.map(str::to_owned),
            status,
            saved: Vec::new(),
            error: Some("why".to_owned()),
            sent_at,
            sent_ms: None,
            pod: None,
            line: 1,
        }
    }

    fn saved() -> Vec<SavedOutput> {
        vec![SavedOutput::new("out".to_owned(), "job/out.png".into(), 3)]
    }

    #[test]
    fn a_job_never_recorded_is_submitted() {
        assert_eq!(plan(None, None, false, false), Plan::Submit);
        assert_eq!(plan(None, None, true, true), Plan::Submit);
    }

    #[test]
    fn a_completed_job_is_reused_while_its_files_are_there_else_attached() {
        let done = record(JobStatus::Completed, Some("r1"), None);
        assert_eq!(
            plan(Some(&done), Some(saved()), false, false),
            Plan::Reuse(saved())
        );
        assert_eq!(
            plan(Some(&done), None, false, false),
            Plan::Attach("r1".to_owned())
        );
        // Completed, files gone and no run recorded: nothing to attach to, submit.
        let bare = record(JobStatus::Completed, None, None);
        assert_eq!(plan(Some(&bare), None, false, false), Plan::Submit);
    }

    #[test]
    fn a_failed_job_is_reported_unless_asked_to_retry() {
        let failed = record(JobStatus::Failed, Some("r2"), None);
        assert_eq!(
            plan(Some(&failed), None, false, false),
            Plan::ReportFailed(Some("r2".to_owned()), Some("why".to_owned()))
        );
        assert_eq!(plan(Some(&failed), None, true, false), Plan::Submit);
    }

    #[test]
    fn a_recorded_run_is_attached_to_never_submitted_again() {
        for status in [
            JobStatus::Submitted,
            JobStatus::NotStarted,
            JobStatus::Unknown,
        ] {
            let rec = record(status, Some("r3"), Some(5));
            assert_eq!(
                plan(Some(&rec), None, true, false),
                Plan::Attach("r3".to_owned()),
                "{status}"
            );
        }
    }

    #[test]
    fn a_recorded_run_the_pod_does_not_know_is_submitted_only_when_asked() {
        let gone = record(JobStatus::Unknown, Some("r4"), None);
        assert_eq!(
            plan(Some(&gone), None, false, false),
            Plan::Attach("r4".to_owned())
        );
        assert_eq!(plan(Some(&gone), None, false, true), Plan::Submit);
    }

    #[test]
    fn a_submission_sent_without_an_answer_is_looked_for_first() {
        let sent = record(JobStatus::Submitted, None, Some(1_000));
        assert_eq!(plan(Some(&sent), None, true, true), Plan::Find(1_000_000));
        let precise = Record {
            sent_ms: Some(1_000_250),
            ..record(JobStatus::Submitted, None, Some(1_000))
        };
        assert_eq!(
            plan(Some(&precise), None, true, true),
            Plan::Find(1_000_250)
        );
        // Recorded as about to be sent by an older version, without a time: submitted.
        let unsent = record(JobStatus::Submitted, None, None);
        assert_eq!(plan(Some(&unsent), None, false, false), Plan::Submit);
    }

    #[test]
    fn a_job_not_started_or_unknown_without_a_run_is_submitted() {
        for status in [JobStatus::NotStarted, JobStatus::Unknown] {
            let rec = record(status, None, None);
            assert_eq!(
                plan(Some(&rec), None, false, false),
                Plan::Submit,
                "{status}"
            );
        }
    }

    #[test]
    fn only_a_failed_run_ends_a_job_as_failed() {
        let failed = Error::RunFailed {
            run_id: "r".to_owned(),
            status: crate::wire::types::RunStatus::Failed,
        };
        assert!(run_failed(&failed));
        assert!(!run_failed(&Error::input("x", "y")));
    }

    #[test]
    fn a_refused_key_or_an_unknown_workflow_stops_the_batch() {
        use crate::wire::submission::SubmissionState;
        let api = |status| Error::Api {
            status,
            message: String::new(),
            body: String::new(),
            retry_after: None,
        };
        let refused = |status| SubmissionState::Refused { status };
        let not_sent = SubmissionState::NotSubmitted {
            reason: "the key was refused".to_owned(),
        };
        assert!(every_job_meets(&api(403), &not_sent));
        assert!(every_job_meets(&api(401), &not_sent));
        assert!(every_job_meets(&api(404), &refused(404)));
        // One job's own refusal (a bad input) is that job's.
        assert!(!every_job_meets(&api(422), &refused(422)));
        assert!(!every_job_meets(&api(500), &SubmissionState::Pending));
    }

    #[test]
    fn a_lost_run_is_looked_for_from_a_minute_before_its_send() {
        assert_eq!(look_since(120_999), "1970-01-01T00:01:00Z");
        assert_eq!(look_since(0), "1970-01-01T00:00:00Z");
    }

    #[test]
    fn times_past_what_rfc3339_writes_are_its_last_second() {
        assert_eq!(rfc3339(u64::MAX), "9999-12-31T23:59:59Z");
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
    }
}
