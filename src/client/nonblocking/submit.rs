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
use crate::wire::submission::{OrphanedRun, Paid, SubmissionState};
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
        let flags = submission.flags.clone();
        let workflow_id = submission.workflow_id().to_owned();
        let group_id = submission.group_id().map(str::to_owned);
        let (task_flags, task_workflow) = (flags.clone(), workflow_id.clone());
        tokio::spawn(async move {
            let outcome = client.deliver(submission).await;
            if let Err(unheard) = answer.send(outcome) {
                client.orphaned(&unheard, task_flags.state(), task_workflow, group_id);
            }
        });
        // A task that ended without an answer (the runtime shutting down, a panic): what
        // its flags prove, else a doubt; never "not accepted" for a body that went out whole.
        let outcome = heard.await.unwrap_or_else(|_| {
            let state = crate::decide::submission::sender_ended(flags.state());
            flags.set(state.clone());
            let ended = Error::transport(
                &format!("{}/api/v1/runs", self.settings.base_url.as_str()),
                crate::wire::failure::TransportErrorKind::Other,
                None,
            );
            state.answer_lost(workflow_id, ended).map_or_else(
                || {
                    Err(Error::input(
                        "upload",
                        "the task sending it ended before the body went out whole: nothing \
                         was submitted",
                    ))
                },
                Err,
            )
        });
        // Heard: the caller's future is no longer needed to finish anything.
        guard.armed = false;
        outcome
    }

    /// A submission whose caller went away: its run, if one was started or may have been
    /// (a lost answer), goes to the hook, with its state and group.
    fn orphaned(
        &self,
        outcome: &Result<Execution>,
        state: SubmissionState,
        workflow_id: String,
        group_id: Option<String>,
    ) {
        crate::trace::orphaned_run(outcome);
        if state.paid() == Paid::No {
            return;
        }
        if let Some(hook) = &self.settings.on_orphaned_run {
            (hook.0)(&OrphanedRun {
                state,
                workflow_id,
                group_id,
            });
        }
    }
}

/// A run whose caller waits for it (`execute_workflow_and_wait`): if the caller's future is
/// dropped before the wait ends, the run goes to the `on_orphaned_run` hook, as a dropped
/// submission's does.
pub(crate) struct RunGuard {
    armed: Option<(Client, Execution, Option<String>)>,
}

impl RunGuard {
    /// The caller heard of the run (the wait ended, one way or another).
    pub fn disarm(mut self) {
        self.armed = None;
    }
}

impl Drop for RunGuard {
    fn drop(&mut self) {
        if let Some((client, run, group_id)) = self.armed.take() {
            let state = SubmissionState::Started {
                run_id: run.run_id.clone(),
            };
            let workflow_id = run.workflow_id.clone().unwrap_or_default();
            client.orphaned(&Ok(run), state, workflow_id, group_id);
        }
    }
}

impl Client {
    /// A guard that hands `run` to the hook if the caller goes away before disarming it.
    pub(super) fn watch_run(&self, run: &Execution, group_id: Option<String>) -> RunGuard {
        RunGuard {
            armed: Some((self.clone(), run.clone(), group_id)),
        }
    }
}

impl ClientBuilder {
    /// Calls `hook` with every submission whose caller went away before hearing of its run:
    /// a future of `execute_workflow*` dropped while the request was on the wire or while
    /// it waited (an axum handler whose client disconnected, a `select!` or `timeout` that
    /// moved on). The SDK finishes such a request on a task of its own and hands what is
    /// known here ([`OrphanedRun`](crate::types::OrphanedRun): the run, or a lost answer's
    /// doubt, with the workflow and the group it was filed under, so a server can tell
    /// whose it was), and to a `tracing` event, so that no paid run goes unheard of. A
    /// submission that provably started no run (stopped before its body went out whole)
    /// is not reported. Called on a runtime worker: keep it short (record the id, send it
    /// on a channel).
    ///
    /// ```no_run
    /// # fn main() -> flowscale::Result<()> {
    /// let client = flowscale::AsyncClient::builder()
    ///     .api_key("your-api-key")
    ///     .base_url("https://your-pod.pod.flowscale.ai")
    ///     .on_orphaned_run(|orphan| match orphan.run_id() {
    ///         Some(run) => eprintln!("run {run} (group {:?}) was started for a caller that left", orphan.group_id),
    ///         None => eprintln!("a run may have been started for a caller that left: {}", orphan.state),
    ///     })
    ///     .build()?;
    /// # Ok(()) }
    /// ```
    pub fn on_orphaned_run(mut self, hook: impl Fn(&OrphanedRun) + Send + Sync + 'static) -> Self {
        self.draft.on_orphaned_run = Some(crate::config::OrphanHook(std::sync::Arc::new(hook)));
        self
    }
}
