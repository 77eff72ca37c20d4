//! Batches that survive a crash, the mode-independent part: [`Batch`], its jobs, outcomes
//! and events, and what the jobs of one batch run share. What a job needs is decided in
//! `decide::plan`, the manifest is kept by `files::manifest`, and the loop that does the
//! I/O is `src/client/batch_runner.rs`.

use std::collections::HashSet;
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use serde::{Deserialize, Serialize};

use crate::decide::file_name;
use crate::decide::plan::Plan;
use crate::decide::record::{Fingerprint, JobStatus, MANIFEST_VERSION, Record, SavedOutput};
use crate::decide::wait::WaitOptions;
use crate::files::manifest::{MANIFEST_FILE, Manifest, SkippedLine};
use crate::files::save::DownloadOptions;
use crate::inputs::Inputs;
use crate::wire::error::{Error, Result};

type BatchCallback = Arc<dyn Fn(&BatchEvent) + Send + Sync>;

/// One job of a batch: a name for people (a file name, say) and its inputs.
///
/// A job is known to the manifest by its name *and* its inputs' fingerprint: two jobs with
/// identical inputs under different names (several samples of one prompt) are two runs,
/// and renaming a job makes it a new one. Two jobs of one name with identical inputs are
/// refused.
#[derive(Debug)]
pub struct Job {
    /// Shown in events and the report; also names the job's folder.
    pub name: String,
    /// What the run gets.
    pub inputs: Inputs,
}

impl Job {
    /// A job named `name` with `inputs` (an [`Inputs`], or a typed workflow's inputs from
    /// `flowscale::codegen`).
    pub fn new(name: impl Into<String>, inputs: impl Into<Inputs>) -> Self {
        Job {
            name: name.into(),
            inputs: inputs.into(),
        }
    }
}

/// Many runs of one workflow, crash-proof: see `Client::run_batch`.
///
/// ```
/// use flowscale::{Batch, Inputs, Job, WaitOptions};
/// let batch = Batch::new("bncu0a1kipv", "out/batch")
///     .jobs((1..=3).map(|i| Job::new(format!("seed-{i}"), Inputs::new().set("seed", i))))
///     .concurrency(2)
///     .wait_options(WaitOptions::new())
///     .on_event(|e| eprintln!("{e}"));
/// ```
#[must_use = "a Batch does nothing until passed to run_batch"]
pub struct Batch {
    pub(crate) workflow_id: String,
    pub(crate) group_id: Option<String>,
    pub(crate) dir: PathBuf,
    pub(crate) jobs: Vec<Job>,
    pub(crate) concurrency: usize,
    pub(crate) wait: WaitOptions,
    pub(crate) download: DownloadOptions,
    pub(crate) retry_failed: bool,
    pub(crate) on_event: Option<BatchCallback>,
    pub(crate) stop: Option<Arc<AtomicBool>>,
    pub(crate) wait_for_directory: bool,
    pub(crate) resubmit_unknown: bool,
    pub(crate) attach: Vec<(String, String)>,
}

impl fmt::Debug for Batch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Batch")
            .field("workflow_id", &self.workflow_id)
            .field("group_id", &self.group_id)
            .field("dir", &self.dir)
            .field("jobs", &self.jobs.len())
            .field("concurrency", &self.concurrency)
            .field("retry_failed", &self.retry_failed)
            .field("wait_for_directory", &self.wait_for_directory)
            .field("resubmit_unknown", &self.resubmit_unknown)
            .field("attach", &self.attach)
            .finish_non_exhaustive()
    }
}

impl Batch {
    /// A batch of runs of `workflow_id`, recorded and saved under `dir`: no jobs yet, 4 at
    /// once, default wait and download options, failed jobs not retried.
    pub fn new(workflow_id: impl Into<String>, dir: impl Into<PathBuf>) -> Self {
        Batch {
            workflow_id: workflow_id.into(),
            group_id: None,
            dir: dir.into(),
            jobs: Vec::new(),
            concurrency: 4,
            wait: WaitOptions::new(),
            download: DownloadOptions::new(),
            retry_failed: false,
            on_event: None,
            stop: None,
            wait_for_directory: true,
            resubmit_unknown: false,
            attach: Vec::new(),
        }
    }

    /// File every run under this group.
    pub fn group_id(mut self, group_id: impl Into<String>) -> Self {
        self.group_id = Some(group_id.into());
        self
    }

