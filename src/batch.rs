//! Batches that survive a crash, the mode-independent part: [`Batch`] and its outcomes,
//! the manifest (one JSON line per state change, synced to disk), and the decision of what
//! a job needs on a (re)run. The loop that does the I/O is `src/client/batch.rs`.

use std::collections::HashMap;
use std::fmt;
use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use serde::{Deserialize, Serialize};

use crate::download::{DownloadOptions, SavedOutput};
use crate::error::{Error, Result};
use crate::file_name;
use crate::fingerprint::Fingerprint;
use crate::inputs::Inputs;
use crate::wait::WaitOptions;

/// The manifest's file name inside the batch's directory.
pub const MANIFEST_FILE: &str = "manifest.jsonl";

type BatchCallback = Arc<dyn Fn(&BatchEvent) + Send + Sync>;

/// One job of a batch: a name for people (a file name, say) and its inputs.
#[derive(Debug)]
pub struct Job {
    /// Shown in events and the report; also names the job's folder.
    pub name: String,
    /// What the run gets.
    pub inputs: Inputs,
}

impl Job {
    /// A job named `name` with `inputs`.
    pub fn new(name: impl Into<String>, inputs: Inputs) -> Self {
        Job {
            name: name.into(),
            inputs,
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

    /// Calls `callback` with every [`BatchEvent`], from the threads or tasks running jobs.
    pub fn on_event(mut self, callback: impl Fn(&BatchEvent) + Send + Sync + 'static) -> Self {
        self.on_event = Some(Arc::new(callback));
        self
    }

    /// Stops submitting once `flag` is set (a Ctrl-C handler sets it, say): jobs not
    /// submitted yet are reported as [`JobStatus::NotStarted`]; jobs already submitted are
    /// still waited for. Everything recorded stays valid for the next run.
    pub fn stop_on(mut self, flag: Arc<AtomicBool>) -> Self {
        self.stop = Some(flag);
        self
    }
}

/// Where a job ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum JobStatus {
    /// Its run completed and its outputs are on disk.
    Completed,
    /// It could not be submitted, or its run failed. Final unless retried.
    Failed,
    /// Its run was submitted but is not finished or not saved (the wait timed out, the
    /// network failed): the next run of the batch attaches to it again.
    Submitted,
    /// Not submitted: the batch was stopped first.
    NotStarted,
}

impl fmt::Display for JobStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            JobStatus::Completed => "completed",
            JobStatus::Failed => "failed",
            JobStatus::Submitted => "submitted",
            JobStatus::NotStarted => "not started",
        })
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
}

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
    /// A job ended (completed, failed, left submitted, or not started).
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

/// One line of the manifest.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub(crate) struct Record {
    pub fingerprint: Fingerprint,
    pub job: String,
    pub run_id: Option<String>,
    pub status: JobStatus,
    #[serde(default)]
    pub saved: Vec<SavedOutput>,
    #[serde(default)]
    pub error: Option<String>,
}

/// What a job needs on this run of the batch, from the last record of its fingerprint.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Plan {
    /// Done before, outputs still on disk: report it, send nothing.
    Reuse(Vec<SavedOutput>),
    /// Failed before and not to be retried: report it, send nothing.
    ReportFailed(Option<String>, Option<String>),
    /// Submitted before: wait for that run (never submit again).
    Attach(String),
    /// Never submitted, or to be retried: submit.
    Submit,
}

/// Decides a job's plan. The rule that matters: a recorded run id that did not end in a
/// failed run is always attached to, never submitted again. Saved paths are recorded
/// relative to the batch's directory `dir` (so that a committed cache works on any
/// machine), and come back joined to it.
pub(crate) fn plan(last: Option<&Record>, retry_failed: bool, dir: &Path) -> Plan {
    let Some(record) = last else {
        return Plan::Submit;
    };
    let saved: Vec<SavedOutput> = record
        .saved
        .iter()
        .map(|s| SavedOutput::new(s.name.clone(), dir.join(&s.path), s.bytes))
        .collect();
    match (record.status, &record.run_id) {
        (JobStatus::Completed, _) if saved.iter().all(|s| s.path.is_file()) => Plan::Reuse(saved),
        // Completed, but a file went missing: its run still has the links.
        (JobStatus::Completed, Some(run_id)) => Plan::Attach(run_id.clone()),
        (JobStatus::Failed, _) if !retry_failed => {
            Plan::ReportFailed(record.run_id.clone(), record.error.clone())
        }
        (JobStatus::Failed, _) => Plan::Submit,
        (_, Some(run_id)) => Plan::Attach(run_id.clone()),
        _ => Plan::Submit,
    }
}

