//! Sending a submission (async client), cancel-safe: the request runs on a task of its own,
//! on the runtime it was called on, so that dropping the caller's future (an axum handler
//! whose client disconnected, a `select!` that took another branch, a timeout) never drops
//! a request that may already have started a paid run. The task finishes the request and,
//! when nobody is left to hear the answer, hands the run to the `on_orphaned_run` hook and
//! to a `tracing` event. Dropped before the request began, it sends nothing.

use std::sync::atomic::Ordering;

use super::api::Submission;
use super::{Client, ClientBuilder};
use crate::wire::error::{Error, Result};
use crate::wire::types::Execution;

/// Marks the submission dropped when the caller's future goes away first.
struct DropGuard {
    dropped: std::sync::Arc<std::sync::atomic::AtomicBool>,
    armed: bool,
}

impl Drop for DropGuard {
    fn drop(&mut self) {
        if self.armed {
            self.dropped.store(true, Ordering::SeqCst);
        }
    }
}

impl Client {
    /// Sends a prepared submission and reads its answer (see `deliver`), on a task of its
    /// own that outlives the caller's future.
    pub(super) async fn send_submission(&self, submission: Submission) -> Result<Execution> {
        let mut guard = DropGuard {
            dropped: submission.flags.stop.clone(),
            armed: true,
        };
        let (answer, heard) = tokio::sync::oneshot::channel();
        let client = self.clone();
        tokio::spawn(async move {
            let outcome = client.deliver(submission).await;
            if let Err(unheard) = answer.send(outcome) {
                client.orphaned(unheard);
            }
        });
        let outcome = heard.await.unwrap_or_else(|_| {
            Err(Error::config(
                "the task sending the submission ended without an answer (the runtime is \
                 shutting down?): a run may have started",
            ))
        });
        // Heard: the caller's future is no longer needed to finish anything.
        guard.armed = false;
        outcome
    }

    /// A submission whose caller went away: its run, if one was started, goes to the hook.
    fn orphaned(&self, outcome: Result<Execution>) {
        crate::trace::orphaned_run(&outcome);
        if let (Ok(run), Some(hook)) = (&outcome, &self.settings.on_orphaned_run) {
            (hook.0)(run);
        }
    }
}

/// A run whose caller waits for it (`execute_workflow_and_wait`): if the caller's future is
/// dropped before the wait ends, the run goes to the `on_orphaned_run` hook, as a dropped
/// submission's does.
pub(crate) struct RunGuard {
    armed: Option<(Client, Execution)>,
}

impl RunGuard {
    /// The caller heard of the run (the wait ended, one way or another).
    pub fn disarm(mut self) {
        self.armed = None;
    }
}

impl Drop for RunGuard {
    fn drop(&mut self) {
        if let Some((client, run)) = self.armed.take() {
            client.orphaned(Ok(run));
        }
    }
}

impl Client {
    /// A guard that hands `run` to the hook if the caller goes away before disarming it.
    pub(super) fn watch_run(&self, run: &Execution) -> RunGuard {
        RunGuard {
            armed: Some((self.clone(), run.clone())),
        }
    }
}

impl ClientBuilder {
    /// Calls `hook` with every run whose caller went away before its answer came: a future
    /// of `execute_workflow*` dropped while the request was on the wire (an axum handler
    /// whose client disconnected, a `select!` or `timeout` that moved on). The SDK finishes
    /// such a request on a task of its own and hands the run here, and to a `tracing`
    /// event, so that no paid run goes unheard of. Called on a runtime worker: keep it
    /// short (record the id, send it on a channel).
    ///
    /// ```no_run
    /// # fn main() -> flowscale::Result<()> {
    /// let client = flowscale::AsyncClient::builder()
    ///     .api_key("your-api-key")
    ///     .base_url("https://your-pod.pod.flowscale.ai")
    ///     .on_orphaned_run(|run| eprintln!("run {} was started for a caller that left", run.run_id))
    ///     .build()?;
    /// # Ok(()) }
    /// ```
    pub fn on_orphaned_run(mut self, hook: impl Fn(&Execution) + Send + Sync + 'static) -> Self {
        self.draft.on_orphaned_run = Some(crate::config::OrphanHook(std::sync::Arc::new(hook)));
        self
    }
}