    /// Adds one job.
    pub fn job(mut self, job: Job) -> Self {
        self.jobs.push(job);
        self
    }

    /// Adds jobs.
    pub fn jobs(mut self, jobs: impl IntoIterator<Item = Job>) -> Self {
        self.jobs.extend(jobs);
        self
    }

    /// How many jobs run at once (threads in `Client`, concurrent futures in
    /// `AsyncClient`); at least 1.
    pub fn concurrency(mut self, n: usize) -> Self {
        self.concurrency = n.max(1);
        self
    }

    /// How each run is waited for; its `on_event` callback, if any, hears every job's wait.
    pub fn wait_options(mut self, options: WaitOptions) -> Self {
        self.wait = options;
        self
    }

    /// How each run's outputs are saved.
    pub fn download_options(mut self, options: DownloadOptions) -> Self {
        self.download = options;
        self
    }

    /// Submit again the jobs whose run failed last time (by default they are reported
    /// as failed, from the manifest, without a request).
    pub fn retry_failed(mut self, retry: bool) -> Self {
        self.retry_failed = retry;
        self
    }

    /// Whether to wait when another process uses `dir` (default), or to fail at once with
    /// [`Error::Busy`](crate::Error::Busy) naming it.
    ///
    /// A batch holds an OS lock on `dir` from the moment it reads the manifest to its end,
    /// so that two processes (two terminals, a cron job overlapping itself, cargo and an IDE
    /// running one build script) never both submit the same job. The kernel releases the
    /// lock when the process ends, however it ends. A wait begins with
    /// [`BatchEvent::DirectoryBusy`]. (Unix only: elsewhere the lock is not taken.)
    pub fn wait_for_directory(mut self, wait: bool) -> Self {
        self.wait_for_directory = wait;
        self
    }

    /// Submit again the jobs whose earlier submission may have started a run that could
    /// not be found for certain (reported as [`JobStatus::Unknown`]). Off by default: such
    /// a job is never submitted again silently, since its first run may exist and be paid
    /// for. Turn it on once you have checked (`flowscale runs`) that it does not.
    pub fn resubmit_unknown(mut self, resubmit: bool) -> Self {
        self.resubmit_unknown = resubmit;
        self
    }

    /// Takes `run_id` as the run of the job named `job`, whose earlier submission is
    /// [`JobStatus::Unknown`]: it is recorded and waited for, and nothing is submitted.
    /// Only for a job whose answer was lost; a job with a recorded run keeps it.
    pub fn attach(mut self, job: impl Into<String>, run_id: impl Into<String>) -> Self {
        self.attach.push((job.into(), run_id.into()));
        self
    }

    /// Calls `callback` with every [`BatchEvent`], from the threads or tasks running jobs.
    pub fn on_event(mut self, callback: impl Fn(&BatchEvent) + Send + Sync + 'static) -> Self {
        self.on_event = Some(Arc::new(callback));
        self
    }

    /// Stops the batch once `flag` is set (a Ctrl-C handler sets it, say): jobs not
    /// submitted yet are reported as [`JobStatus::NotStarted`]; a submission already on the
    /// wire is let finish and its run id recorded; waits end within 100 ms and their jobs
    /// stay [`JobStatus::Submitted`]; a download in progress is finished. The next run of
    /// the batch attaches to every recorded run and submits only the rest.
    pub fn stop_on(mut self, flag: Arc<AtomicBool>) -> Self {
        self.stop = Some(flag);
        self
    }
}

/// What became of one job.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct JobOutcome {
    /// The job's name.
    pub name: String,
    /// Its request's fingerprint (absent when its inputs could not be read).
    pub fingerprint: Option<Fingerprint>,
    /// Its run, once submitted.
    pub run_id: Option<String>,
    /// Where it ended.
    pub status: JobStatus,
    /// The files saved, for a completed job.
    pub saved: Vec<SavedOutput>,
    /// What went wrong, for a failed or unfinished job.
    pub error: Option<String>,
    /// Whether this run of the batch found it done already and sent no request for it.
    pub reused: bool,
    /// The error behind `error`, when this run of the batch met one (for `BuildCache`,
    /// which returns it as it is).
    #[serde(skip)]
    pub(crate) cause: Cause,
}

