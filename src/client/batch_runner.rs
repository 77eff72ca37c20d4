//! The batch runner, written once and compiled into both clients: for each job, decide
//! from the manifest, submit or attach, record, wait, save, record.

use std::sync::Arc;

use super::{Client, maybe_async, transport};
use crate::batch::{self, Batch, BatchReport, BatchRun, Cause, JobOutcome, Prepared, Tally};
use crate::decide::lost::{LostMatch, Sent};
use crate::decide::plan::{self, Plan};
use crate::decide::record::{JobStatus, Record};
use crate::decide::submission;
use crate::files::dir_lock::WhenHeld;
use crate::files::manifest::{self, Manifest};
use crate::wire::error::{Error, Result};
use crate::wire::submission::{Paid, SubmissionState};

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
    /// Before a submission is sent, the manifest records that it is about to be; if the
    /// process dies before the answer is recorded, the next run looks for the run among
    /// those FlowScale lists (same workflow, the inputs as sent, created since) and attaches
    /// to it when found for certain; otherwise the job is [`Unknown`](JobStatus::Unknown),
    /// and is submitted again only when the caller says so ([`Batch::resubmit_unknown`],
    /// or [`Batch::attach`] to name its run). A torn last line (a crash mid-write) is
    /// repaired when the manifest is opened; a complete line that cannot be read is
    /// reported as [`BatchEvent::SkippedLine`](crate::BatchEvent::SkippedLine). The
    /// directory is locked against other processes while the batch runs
    /// ([`Batch::wait_for_directory`]).
    ///
    /// **Cancel safety** (`AsyncClient`): dropping the future stops the batch where it is;
    /// each submission on the wire finishes (its run goes to `on_orphaned_run`), and the
    /// next run of the batch finds the runs whose ids were not recorded, as after a kill.
    ///
    /// One failing job never stops the others: the report lists every job's outcome. A
    /// job is [`Failed`](JobStatus::Failed) only when FlowScale refused its submission (a
    /// 422, say) or said its run failed (or timed out on its side); an error after the run
    /// started (a deadline, the network, a key revoked mid-wait) leaves it
    /// [`Submitted`](JobStatus::Submitted), and the next run attaches to its run; an error
    /// before anything could start a run leaves it [`NotStarted`](JobStatus::NotStarted); a
    /// run that may exist but cannot be named is [`Unknown`](JobStatus::Unknown). A failed
    /// job is submitted again only with [`Batch::retry_failed`]. Each job's outputs are
    /// saved into a folder of its own, replacing what an interrupted save left there.
    /// [`BatchEvent::Planned`](crate::BatchEvent::Planned) says how many jobs are new before any is sent.
    ///
    /// # Errors
    /// A manifest that cannot be read, or that records a saved file outside `dir`, is an
    /// error before anything is sent; two jobs of one name with identical inputs are an
    /// [`Error::Input`](crate::Error::Input). An error every job would meet (the key
    /// refused, 401/403; the workflow unknown to the pod, 404) stops the batch after the
    /// first submission meets it: the other jobs stay `NotStarted`, and that error is
    /// returned (a plain run again retries them). A manifest write that fails (a full disk)
    /// stops the batch too: nothing more is submitted, uploads in flight stop, waits end,
    /// and once every job in flight has been reported through [`Batch::on_event`] (with
    /// its run id) the write's error is returned.
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
            wait_for_directory,
            resubmit_unknown,
            attach,
            ..
        } = batch;
        let tally = Arc::new(tally);
        let (manifest, jobs) = {
            let (dir, workflow_id, group_id) = (dir.clone(), workflow_id.clone(), group_id.clone());
            let when_held = match wait_for_directory {
                true => WhenHeld::Wait,
                false => WhenHeld::Refuse,
            };
            let told = tally.clone();
            transport::run_blocking(move || {
                let waiting = |holder: &str| told.directory_busy(holder);
                let manifest = Manifest::open(&dir, when_held, waiting)?;
                let mut jobs = batch::prepare(&workflow_id, group_id.as_deref(), jobs)?;
                for job in &mut jobs {
                    if let Ok(fp) = &job.fingerprint {
                        let last = manifest.last(&(job.name.clone(), fp.clone()));
                        let on_disk = match last {
                            Some(record) => manifest::on_disk(record, &dir)?,
                            None => None,
                        };
                        job.plan = plan::plan(last, on_disk, retry_failed, resubmit_unknown);
                    }
                }
                Ok((manifest, jobs))
            })
            .await?
        };
        tally.skipped(&manifest.recorded.skipped);
        // Said before anything is paid for: how many jobs are new, and how many recorded
        // ones this batch no longer has (changed inputs or group make new jobs).
        let keys: std::collections::HashSet<_> = jobs
            .iter()
            .filter_map(|j| Some((j.name.clone(), j.fingerprint.as_ref().ok()?.clone())))
            .collect();
        let recorded = keys
            .iter()
            .filter(|k| manifest.recorded.last.contains_key(*k))
            .count();
        let unmatched = (manifest.recorded.last.keys())
            .filter(|k| !keys.contains(*k))
            .count();
        tally.planned(keys.len() - recorded, recorded, unmatched);
        // Lost submissions are looked for before anything is submitted, so that no run this
        // batch run submits is ever taken for one.
        let mut jobs = jobs;
        for (name, run_id) in &attach {
            let job = jobs.iter_mut().find(|j| &j.name == name);
            let Some(job) = job else {
                return Err(Error::input(
                    "attach",
                    format!("the batch has no job named `{name}`"),
                ));
            };
            // Only a lost submission takes the caller's run; a recorded run stays.
            if let Plan::Find(_) = job.plan {
                job.plan = Plan::Found(run_id.clone());
            }
        }
        self.find_lost(
            &workflow_id,
            group_id.as_deref(),
            &manifest,
            &mut jobs,
            resubmit_unknown,
        )
        .await;
        let run = BatchRun {
            workflow_id,
            group_id,
            dir,
            wait: tally.wait_options(&wait),
            download: download.overwrite(true),
            concurrency,
            manifest: Arc::new(manifest),
            tally,
        };
        let jobs = self.run_jobs(&run, jobs).await;
        match run.tally.broken() {
            Some(e) => Err(e),
            None => Ok(BatchReport { jobs }),
        }
    }

    /// One job, from plan to outcome.
    pub(super) async fn run_job(&self, run: &BatchRun, job: Prepared) -> JobOutcome {
        let fingerprint = match job.fingerprint {
            Ok(fp) => fp,
            // Its inputs cannot be read (a missing file): nothing was sent, safe to retry.
            Err(e) => {
                let mut outcome = JobOutcome::new(&job.name, None, JobStatus::NotStarted);
                outcome.error = Some(format!("not submitted: {e}"));
                run.tally.finished(&outcome, false);
                return outcome;
            }
        };
        let key = (job.name.clone(), fingerprint.clone());
        let mut outcome = JobOutcome::new(&job.name, Some(fingerprint), JobStatus::Failed);
        // A run recorded by an earlier run of the batch (not one sent now).
        let recorded = matches!(job.plan, Plan::Attach(_));
        let run_id = match job.plan {
            Plan::Reuse(saved) => {
                outcome.status = JobStatus::Completed;
                outcome.saved = saved;
                outcome.reused = true;
                outcome.run_id = run.manifest.last(&key).and_then(|r| r.run_id.clone());
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
            Plan::Found(run_id) => {
                outcome.status = JobStatus::Submitted;
                outcome.run_id = Some(run_id.clone());
                if !self.record(run, &mut outcome).await {
                    run.tally.finished(&outcome, false);
                    return outcome;
                }
                run.tally.submitted(&job.name, &run_id, true);
                run_id
            }
            // `find_lost` resolves every `Find` before any job runs; one left over is looked
            // for no better than an unresolved one, and is never submitted blind.
            Plan::Find(sent_at) => {
                let reason = "it was not looked for".to_owned();
                return self.unknown(run, outcome, &job.name, reason, sent_at);
            }
            Plan::Unresolved(reason, sent_at) => {
                return self.unknown(run, outcome, &job.name, reason, sent_at);
            }
            Plan::Submit => match self.submit(run, job.inputs, &mut outcome).await {
                Some(run_id) => run_id,
                None => return outcome,
            },
        };
        outcome.run_id = Some(run_id.clone());
        outcome.status = JobStatus::Submitted;
        match self.wait_for_run(&run_id, &run.wait).await {
            Ok(result) => {
                let dir = batch::job_dir(&run.dir, &job.name, &key.1);
                // Each file as it lands, named with its job and run.
                let (tally, job_name, id) = (run.tally.clone(), job.name.clone(), run_id.clone());
                let download = (run.download.clone())
                    .also_on_saved(move |saved| tally.saved(&job_name, &id, saved));
                match self.download_outputs(&result, &dir, &download).await {
                    Ok(saved) => {
                        outcome.status = JobStatus::Completed;
                        outcome.saved = saved;
                        outcome.error = None;
                    }
                    Err(e) => {
                        outcome.error =
                            Some(format!("saving the outputs failed: {}", e.with_causes()))
                    }
                }
            }
            // FlowScale said the run failed: final.
            Err(e) if plan::run_failed(&e) => {
                outcome.status = JobStatus::Failed;
                outcome.error = Some(e.with_causes());
                outcome.cause = Cause::new(e);
            }
            // A recorded run this pod does not know: said, with whose it was and what to do;
            // submitted again only when the caller says so.
            Err(e) if recorded && e.is_not_found() => {
                let pod = run.manifest.last(&key).and_then(|r| r.pod.clone());
                outcome.status = JobStatus::Unknown;
                outcome.error = Some(gone(&run_id, pod.as_deref(), self.base_url()));
                outcome.cause = Cause::new(e);
            }
            // The wait could not go on (deadline, network, key, stop): the run goes on;
            // the next run of the batch attaches to it.
            Err(e) => {
                outcome.error = Some(e.with_causes());
                outcome.cause = Cause::new(e);
            }
        }
        self.record(run, &mut outcome).await;
        run.tally.finished(&outcome, true);
        outcome
    }

    /// Ends a job whose earlier submission may have started a run that was not found for
    /// certain: reported `Unknown`, with what to check and how to decide; nothing sent.
    fn unknown(
        &self,
        run: &BatchRun,
        mut outcome: JobOutcome,
        name: &str,
        reason: String,
        sent_at: u64,
    ) -> JobOutcome {
        let since = plan::look_since(sent_at);
        outcome.status = JobStatus::Unknown;
        outcome.error = Some(format!(
            "its submission went out at {} and the answer was lost; {reason}. A run may \
             exist and be paid for: look for it (`flowscale runs --since {since} --json`), then attach \
             the job to it (`--attach {name}=RUN_ID`, `Batch::attach`) or submit it again \
             (`--resubmit-unknown`, `Batch::resubmit_unknown`)",
            plan::rfc3339(sent_at / 1000),
        ));
        run.tally.finished(&outcome, false);
        outcome
    }

    /// Submits a job: records that a submission is about to be sent, sends it, records its
    /// run id. The run id, or `None` when the job has ended (and was reported).
    async fn submit(
        &self,
        run: &BatchRun,
        inputs: crate::inputs::Inputs,
        outcome: &mut JobOutcome,
    ) -> Option<String> {
        if run.tally.stopped() {
            outcome.status = JobStatus::NotStarted;
            run.tally.finished(outcome, false);
            return None;
        }
        // Checked and encoded first: an error here sent nothing (not started, never
        // looked for, never failed).
        // Every job is filed under the batch's group, whatever its inputs said; its upload
        // stops (no run) when the batch is stopped before the body went out whole.
        let mut inputs = inputs.filed_under(run.group_id.clone());
        for stop in run.tally.upload_stops() {
            inputs = inputs.stop_on(stop);
        }
        let submission = match self.prepare_submission(&run.workflow_id, inputs).await {
            Ok(submission) => submission,
            Err(e) => {
                outcome.status = JobStatus::NotStarted;
                outcome.error = Some(format!("not submitted: {}", e.with_causes()));
                outcome.cause = Cause::new(e);
                run.tally.finished(outcome, false);
                return None;
            }
        };
        let flags = submission.flags.clone();
        outcome.status = JobStatus::Submitted;
        let intent = outcome.record(&run.dir).map(|mut r| {
            let now = super::lost::now_ms();
            r.sent_at = Some(now / 1000);
            r.sent_ms = Some(now);
            r
        });
        if let Err(e) = self.append(run, intent).await {
            outcome.status = JobStatus::NotStarted;
            outcome.error = Some(format!(
                "not submitted: the manifest could not be written: {e}"
            ));
            run.tally.broke(e);
            run.tally.finished(outcome, false);
            return None;
        }
        let sent = self.send_submission(submission).await;
        // The submission's state says what happened, whatever the error's words.
        let state = flags.state();
        match (state, sent) {
            (SubmissionState::Started { run_id } | SubmissionState::Found { run_id, .. }, _) => {
                outcome.run_id = Some(run_id.clone());
                // Recorded before anything else happens to the run.
                if !self.record(run, outcome).await {
                    run.tally.finished(outcome, false);
                    return None;
                }
                run.tally.submitted(&outcome.name, &run_id, false);
                Some(run_id)
            }
            (state, sent) => {
                let (error, cause) = match sent {
                    Err(e) => {
                        let text = e.with_causes();
                        // An error every job would meet (a refused key, a workflow the pod
                        // does not have) stops the batch: the other jobs stay not started,
                        // and a plain run again retries them.
                        if plan::every_job_meets(&e, &state) {
                            run.tally.broke(e);
                            (text, Cause::default())
                        } else {
                            (text, Cause::new(e))
                        }
                    }
                    Ok(_) => (state.to_string(), Cause::default()),
                };
                outcome.cause = cause;
                match state.paid() {
                    Paid::No
                        if matches!(state, SubmissionState::Refused { .. })
                            && !run.tally.stopped() =>
                    {
                        outcome.status = JobStatus::Failed;
                        outcome.error = Some(error);
                        self.record(run, outcome).await;
                    }
                    Paid::No => {
                        outcome.status = JobStatus::NotStarted;
                        outcome.error = Some(format!("not submitted: {error}"));
                        self.record(run, outcome).await;
                    }
                    // Looked for already and not found for certain; the record of the
                    // submission stays, and the next run of the batch looks again.
                    _ => {
                        let since = state.sent_at().map_or_else(
                            || "1h".to_owned(),
                            |at| plan::look_since(submission::ms(at)),
                        );
                        outcome.status = JobStatus::Unknown;
                        outcome.error = Some(format!(
                            "{error}; look for its run (`flowscale runs --since {since} --json`), \
                             then attach the job to it (`--attach {}=RUN_ID`, `Batch::attach`); \
                             the next run of the batch looks for it again, and never submits it \
                             again unless told to (`--resubmit-unknown`, \
                             `Batch::resubmit_unknown`)",
                            outcome.name
                        ));
                    }
                }
                run.tally.finished(outcome, false);
                None
            }
        }
    }

    /// Resolves every job whose last submission was sent but never answered
    /// ([`Plan::Find`]): a job the caller attached to a run takes it; for the others, one
    /// pass over the runs FlowScale lists (newest first, back to the oldest send time less a
    /// slack for clocks), and each job, in job order, takes the oldest run that is its own
    /// for certain and that no job has recorded ([`Plan::Found`]). A job whose run cannot be
    /// found for certain is [`Plan::Unresolved`], never submitted again, unless the caller
    /// said so (`resubmit_unknown`).
    async fn find_lost(
        &self,
        workflow_id: &str,
        group_id: Option<&str>,
        manifest: &Manifest,
        jobs: &mut [Prepared],
        resubmit_unknown: bool,
    ) {
        let oldest = jobs
            .iter()
            .filter_map(|j| match j.plan {
                Plan::Find(sent_at) => Some(sent_at),
                _ => None,
            })
            .min();
        let Some(oldest) = oldest else { return };
        let listed = match self.runs_since(group_id, oldest).await {
            Ok(listed) => listed,
            Err(e) => {
                for job in jobs.iter_mut() {
                    if let Plan::Find(sent_at) = job.plan {
                        job.plan = match resubmit_unknown {
                            true => Plan::Submit,
                            false => Plan::Unresolved(
                                format!("the runs could not be listed to find it ({e})"),
                                sent_at,
                            ),
                        };
                    }
                }
                return;
            }
        };
        // Runs other jobs recorded, and runs this client's submissions have, are no lost
        // submission's.
        let mut taken = manifest.recorded.claimed.clone();
        taken.extend(self.claimed_runs());
        for i in 0..jobs.len() {
            let Plan::Find(sent_at) = jobs[i].plan else {
                continue;
            };
            // This job and the lost ones after it with exactly its inputs (samples of one
            // prompt) are looked for together: their runs are theirs as a set.
            let copies = jobs[i..]
                .iter()
                .filter(|j| matches!(j.plan, Plan::Find(_)) && j.fields == jobs[i].fields)
                .count();
            let job = &mut jobs[i];
            let Some(fields) = &job.fields else {
                job.plan = Plan::Unresolved(
                    "its inputs cannot be read to recognise its run".to_owned(),
                    sent_at,
                );
                continue;
            };
            let sent = Sent {
                workflow_id,
                fields,
                sent_ms: sent_at,
            };
            job.plan = match self.judge_lost(&listed, sent, &taken, copies, 0).await {
                LostMatch::Found { run_id, .. } => {
                    taken.insert(run_id.clone());
                    Plan::Found(run_id)
                }
                _ if resubmit_unknown => Plan::Submit,
                other => match submission::after_lookup(other, sent_at) {
                    SubmissionState::Doubt {
                        reason, candidates, ..
                    } => Plan::Unresolved(
                        match candidates.is_empty() {
                            true => reason,
                            false => format!("{reason} (it may be {})", candidates.join(", ")),
                        },
                        sent_at,
                    ),
                    state => Plan::Unresolved(state.to_string(), sent_at),
                },
            };
        }
    }

    /// Records a job's state. A write that fails stops the batch (nothing more is
    /// submitted, waits end) and is noted on the outcome; false then.
    async fn record(&self, run: &BatchRun, outcome: &mut JobOutcome) -> bool {
        match self.append(run, outcome.record(&run.dir)).await {
            Ok(()) => true,
            Err(e) => {
                let recorded = format!("not recorded in the manifest: {e}");
                outcome.error = Some(match outcome.error.take() {
                    Some(before) => format!("{before}; {recorded}"),
                    None => recorded,
                });
                run.tally.broke(e);
                false
            }
        }
    }

    /// Appends a record to the manifest, synced, off the async runtime's workers.
    async fn append(&self, run: &BatchRun, record: Option<Record>) -> Result<()> {
        let Some(mut record) = record else {
            return Ok(());
        };
        // Which pod the run is on: another pod not knowing it is then said as such.
        record.pod.get_or_insert_with(|| self.base_url().to_owned());
        let manifest = run.manifest.clone();
        transport::run_blocking(move || manifest.append(&record)).await
    }
}

/// Why a recorded run is unknown to this pod, and what to do.
fn gone(run_id: &str, recorded_for: Option<&str>, pod: &str) -> String {
    match recorded_for {
        Some(other) if other.trim_end_matches('/') != pod.trim_end_matches('/') => format!(
            "run {run_id} was recorded for the pod at {other}, and this pod ({pod}) does not \
             know it: run the batch against that pod to resume it, or submit the job here \
             (paid again) with `--resubmit-unknown` (`Batch::resubmit_unknown`)"
        ),
        _ => format!(
            "the pod does not know run {run_id}, recorded in the manifest (deleted, or the \
             manifest is another pod's): check with `flowscale get {run_id}`; submit the job \
             again (paid again) with `--resubmit-unknown` (`Batch::resubmit_unknown`)"
        ),
    }
}
