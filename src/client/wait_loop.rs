//! The wait loop, written once and compiled into both clients: poll the run and its
//! outputs until every output is ready, the run fails, or the deadline passes.

use std::time::Instant;

use super::{Client, maybe_async, transport};
use crate::decide::wait::{Step, WaitOptions, Waiter, WorkflowResult};
use crate::inputs::Inputs;
use crate::trace::WaitTrace;
use crate::wire::error::Result;
use crate::wire::request;

#[maybe_async]
impl Client {
    /// Starts a run and waits for all of its outputs: the counterpart of the Python SDK's
    /// `execute_workflow_async`, without its defects.
    ///
    /// - A run that ends `failed`, `error` or `cancelled` returns
    ///   [`Error::RunFailed`](crate::Error::RunFailed) at the next poll.
    /// - Transient failures (connection errors, 429, 5xx) are retried up to
    ///   [`WaitOptions::max_poll_failures`] in a row; other errors return at once.
    /// - Past the deadline, [`Error::Timeout`](crate::Error::Timeout) carries the run id,
    ///   so the run can be picked up again with `wait_for_run`.
    ///
    /// **Cancel safety** (`AsyncClient`): cancel-safe. The submission is as
    /// `execute_workflow`'s; a future dropped while waiting hands its run to
    /// [`AsyncClientBuilder::on_orphaned_run`](crate::AsyncClientBuilder::on_orphaned_run)
    /// (the run goes on; `wait_for_run` picks it up).
    ///
    #[doc = example!(client {
        "use std::time::Duration;"
        "use flowscale::{Inputs, WaitOptions};"
        "let options = WaitOptions::new()"
        "    .timeout(Duration::from_secs(300))"
        "    .on_event(|e| eprintln!(\"{e}\"));"
        "let result = client.execute_workflow_and_wait("
        "    \"bncu0a1kipv\","
        "    Inputs::new().set(\"text_51536\", \"a cat on a sofa\"),"
        "    &options,"
        ")?;"
        "for out in &result.outputs {"
        "    println!(\"{}: {}\", out.name, out.download_url);"
        "}"
    } {
        "use std::time::Duration;"
        "use flowscale::{Inputs, WaitOptions};"
        "let options = WaitOptions::new()"
        "    .timeout(Duration::from_secs(300))"
        "    .on_event(|e| eprintln!(\"{e}\"));"
        "let result = client.execute_workflow_and_wait("
        "    \"bncu0a1kipv\","
        "    Inputs::new().set(\"text_51536\", \"a cat on a sofa\"),"
        "    &options,"
        ").await?;"
        "for out in &result.outputs {"
        "    println!(\"{}: {}\", out.name, out.download_url);"
        "}"
    })]
    #[doc(alias = "execute_workflow_async")]
    pub async fn execute_workflow_and_wait(
        &self,
        workflow_id: &str,
        inputs: impl Into<Inputs>,
        options: &WaitOptions,
    ) -> Result<WorkflowResult> {
        let inputs = inputs.into();
        let group = inputs.group().map(str::to_owned);
        let exec = self.execute_workflow(workflow_id, inputs).await?;
        // Dropped while waiting (`AsyncClient`), the run still reaches `on_orphaned_run`.
        let guard = self.watch_run(&exec, group);
        let workflow_id = exec.workflow_id.unwrap_or_else(|| workflow_id.to_owned());
        let mut waiter = Waiter::new(options, exec.run_id, Some(workflow_id), Instant::now());
        waiter.submitted(&exec.output_names, exec.recovery.as_deref());
        let result = self.wait(waiter).await;
        guard.disarm();
        result
    }

    /// Waits for a run started earlier (by this process before a restart, or by another
    /// one), with the same rules as `execute_workflow_and_wait`.
    ///
    /// **Cancel safety** (`AsyncClient`): cancel-safe; dropping it only stops watching (the
    /// run goes on, and the caller already has its id).
    ///
    #[doc = example!(client {
        "use flowscale::{Error, WaitOptions};"
        "match client.wait_for_run(\"808f34d0-ef97-4b78-a00f-1268077ea6db\", &WaitOptions::new()) {"
        "    Ok(result) => println!(\"{} outputs\", result.outputs.len()),"
        "    Err(Error::Timeout { run_id, .. }) => println!(\"still running: {run_id}\"),"
        "    Err(e) => return Err(e),"
        "}"
    } {
        "use flowscale::{Error, WaitOptions};"
        "match client.wait_for_run(\"808f34d0-ef97-4b78-a00f-1268077ea6db\", &WaitOptions::new()).await {"
        "    Ok(result) => println!(\"{} outputs\", result.outputs.len()),"
        "    Err(Error::Timeout { run_id, .. }) => println!(\"still running: {run_id}\"),"
        "    Err(e) => return Err(e),"
        "}"
    })]
    pub async fn wait_for_run(
        &self,
        run_id: &str,
        options: &WaitOptions,
    ) -> Result<WorkflowResult> {
        request::require("run_id", run_id)?;
        self.wait(Waiter::new(
            options,
            run_id.to_owned(),
            None,
            Instant::now(),
        ))
        .await
    }

    async fn wait(&self, waiter: Waiter<'_>) -> Result<WorkflowResult> {
        let trace = WaitTrace::start(waiter.run_id());
        let outcome = self.wait_traced(waiter, &trace).await;
        trace.finish(&outcome);
        outcome
    }

    async fn wait_traced(
        &self,
        mut waiter: Waiter<'_>,
        trace: &WaitTrace,
    ) -> Result<WorkflowResult> {
        loop {
            if let Some(stopped) = waiter.interrupted() {
                return Err(stopped);
            }
            let step = match waiter.before_poll(Instant::now()) {
                Some(step) => step,
                None => {
                    let outcome = self.poll(&mut waiter).await;
                    waiter.after_poll(outcome, Instant::now())?
                }
            };
            match step {
                Step::Done => return Ok(waiter.finish()),
                Step::Sleep(delay) => {
                    if let Some((attempt, error)) = waiter.retrying() {
                        trace.poll_retry(attempt, delay, error);
                    }
                    self.pause(&waiter, delay).await?
                }
                Step::TimedOut => {
                    if waiter.cancel_on_timeout() {
                        // Best effort: the timeout is what the caller needs to hear about.
                        let cancel = request::cancel(&self.settings.base_url, waiter.run_id());
                        let _ = self.send_by(cancel, Some(waiter.deadline())).await;
                    }
                    return Err(waiter.timeout_error(Instant::now()));
                }
            }
        }
    }

    /// Sleeps `delay`, or less when a stop flag is set meanwhile.
    async fn pause(&self, waiter: &Waiter<'_>, delay: std::time::Duration) -> Result<()> {
        let end = crate::decide::clock::later(std::time::Instant::now(), delay);
        loop {
            if let Some(stopped) = waiter.interrupted() {
                return Err(stopped);
            }
            let left = end.saturating_duration_since(std::time::Instant::now());
            if left.is_zero() {
                return Ok(());
            }
            transport::sleep(waiter.pause(left)).await;
        }
    }

    /// One poll: the run, then every pending output, each request bounded by the time
    /// left.
    async fn poll(&self, waiter: &mut Waiter<'_>) -> Result<()> {
        let deadline = Some(waiter.poll_deadline());
        let run = self.fetch_run(waiter.run_id(), deadline).await?;
        waiter.on_run(&run)?;
        let answers = self.fetch_outputs(waiter.pending(), deadline).await;
        for (name, answer) in answers {
            waiter.on_output(&name, answer)?;
        }
        Ok(())
    }
}