/// An error kept beside a job's outcome, shared by its clones; outcomes compare equal
/// whatever their causes (the words are in `error`).
#[derive(Clone, Debug, Default)]
// Read by `BuildCache` (the blocking client's).
#[cfg_attr(not(feature = "blocking"), allow(dead_code))]
pub(crate) struct Cause(Option<Arc<Error>>);

impl Cause {
    pub fn new(error: Error) -> Self {
        Cause(Some(Arc::new(error)))
    }

    /// The error, when this is its only holder.
    #[cfg_attr(not(feature = "blocking"), allow(dead_code))]
    pub fn take(self) -> Option<Error> {
        self.0.and_then(|e| Arc::try_unwrap(e).ok())
    }
}

impl PartialEq for Cause {
    fn eq(&self, _: &Self) -> bool {
        true
    }
}

impl Eq for Cause {}

/// Every job's outcome, in job order.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct BatchReport {
    /// One outcome per job.
    pub jobs: Vec<JobOutcome>,
}

impl BatchReport {
    /// How many jobs ended with `status`.
    pub fn count(&self, status: JobStatus) -> usize {
        self.jobs.iter().filter(|j| j.status == status).count()
    }

    /// Every job completed.
    pub fn all_completed(&self) -> bool {
        self.jobs.iter().all(|j| j.status == JobStatus::Completed)
    }
}

/// Jobs so far: how many are done, failed, running, of how many.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct BatchCounts {
    /// Jobs in the batch.
    pub total: usize,
    /// Jobs completed (this run or before).
    pub done: usize,
    /// Jobs failed.
    pub failed: usize,
    /// Jobs submitted or being waited for now.
    pub running: usize,
}

/// What happens in a batch.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "event", rename_all = "snake_case")]
#[non_exhaustive]
pub enum BatchEvent {
    /// A job's run was submitted (its id is in the manifest already).
    Submitted {
        /// The job.
        job: String,
        /// Its new run.
        run_id: String,
        /// The counts after this event.
        counts: BatchCounts,
    },
    /// A job attached again to the run a previous batch run recorded.
    Attached {
        /// The job.
        job: String,
        /// The recorded run.
        run_id: String,
        /// The counts after this event.
        counts: BatchCounts,
    },
    /// A complete line of the manifest could not be read (or is of a newer format): it is
    /// left out, and said here rather than skipped silently. Sent before any job starts.
    SkippedLine {
        /// Which line, and why.
        skipped: SkippedLine,
    },
    /// Another process uses the batch directory: this batch waits for it to finish (see
    /// [`Batch::wait_for_directory`]). Sent before anything else.
    DirectoryBusy {
        /// What the holder wrote of itself (its process id, program and since when).
        holder: String,
    },
    /// What this run of the batch will do, sent once before any job starts: how many jobs
    /// are new (never recorded: they will be submitted and paid for), how many were done
    /// or are attached to, and how many recorded jobs match no job of this batch (their
    /// inputs or the batch's group changed since, so their jobs count as new).
    Planned {
        /// Jobs never recorded: each is submitted (and paid for).
        new: usize,
        /// Jobs recorded before: reused, reported or attached to.
        recorded: usize,
        /// Jobs in the manifest that match no job of this batch.
        unmatched: usize,
    },
    /// One output of a job's run was saved (its file complete, under its final name), as
    /// soon as it was: before the job's other outputs.
    Saved {
        /// The job.
        job: String,
        /// Its run.
        run_id: String,
        /// The file saved.
        output: SavedOutput,
    },
    /// A job ended (completed, failed, left submitted, unknown, or not started).
    Finished {
        /// How it ended.
        outcome: JobOutcome,
        /// The counts after this event.
        counts: BatchCounts,
    },
}

