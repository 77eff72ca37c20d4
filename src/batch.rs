//! Batches that survive a crash, the mode-independent part: [`Batch`] and its outcomes,
//! the manifest (one JSON line per state change, synced to disk), and the decision of what
//! a job needs on a (re)run. The loop that does the I/O is `src/client/batch.rs`.

use std::collections::{HashMap, HashSet};
use std::fmt;
use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use serde::{Deserialize, Serialize};

use crate::download::{DownloadOptions, SavedOutput};
use crate::error::{Error, Result};
use crate::file_name;
use crate::fingerprint::Fingerprint;
use crate::inputs::Inputs;
use crate::types::Run;
use crate::wait::WaitOptions;

/// The manifest's file name inside the batch's directory.
pub const MANIFEST_FILE: &str = "manifest.jsonl";

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
    /// A complete line of the manifest could not be read (or is of a newer format): it is
    /// left out, and said here rather than skipped silently. Sent before any job starts.
    SkippedLine {
        /// Which line, and why.
        skipped: SkippedLine,
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

/// The manifest format this version writes; every record carries it (`"v"`). Records
/// written before versions existed are version 1.
pub(crate) const MANIFEST_VERSION: u32 = 1;

fn version_1() -> u32 {
    1
}

/// One line of the manifest.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub(crate) struct Record {
    #[serde(rename = "v", default = "version_1")]
    pub version: u32,
    pub fingerprint: Fingerprint,
    pub job: String,
    pub run_id: Option<String>,
    pub status: JobStatus,
    #[serde(default)]
    pub saved: Vec<SavedOutput>,
    #[serde(default)]
    pub error: Option<String>,
    /// On a record written just before a submission is sent (status `submitted`, no run
    /// id yet): when it was sent, in seconds since the Unix epoch. If the process dies
    /// before the run id is recorded, the next run looks for the run among the runs
    /// FlowScale has, created since then, before it submits anything.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sent_at: Option<u64>,
    /// The line it was read from (1-based), for messages.
    #[serde(skip)]
    pub line: usize,
}

/// A job is known to the manifest by its name and its request's fingerprint: two jobs
/// with the same inputs under different names are two runs.
pub(crate) type JobKey = (String, Fingerprint);

/// A manifest line that could not be used, reported rather than skipped silently.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct SkippedLine {
    /// The line number (1-based).
    pub line: usize,
    /// Why it could not be read.
    pub reason: String,
}

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
    /// A lost submission could not be looked for (the runs could not be listed): send
    /// nothing, report why.
    Unresolved(String),
    /// Never submitted, or to be retried: submit.
    Submit,
}

/// Decides a job's plan. The rule that matters: a recorded run id that did not end in a
/// failed run is always attached to, never submitted again, and a submission whose answer
/// was lost is looked for first. Saved paths are recorded relative to the batch's
/// directory `dir` (so that a committed cache works on any machine), and come back joined
/// to it; one that resolves outside `dir` (through a link) is an error naming its line.
pub(crate) fn plan(last: Option<&Record>, retry_failed: bool, dir: &Path) -> Result<Plan> {
    let Some(record) = last else {
        return Ok(Plan::Submit);
    };
    let saved: Vec<SavedOutput> = record
        .saved
        .iter()
        .map(|s| SavedOutput::new(s.name.clone(), dir.join(&s.path), s.bytes))
        .collect();
    let present = saved.iter().all(|s| s.path.is_file());
    if record.status == JobStatus::Completed && present {
        for s in &saved {
            check_inside(dir, &s.path, record.line)?;
        }
    }
    Ok(match (record.status, &record.run_id) {
        (JobStatus::Completed, _) if present => Plan::Reuse(saved),
        // Completed, but a file went missing: its run still has the links.
        (JobStatus::Completed, Some(run_id)) => Plan::Attach(run_id.clone()),
        (JobStatus::Failed, _) if !retry_failed => {
            Plan::ReportFailed(record.run_id.clone(), record.error.clone())
        }
        (JobStatus::Failed, _) => Plan::Submit,
        (_, Some(run_id)) => Plan::Attach(run_id.clone()),
        (JobStatus::Submitted, None) => match record.sent_at {
            Some(at) => Plan::Find(at),
            None => Plan::Submit,
        },
        _ => Plan::Submit,
    })
}

/// A saved path as recorded must be relative and stay below the batch directory.
fn lexically_inside(path: &Path) -> bool {
    !path.as_os_str().is_empty()
        && path
            .components()
            .all(|c| matches!(c, std::path::Component::Normal(_)))
}

