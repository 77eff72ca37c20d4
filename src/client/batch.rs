//! The batch runner, written once and compiled into both clients: for each job, decide
//! from the manifest, submit or attach, record, wait, save, record.

use std::sync::Arc;

use super::{Client, maybe_async, transport};
use crate::batch::{
    self, Batch, BatchReport, BatchRun, JobOutcome, JobStatus, Manifest, Plan, Prepared, Record,
    Tally,
};
use crate::error::{Error, Result};

#[maybe_async]
impl Client {
    /// Runs every job of `batch`, a few at a time, and never pays for a job twice.
    ///
    /// For each job: its inputs' [fingerprint](crate::Inputs::fingerprint) is looked up in
    /// `<dir>/manifest.jsonl`; a job completed before (outputs still on disk) is reported
    /// without a request; a job submitted before is attached to with `wait_for_run`; only
    /// the rest are submitted. The run id is written to the manifest (and synced) as soon
    /// as `execute_workflow` returns, before waiting, so a crash or Ctrl-C after that point
    /// never leads to a second submission. Each completed run's outputs are saved with
    /// `download_outputs` into `<dir>/<job>-<fingerprint>/`.
    ///
    /// One failing job never stops the others: the report lists every job's outcome. A
    /// job whose wait timed out stays `Submitted` and is attached to on the next run; a
    /// failed job is submitted again only with [`Batch::retry_failed`]. The error is only
    /// for a manifest that cannot be read or written.
    #[doc = example!(client {
        "use flowscale::{Batch, Inputs, Job};"
        "let jobs = [\"cat.png\", \"dog.png\"].map(|f| Job::new(f, Inputs::new().set(\"image_35728\", std::path::Path::new(f))));"
        "let report = client.run_batch(Batch::new(\"bncu0a1kipv\", \"out\").jobs(jobs).concurrency(4))?;"
        "println!(\"{} of {} completed\", report.count(flowscale::JobStatus::Completed), report.jobs.len());"
    } {
        "use flowscale::{Batch, Inputs, Job};"
        "let jobs = [\"cat.png\", \"dog.png\"].map(|f| Job::new(f, Inputs::new().set(\"image_35728\", std::path::Path::new(f))));"
        "let report = client.run_batch(Batch::new(\"bncu0a1kipv\", \"out\").jobs(jobs).concurrency(4)).await?;"
        "println!(\"{} of {} completed\", report.count(flowscale::JobStatus::Completed), report.jobs.len());"
    })]
    pub async fn run_batch(&self, batch: Batch) -> Result<BatchReport> {
        let tally = Tally::new(&batch);
        let Batch {
            workflow_id,
            group_id,
            dir,
            jobs,
            concurrency,
            wait,
            download,
            retry_failed,
            ..
        } = batch;
        let (manifest, jobs) = {
            let (dir, workflow_id, group_id) = (dir.clone(), workflow_id.clone(), group_id.clone());
            transport::run_blocking(move || {
                let manifest = Manifest::open(&dir)?;
                Ok((
                    manifest,
                    batch::prepare(&workflow_id, group_id.as_deref(), jobs),
                ))
            })
            .await?
        };
        let run = BatchRun {
            workflow_id,
            group_id,
            dir,
            wait,
            download,
            retry_failed,
            concurrency,
            manifest: Arc::new(manifest),
            tally,
        };
        let jobs = self.run_jobs(&run, jobs).await;
        Ok(BatchReport { jobs })
    }

    /// One job, from plan to outcome.
    pub(super) async fn run_job(&self, run: &BatchRun, job: Prepared) -> JobOutcome {
        let fingerprint = match job.fingerprint {
            Ok(fp) => fp,
            Err(e) => {
                let mut outcome = JobOutcome::new(&job.name, None, JobStatus::Failed);
                outcome.error = Some(e.to_string());
                run.tally.finished(&outcome, false);
                return outcome;
            }
        };
        let mut outcome = JobOutcome::new(&job.name, Some(fingerprint.clone()), JobStatus::Failed);
        let last = run.manifest.last(&fingerprint);
        let run_id = match batch::plan(last, run.retry_failed, &run.dir) {
            Plan::Reuse(saved) => {
                outcome.status = JobStatus::Completed;
                outcome.saved = saved;
                outcome.reused = true;
                outcome.run_id = run
                    .manifest
                    .last(&fingerprint)
                    .and_then(|r| r.run_id.clone());
                run.tally.finished(&outcome, false);
                return outcome;
            }
            Plan::ReportFailed(run_id, error) => {
                outcome.run_id = run_id;
                outcome.error = error;
                outcome.reused = true;
                run.tally.finished(&outcome, false);
                return outcome;
            }
            Plan::Attach(run_id) => {
                run.tally.submitted(&job.name, &run_id, true);
                run_id
            }
            Plan::Submit if run.tally.stopped() => {
                outcome.status = JobStatus::NotStarted;
                run.tally.finished(&outcome, false);
                return outcome;
            }
            Plan::Submit => {
                let group = run.group_id.as_deref();
                match self
                    .execute_workflow(&run.workflow_id, job.inputs, group)
                    .await
                {
                    Ok(exec) => {
                        outcome.run_id = Some(exec.run_id.clone());
                        outcome.status = JobStatus::Submitted;
                        // Recorded before anything else happens to the run.
                        if let Err(e) = self.record(run, &outcome).await {
                            outcome.error = Some(format!("the run id could not be recorded: {e}"));
                        }
                        run.tally.submitted(&job.name, &exec.run_id, false);
                        exec.run_id
                    }
                    Err(e) => {
                        outcome.error = Some(e.to_string());
                        self.finish_job(run, &mut outcome, false).await;
                        return outcome;
                    }
                }
            }
        };
        outcome.run_id = Some(run_id.clone());
        match self.wait_for_run(&run_id, &run.wait).await {
            Ok(result) => {
                let dir = batch::job_dir(&run.dir, &job.name, &fingerprint);
                match self.download_outputs(&result, &dir, &run.download).await {
                    Ok(saved) => {
                        outcome.status = JobStatus::Completed;
                        outcome.saved = saved;
                        outcome.error = None;
                    }
                    Err(e) => {
                        outcome.status = JobStatus::Submitted;
                        outcome.error = Some(format!("saving the outputs failed: {e}"));
                    }
                }
            }
            // The run itself failed, or the server does not know it: final.
            Err(e @ (Error::RunFailed { .. } | Error::RunTimedOut { .. })) => {
                outcome.status = JobStatus::Failed;
                outcome.error = Some(e.to_string());
            }
            Err(e) if !e.is_retryable() && !matches!(e, Error::Timeout { .. }) => {
                outcome.status = JobStatus::Failed;
                outcome.error = Some(e.to_string());
            }
            // A wait cut short (deadline, network): the run goes on; attach next time.
            Err(e) => {
                outcome.status = JobStatus::Submitted;
                outcome.error = Some(e.to_string());
            }
        }
        self.finish_job(run, &mut outcome, true).await;
        outcome
    }

    /// Records a job's end and tells the callback.
    async fn finish_job(&self, run: &BatchRun, outcome: &mut JobOutcome, was_running: bool) {
        if let Err(e) = self.record(run, outcome).await {
            let recorded = format!("the outcome could not be recorded: {e}");
            outcome.error = Some(match outcome.error.take() {
                Some(before) => format!("{before}; {recorded}"),
                None => recorded,
            });
        }
        run.tally.finished(outcome, was_running);
    }

    /// Appends a job's state to the manifest, synced, off the async runtime's workers.
    async fn record(&self, run: &BatchRun, outcome: &JobOutcome) -> Result<()> {
        let Some(record): Option<Record> = outcome.record(&run.dir) else {
            return Ok(());
        };
        let manifest = run.manifest.clone();
        transport::run_blocking(move || manifest.append(&record)).await
    }
}