impl fmt::Display for BatchEvent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BatchEvent::Submitted { job, run_id, .. } => write!(f, "{job}: submitted run {run_id}"),
            BatchEvent::Attached { job, run_id, .. } => {
                write!(f, "{job}: waiting for run {run_id}")
            }
            BatchEvent::Planned {
                new,
                recorded,
                unmatched,
            } => {
                write!(f, "{new} new job(s) to submit, {recorded} recorded before")?;
                if *unmatched > 0 && *new > 0 {
                    write!(
                        f,
                        "; {unmatched} recorded job(s) match no job of this batch (their inputs \
                         or the group changed?): the new ones are paid for"
                    )?;
                }
                Ok(())
            }
            BatchEvent::DirectoryBusy { holder } => {
                write!(f, "waiting: the batch directory is in use by {holder}")
            }
            BatchEvent::Saved { job, output, .. } => {
                write!(f, "{job}: saved {}", output.path.display())
            }
            BatchEvent::SkippedLine { skipped } => write!(
                f,
                "warning: {MANIFEST_FILE} line {} left out: {}",
                skipped.line, skipped.reason
            ),
            BatchEvent::Finished { outcome, .. } => {
                write!(f, "{}: {}", outcome.name, outcome.status)?;
                if outcome.reused {
                    f.write_str(" (already done)")?;
                }
                match &outcome.error {
                    Some(e) => write!(f, ": {e}"),
                    None => Ok(()),
                }
            }
        }
    }
}

/// The folder a job's outputs go to: its name, made safe, and its fingerprint's start.
pub(crate) fn job_dir(dir: &Path, name: &str, fingerprint: &Fingerprint) -> PathBuf {
    let short = format!("-{}", fingerprint.short());
    dir.join(format!("{}{short}", file_name::sanitize(name, &short)))
}

/// Counts and events, shared by the jobs of one batch run.
pub(crate) struct Tally {
    counts: Mutex<BatchCounts>,
    callback: Option<BatchCallback>,
    stop: Option<Arc<AtomicBool>>,
    /// Set when the manifest cannot be written: nothing more is submitted or waited for.
    halt: Arc<AtomicBool>,
    /// The first manifest write that failed: what `run_batch` returns.
    broken: Mutex<Option<Error>>,
}

impl Tally {
    pub fn new(batch: &Batch) -> Self {
        Tally {
            counts: Mutex::new(BatchCounts {
                total: batch.jobs.len(),
                ..BatchCounts::default()
            }),
            callback: batch.on_event.clone(),
            stop: batch.stop.clone(),
            halt: Arc::new(AtomicBool::new(false)),
            broken: Mutex::new(None),
        }
    }

    /// Whether new submissions must not start: the caller's flag, or a manifest that
    /// cannot be written.
    pub fn stopped(&self) -> bool {
        self.halt.load(Ordering::SeqCst)
            || self.stop.as_ref().is_some_and(|s| s.load(Ordering::SeqCst))
    }

    /// The flags that stop a job's upload before its end: the caller's and the halt.
    pub fn upload_stops(&self) -> impl Iterator<Item = Arc<AtomicBool>> + use<> {
        std::iter::once(self.halt.clone()).chain(self.stop.clone())
    }

    /// The wait options of one job: the batch's, ended by the same flags.
    pub fn wait_options(&self, wait: &WaitOptions) -> WaitOptions {
        let mut wait = wait.clone().stop_on(self.halt.clone());
        if let Some(stop) = &self.stop {
            wait = wait.stop_on(stop.clone());
        }
        wait
    }

    /// The batch cannot go on (a manifest write failed, or an error every job would meet:
    /// the key refused, the workflow unknown): stop it (nothing more is submitted, uploads
    /// in flight stop, waits end); `run_batch` returns the first such error.
    pub fn broke(&self, error: Error) {
        self.halt.store(true, Ordering::SeqCst);
        self.broken
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get_or_insert(error);
    }

    /// The error that stopped the batch, if one did.
    pub fn broken(&self) -> Option<Error> {
        self.broken
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take()
    }

    pub fn directory_busy(&self, holder: &str) {
        self.emit(BatchEvent::DirectoryBusy {
            holder: holder.to_owned(),
        });
    }

    pub fn saved(&self, job: &str, run_id: &str, output: &SavedOutput) {
        self.emit(BatchEvent::Saved {
            job: job.to_owned(),
            run_id: run_id.to_owned(),
            output: output.clone(),
        });
    }

    pub fn planned(&self, new: usize, recorded: usize, unmatched: usize) {
        self.emit(BatchEvent::Planned {
            new,
            recorded,
            unmatched,
        });
    }

    pub fn skipped(&self, skipped: &[SkippedLine]) {
        for line in skipped {
            self.emit(BatchEvent::SkippedLine {
                skipped: line.clone(),
            });
        }
    }

