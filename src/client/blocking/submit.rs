//! Sending a submission (blocking client): on the calling thread. A blocking call cannot
//! be dropped half way, so there is no orphaned run to hand anyone.

use super::Client;
use super::api::Submission;
use crate::wire::error::Result;
use crate::wire::types::Execution;

impl Client {
    /// Sends a prepared submission and reads its answer (see `deliver`).
    pub(super) fn send_submission(&self, submission: Submission) -> Result<Execution> {
        self.deliver(submission)
    }
}

/// Nothing to watch in the blocking client: a blocking wait cannot be dropped half way.
pub(crate) struct RunGuard;

impl RunGuard {
    /// The caller heard of the run.
    pub fn disarm(self) {}
}

impl Client {
    /// A guard for a run whose caller now waits for it (see the async client's).
    pub(super) fn watch_run(&self, _run: &Execution, _group_id: Option<String>) -> RunGuard {
        RunGuard
    }
}