/// The manifest: read once at the start, appended to (and synced) at every state change.
pub(crate) struct Manifest {
    path: PathBuf,
    file: Mutex<File>,
    last: HashMap<Fingerprint, Record>,
}

impl Manifest {
    /// Opens (or creates) `dir/manifest.jsonl` and reads what earlier runs recorded. A
    /// torn last line (a crash mid-write) is ignored.
    pub fn open(dir: &Path) -> Result<Self> {
        std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
        let path = dir.join(MANIFEST_FILE);
        let file = OpenOptions::new()
            .create(true)
            .read(true)
            .append(true)
            .open(&path)
            .map_err(|e| Error::io(&path, e))?;
        let last = read_records(&file, &path)?;
        Ok(Manifest {
            path,
            file: Mutex::new(file),
            last,
        })
    }

    /// The last record of a fingerprint from earlier runs.
    pub fn last(&self, fingerprint: &Fingerprint) -> Option<&Record> {
        self.last.get(fingerprint)
    }

    /// Appends a record and syncs it to disk before returning.
    pub fn append(&self, record: &Record) -> Result<()> {
        let mut line = serde_json::to_string(record).expect("records serialize");
        line.push('\n');
        let mut file = self.file.lock().unwrap_or_else(PoisonError::into_inner);
        file.write_all(line.as_bytes())
            .and_then(|()| file.sync_data())
            .map_err(|e| Error::io(&self.path, e))
    }
}

/// The last record of every fingerprint in the manifest at `dir`, read only (nothing is
/// created: a build script may run where the source is read-only). Empty when there is no
/// manifest. (For `BuildCache`, which only the blocking client has.)
#[cfg(feature = "blocking")]
pub(crate) fn read_manifest(dir: &Path) -> Result<HashMap<Fingerprint, Record>> {
    let path = dir.join(MANIFEST_FILE);
    match File::open(&path) {
        Ok(file) => read_records(&file, &path),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(HashMap::new()),
        Err(e) => Err(Error::io(path, e)),
    }
}

/// Folds manifest lines into the last record per fingerprint; a torn last line (a crash
/// mid-write) is skipped.
fn read_records(file: &File, path: &Path) -> Result<HashMap<Fingerprint, Record>> {
    let mut last = HashMap::new();
    for line in BufReader::new(file).lines() {
        let line = line.map_err(|e| Error::io(path, e))?;
        if let Ok(record) = serde_json::from_str::<Record>(&line) {
            last.insert(record.fingerprint.clone(), record);
        }
    }
    Ok(last)
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
        }
    }

    pub fn stopped(&self) -> bool {
        self.stop.as_ref().is_some_and(|s| s.load(Ordering::SeqCst))
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
}

/// Fingerprints every job (reading its files).
pub(crate) fn prepare(workflow_id: &str, group_id: Option<&str>, jobs: Vec<Job>) -> Vec<Prepared> {
    jobs.into_iter()
        .enumerate()
        .map(|(index, job)| Prepared {
            index,
            fingerprint: job.inputs.fingerprint(workflow_id, group_id),
            name: job.name,
            inputs: job.inputs,
        })
        .collect()
}

/// What every job of one batch run shares.
pub(crate) struct BatchRun {
    pub workflow_id: String,
    pub group_id: Option<String>,
    pub dir: PathBuf,
    pub wait: WaitOptions,
    pub download: DownloadOptions,
    pub retry_failed: bool,
    pub concurrency: usize,
    pub manifest: Arc<Manifest>,
    pub tally: Tally,
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
            fingerprint: self.fingerprint.clone()?,
            job: self.name.clone(),
            run_id: self.run_id.clone(),
            status: self.status,
            saved,
            error: self.error.clone(),
        })
    }
}