    fn update(&self, change: impl FnOnce(&mut BatchCounts)) -> BatchCounts {
        let mut counts = self.counts.lock().unwrap_or_else(PoisonError::into_inner);
        change(&mut counts);
        *counts
    }

    fn emit(&self, event: BatchEvent) {
        if let Some(cb) = &self.callback {
            cb(&event);
        }
    }

    pub fn submitted(&self, job: &str, run_id: &str, attached: bool) {
        let counts = self.update(|c| c.running += 1);
        let (job, run_id) = (job.to_owned(), run_id.to_owned());
        self.emit(if attached {
            BatchEvent::Attached {
                job,
                run_id,
                counts,
            }
        } else {
            BatchEvent::Submitted {
                job,
                run_id,
                counts,
            }
        });
    }

    pub fn finished(&self, outcome: &JobOutcome, was_running: bool) {
        let counts = self.update(|c| {
            if was_running {
                c.running -= 1;
            }
            match outcome.status {
                JobStatus::Completed => c.done += 1,
                JobStatus::Failed => c.failed += 1,
                _ => {}
            }
        });
        self.emit(BatchEvent::Finished {
            outcome: outcome.clone(),
            counts,
        });
    }
}

/// A job ready to run: its place in the batch, and its fingerprint (or why there is none).
pub(crate) struct Prepared {
    pub index: usize,
    pub name: String,
    pub inputs: Inputs,
    pub fingerprint: Result<Fingerprint>,
    /// What the job needs, from the manifest (set by `run_batch` before any job starts).
    pub plan: Plan,
    /// Every field as it is sent (name, text or a file's name and size): what a lost
    /// submission is recognised by among the runs FlowScale has (`None`: not readable).
    pub fields: Option<Vec<(String, crate::wire::submission::SentValue)>>,
}

/// Fingerprints every job (reading its files). Two jobs of one name with the same inputs
/// would be one job to the manifest: that is refused, before anything is sent.
pub(crate) fn prepare(
    workflow_id: &str,
    group_id: Option<&str>,
    jobs: Vec<Job>,
) -> Result<Vec<Prepared>> {
    let prepared: Vec<Prepared> = jobs
        .into_iter()
        .enumerate()
        .map(|(index, job)| Prepared {
            index,
            fingerprint: job.inputs.fingerprint(workflow_id, group_id),
            plan: Plan::Submit,
            fields: job.inputs.sent_fields(),
            name: job.name,
            inputs: job.inputs,
        })
        .collect();
    let mut keys = HashSet::new();
    for job in &prepared {
        if let Ok(fp) = &job.fingerprint
            && !keys.insert((job.name.as_str(), fp))
        {
            return Err(Error::input(
                "jobs",
                format!(
                    "two jobs are named `{}` and have the same inputs: give each job a name of \
                     its own (several samples of one prompt are several jobs)",
                    job.name
                ),
            ));
        }
    }
    Ok(prepared)
}

/// What every job of one batch run shares.
pub(crate) struct BatchRun {
    pub workflow_id: String,
    pub group_id: Option<String>,
    pub dir: PathBuf,
    pub wait: WaitOptions,
    pub download: DownloadOptions,
    pub concurrency: usize,
    pub manifest: Arc<Manifest>,
    pub tally: Arc<Tally>,
}

impl JobOutcome {
    pub(crate) fn new(name: &str, fingerprint: Option<Fingerprint>, status: JobStatus) -> Self {
        JobOutcome {
            name: name.to_owned(),
            fingerprint,
            run_id: None,
            status,
            saved: Vec::new(),
            error: None,
            reused: false,
            cause: Cause::default(),
        }
    }

    /// The manifest line for this outcome, with saved paths relative to `dir`.
    pub(crate) fn record(&self, dir: &Path) -> Option<Record> {
        let saved = self
            .saved
            .iter()
            .map(|s| {
                let relative = s.path.strip_prefix(dir).unwrap_or(&s.path);
                SavedOutput::new(s.name.clone(), relative.to_path_buf(), s.bytes)
            })
            .collect();
        Some(Record {
            version: MANIFEST_VERSION,
            fingerprint: self.fingerprint.clone()?,
            job: self.name.clone(),
            run_id: self.run_id.clone(),
            status: self.status,
            saved,
            error: self.error.clone(),
            sent_at: None,
            sent_ms: None,
            pod: None,
            line: 0,
        })
    }
}