/// `path` (an existing file) must resolve inside `dir`, links followed.
fn check_inside(dir: &Path, path: &Path, line: usize) -> Result<()> {
    let inside = match (dir.canonicalize(), path.canonicalize()) {
        (Ok(dir), Ok(path)) => path.starts_with(dir),
        _ => false,
    };
    if inside {
        Ok(())
    } else {
        Err(outside(dir, path, line))
    }
}

fn outside(dir: &Path, path: &Path, line: usize) -> Error {
    let manifest = dir.join(MANIFEST_FILE);
    Error::io(
        &manifest,
        std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            format!(
                "line {line} records the saved file {}, which is not inside {}: refusing a \
                 manifest that points elsewhere",
                path.display(),
                dir.display()
            ),
        ),
    )
}

/// How a submission that returned an error ended, for the job's record.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum SubmitError {
    /// Nothing was accepted and the job is not at fault (a refused key, 429, no
    /// connection): not started, submitted on the next run.
    NotAccepted,
    /// The request itself was refused (422, a missing file): failed.
    Refused,
    /// The request may have reached FlowScale and started a run (a connection cut after
    /// sending, a 5xx, an answer that could not be read): the next run looks for it.
    Unknown,
}

/// Classifies a submission's error: only errors that prove no run was started may lead
/// to a second submission.
pub(crate) fn submit_error(e: &Error) -> SubmitError {
    use crate::failure::TransportErrorKind as K;
    match e {
        Error::Input { .. } | Error::Io { .. } | Error::Config { .. } => SubmitError::Refused,
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

/// Whether a wait's error says the run itself failed (final), rather than that the wait
/// could not go on (the job stays submitted and is attached to next time).
pub(crate) fn run_failed(e: &Error) -> bool {
    matches!(e, Error::RunFailed { .. } | Error::RunTimedOut { .. })
}

/// How far before a lost submission's recorded send time its run may have been created
/// (clocks differ between this machine and FlowScale's).
pub(crate) const LOST_SUBMISSION_SLACK_SECS: u64 = 300;

/// How many pages of runs (newest first, 100 a page) are looked through for a lost
/// submission.
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

/// Now, in seconds since the epoch (0 for a clock before 1970).
pub(crate) fn now_secs() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// What an earlier run of the batch left in the manifest.
#[derive(Debug, Default)]
pub(crate) struct Recorded {
    /// The last record of every job.
    pub last: HashMap<JobKey, Record>,
    /// Every run id recorded, by any job: a lost submission is never matched to one.
    pub claimed: HashSet<String>,
    /// Complete lines that could not be read.
    pub skipped: Vec<SkippedLine>,
}

/// The manifest: read once at the start, appended to (and synced) at every state change.
pub(crate) struct Manifest {
    path: PathBuf,
    file: Mutex<File>,
    pub recorded: Recorded,
}

impl Manifest {
    /// Opens (or creates) `dir/manifest.jsonl` and reads what earlier runs recorded. A
    /// torn last line (a crash mid-write) is repaired first: cut off, or completed with
    /// its newline when it is a whole record, so the next append starts a line of its own.
    pub fn open(dir: &Path) -> Result<Self> {
        std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
        let path = dir.join(MANIFEST_FILE);
        let mut file = OpenOptions::new()
            .create(true)
            .read(true)
            .append(true)
            .open(&path)
            .map_err(|e| Error::io(&path, e))?;
        repair_tail(&mut file).map_err(|e| Error::io(&path, e))?;
        file.seek(SeekFrom::Start(0))
            .map_err(|e| Error::io(&path, e))?;
        let recorded = read_records(&file, dir)?;
        Ok(Manifest {
            path,
            file: Mutex::new(file),
            recorded,
        })
    }

    /// The last record of a job from earlier runs.
    pub fn last(&self, key: &JobKey) -> Option<&Record> {
        self.recorded.last.get(key)
    }

    /// Appends a record and syncs it to disk before returning.
    pub fn append(&self, record: &Record) -> Result<()> {
        let mut line = serde_json::to_string(record).map_err(|e| {
            Error::io(
                &self.path,
                std::io::Error::new(std::io::ErrorKind::InvalidData, e),
            )
        })?;
        line.push('\n');
        let mut file = self.file.lock().unwrap_or_else(PoisonError::into_inner);
        file.write_all(line.as_bytes())
            .and_then(|()| file.sync_data())
            .map_err(|e| Error::io(&self.path, e))
    }
}

/// Cuts a torn last line off (or ends a whole one with its newline).
fn repair_tail(file: &mut File) -> std::io::Result<()> {
    let len = file.metadata()?.len();
    if len == 0 {
        return Ok(());
    }
    // Read back from the end until the last newline: a torn line is one record long.
    let mut tail = Vec::new();
    let mut pos = len;
    let mut chunk = vec![0u8; 4096];
    let cut = loop {
        let step = pos.min(chunk.len() as u64);
        pos -= step;
        file.seek(SeekFrom::Start(pos))?;
        let piece = &mut chunk[..step as usize];
        std::io::Read::read_exact(file, piece)?;
        if pos + step == len && piece.last() == Some(&b'\n') {
            return Ok(());
        }
        match piece.iter().rposition(|&b| b == b'\n') {
            Some(i) => {
                tail.splice(0..0, piece[i + 1..].iter().copied());
                break pos + i as u64 + 1;
            }
            None => {
                tail.splice(0..0, piece.iter().copied());
                if pos == 0 {
                    break 0;
                }
            }
        }
    };
    if serde_json::from_slice::<Record>(&tail).is_ok() {
        file.write_all(b"\n")?;
    } else {
        file.set_len(cut)?;
    }
    file.sync_data()
}

/// What the manifest at `dir` recorded, read only (nothing is created or repaired: a build
/// script may run where the source is read-only; a torn last line is passed over). Empty
/// when there is no manifest. (For `BuildCache`, which only the blocking client has.)
#[cfg(feature = "blocking")]
pub(crate) fn read_manifest(dir: &Path) -> Result<Recorded> {
    let path = dir.join(MANIFEST_FILE);
    match File::open(&path) {
        Ok(file) => read_records(&file, dir),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Recorded::default()),
        Err(e) => Err(Error::io(path, e)),
    }
}

/// Folds manifest lines into the last record per job. A line that cannot be read, or is
/// of a newer format, is reported in `skipped` (a torn last line without its newline,
/// which only a read-only reader sees, is passed over). A saved path that is absolute or
/// climbs out of `dir` is an error naming the line.
fn read_records(file: &File, dir: &Path) -> Result<Recorded> {
    let path = dir.join(MANIFEST_FILE);
    let mut recorded = Recorded::default();
    // Only what is there now (not a device that never ends, nor what another process
    // appends meanwhile).
    let len = file.metadata().map_err(|e| Error::io(&path, e))?.len();
    let mut reader = BufReader::new(std::io::Read::take(file, len));
    let mut buf = Vec::new();
    let mut number = 0;
    loop {
        buf.clear();
        let n = reader
            .read_until(b'\n', &mut buf)
            .map_err(|e| Error::io(&path, e))?;
        if n == 0 {
            break;
        }
        number += 1;
        if buf.last() != Some(&b'\n') {
            break;
        }
        let text = String::from_utf8_lossy(&buf);
        if text.trim().is_empty() {
            continue;
        }
        let mut record = match serde_json::from_str::<Record>(&text) {
            Ok(record) if record.version <= MANIFEST_VERSION => record,
            Ok(record) => {
                recorded.skipped.push(SkippedLine {
                    line: number,
                    reason: format!(
                        "written in manifest format {}, newer than this version reads ({MANIFEST_VERSION})",
                        record.version
                    ),
                });
                continue;
            }
            Err(e) => {
                recorded.skipped.push(SkippedLine {
                    line: number,
                    reason: e.to_string(),
                });
                continue;
            }
        };
        if let Some(bad) = record.saved.iter().find(|s| !lexically_inside(&s.path)) {
            return Err(outside(dir, &bad.path, number));
        }
        record.line = number;
        if let Some(run_id) = &record.run_id {
            recorded.claimed.insert(run_id.clone());
        }
        recorded
            .last
            .insert((record.job.clone(), record.fingerprint.clone()), record);
    }
    Ok(recorded)
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

    /// The wait options of one job: the batch's, ended by the same flags.
    pub fn wait_options(&self, wait: &WaitOptions) -> WaitOptions {
        let mut wait = wait.clone().stop_on(self.halt.clone());
        if let Some(stop) = &self.stop {
            wait = wait.stop_on(stop.clone());
        }
        wait
    }

    /// A manifest write failed: stop the batch; `run_batch` returns the first such error.
    pub fn broke(&self, error: Error) {
        self.halt.store(true, Ordering::SeqCst);
        self.broken
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get_or_insert(error);
    }

    /// The manifest write that failed, if one did.
    pub fn broken(&self) -> Option<Error> {
        self.broken
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take()
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
    /// Every field as it is sent (name, text or file name): what a lost submission is
    /// recognised by among the runs FlowScale has.
    pub fields: Vec<(String, String)>,
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
            version: MANIFEST_VERSION,
            fingerprint: self.fingerprint.clone()?,
            job: self.name.clone(),
            run_id: self.run_id.clone(),
            status: self.status,
            saved,
            error: self.error.clone(),
            sent_at: None,
            line: 0,
        })
    }
}
