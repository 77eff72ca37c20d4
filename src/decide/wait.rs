//! Waiting for a run: [`WaitOptions`], [`RunEvent`], [`WorkflowResult`], and the
//! mode-independent bookkeeping of the wait loop (which outputs are known and ready, when to
//! poll next, when to give up). The loop itself is `src/client/wait_loop.rs`, compiled into
//! both clients.

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use crate::decide::clock;
use crate::wire::error::{Error, Result};
use crate::wire::types::{Output, Run, RunOutput, RunStatus};

/// Default overall deadline of a wait: 10 minutes.
pub const DEFAULT_WAIT_TIMEOUT: Duration = Duration::from_secs(600);
/// Default time between polls: 2 seconds.
pub const DEFAULT_POLL_INTERVAL: Duration = Duration::from_secs(2);
/// Default number of transient poll failures in a row before the wait gives up.
pub const DEFAULT_MAX_POLL_FAILURES: u32 = 5;
/// The shortest time between polls: a smaller [`WaitOptions::poll_interval`] is raised to
/// this, so that a zero interval cannot turn a wait into a busy loop against the server.
pub const MIN_POLL_INTERVAL: Duration = Duration::from_millis(50);
/// The most of a wait's deadline kept for the cancel request when
/// [`WaitOptions::cancel_on_timeout`] is on (a tenth of shorter deadlines).
pub const CANCEL_RESERVE: Duration = Duration::from_secs(1);

/// How often a pause looks at the stop flags of [`WaitOptions::stop_on`].
const STOP_CHECK: Duration = Duration::from_millis(100);

type EventCallback = Arc<dyn Fn(&RunEvent) + Send + Sync>;

/// How to wait for a run: deadline, poll interval, backoff, retries, events.
///
/// ```
/// use std::time::Duration;
/// use flowscale::{RunEvent, WaitOptions};
///
/// let options = WaitOptions::new()
///     .timeout(Duration::from_secs(300))
///     .poll_interval(Duration::from_secs(1))
///     .backoff(1.5, Duration::from_secs(10))
///     .cancel_on_timeout(true)
///     .max_poll_failures(3)
///     .on_event(|event| eprintln!("{event}"));
/// ```
#[derive(Clone)]
#[must_use = "WaitOptions does nothing until passed to a wait"]
pub struct WaitOptions {
    timeout: Duration,
    poll_interval: Duration,
    first_poll_after: Option<Duration>,
    backoff: Option<(f64, Duration)>,
    cancel_on_timeout: bool,
    max_poll_failures: u32,
    on_event: Option<EventCallback>,
    /// Flags that end the wait when set (see [`WaitOptions::stop_on`]).
    stop: Vec<Arc<AtomicBool>>,
}

impl Default for WaitOptions {
    fn default() -> Self {
        WaitOptions {
            timeout: DEFAULT_WAIT_TIMEOUT,
            poll_interval: DEFAULT_POLL_INTERVAL,
            first_poll_after: None,
            backoff: None,
            cancel_on_timeout: false,
            max_poll_failures: DEFAULT_MAX_POLL_FAILURES,
            on_event: None,
            stop: Vec::new(),
        }
    }
}

impl fmt::Debug for WaitOptions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WaitOptions")
            .field("timeout", &self.timeout)
            .field("poll_interval", &self.poll_interval)
            .field("first_poll_after", &self.first_poll_after)
            .field("backoff", &self.backoff)
            .field("cancel_on_timeout", &self.cancel_on_timeout)
            .field("max_poll_failures", &self.max_poll_failures)
            .field("on_event", &self.on_event.as_ref().map(|_| "Fn(&RunEvent)"))
            .field("stop_on", &self.stop.len())
            .finish()
    }
}

impl WaitOptions {
    /// The defaults: 10 minute deadline, a poll every 2 s, no backoff, no cancel on
    /// timeout, up to 5 transient failures in a row, no callback.
    pub fn new() -> Self {
        Self::default()
    }

    /// The overall deadline, from the start of the wait. Every request the wait sends is
    /// bounded by the time left, so [`Error::Timeout`] comes at the deadline even when the
    /// server stops answering mid-request.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// Time between two polls, from the start of one to the start of the next (a poll that
    /// takes longer is followed by a pause of [`MIN_POLL_INTERVAL`]); at least
    /// [`MIN_POLL_INTERVAL`] (50 ms), a smaller value is raised to it.
    pub fn poll_interval(mut self, interval: Duration) -> Self {
        self.poll_interval = interval.max(MIN_POLL_INTERVAL);
        self
    }

    /// How long after submitting a run (`execute_workflow_and_wait`) the first poll goes
    /// out. By default one poll interval: a run submitted a moment ago is not done yet,
    /// and polling it at once only competes with other work (thousands of waits started
    /// together would poll their runs while later ones are still being submitted).
    /// `Duration::ZERO` polls at once. Never more than half the deadline, so a short wait
    /// still sees its run's status once. `wait_for_run` always polls at once: its run was
    /// started earlier.
    pub fn first_poll_after(mut self, delay: Duration) -> Self {
        self.first_poll_after = Some(delay);
        self
    }

    /// Multiplies the interval by `factor` (at least 1) after every poll that brought no
    /// news, up to `max_interval`; news (a status change, an output) resets it.
    pub fn backoff(mut self, factor: f64, max_interval: Duration) -> Self {
        let factor = if factor.is_finite() {
            factor.max(1.0)
        } else {
            1.0
        };
        self.backoff = Some((factor, max_interval));
        self
    }

    /// On timeout, cancel the run on FlowScale before returning [`Error::Timeout`].
    ///
    /// The end of the deadline ([`CANCEL_RESERVE`], or a tenth of a deadline under 10 s)
    /// is kept for the cancel request, so the wait still returns by its deadline.
    pub fn cancel_on_timeout(mut self, cancel: bool) -> Self {
        self.cancel_on_timeout = cancel;
        self
    }

    /// How many transient failures (connection errors, 429, 5xx) in a row are retried
    /// before the wait returns the last one. `0` returns the first.
    pub fn max_poll_failures(mut self, n: u32) -> Self {
        self.max_poll_failures = n;
        self
    }

    /// Calls `callback` with every [`RunEvent`], in order, each once. Keep it quick: it
    /// runs inside the wait loop.
    pub fn on_event(mut self, callback: impl Fn(&RunEvent) + Send + Sync + 'static) -> Self {
        self.on_event = Some(Arc::new(callback));
        self
    }

    /// Ends the wait with [`Error::Interrupted`] (which carries the run id) once `flag` is
    /// set: a Ctrl-C handler sets it, say. It is looked at before every poll and at least
    /// every 100 ms of a pause; a request in flight is not cut short. The run goes on on
    /// FlowScale. May be given more than once: any of the flags stops the wait.
    pub fn stop_on(mut self, flag: Arc<AtomicBool>) -> Self {
        self.stop.push(flag);
        self
    }

    /// Whether a flag given to [`WaitOptions::stop_on`] is set.
    pub(crate) fn stopped(&self) -> bool {
        self.stop.iter().any(|f| f.load(Ordering::SeqCst))
    }
}

/// What happens during a wait, in order.
///
/// Serialized with serde as an object tagged by `event`, as
/// `{"event": "status_changed", "run_id": "...", "status": "running"}`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "event", rename_all = "snake_case")]
#[non_exhaustive]
pub enum RunEvent {
    /// The run was started (only from `execute_workflow_and_wait`).
    Submitted {
        /// The new run.
        run_id: String,
    },
    /// The submission's answer was lost and its run was found for certain among the pod's
    /// runs (sent just before `Submitted`): said out loud, with why it is this run.
    Recovered {
        /// The run found.
        run_id: String,
        /// Why it is this submission's run: when it was created, the rules it met.
        why: String,
    },
    /// The run's status changed (the first status seen counts as a change).
    StatusChanged {
        /// The run.
        run_id: String,
        /// Its new status.
        status: RunStatus,
    },
    /// The list of outputs to wait for became known, or grew.
    OutputNamesKnown {
        /// The run.
        run_id: String,
        /// Every output name known so far, in order.
        names: Vec<String>,
    },
    /// One output is ready.
    OutputReady {
        /// The run.
        run_id: String,
        /// The output's name.
        name: String,
        /// Where to download it.
        download_url: String,
    },
    /// A poll failed with a transient error and will be retried.
    Retrying {
        /// The run.
        run_id: String,
        /// Failures in a row so far.
        attempt: u32,
        /// What went wrong.
        error: String,
        /// How long until the next try.
        delay: Duration,
    },
    /// The wait ended with the run's final status (completed, failed, error, cancelled).
    Finished {
        /// The run.
        run_id: String,
        /// How it ended.
        status: RunStatus,
    },
}

impl fmt::Display for RunEvent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RunEvent::Submitted { run_id } => write!(f, "run {run_id} submitted"),
            RunEvent::Recovered { run_id, why } => write!(
                f,
                "the answer to the submission was lost; run {run_id} is its run: {why}"
            ),
            RunEvent::StatusChanged { run_id, status } => write!(f, "run {run_id} is {status}"),
            RunEvent::OutputNamesKnown { run_id, names } => {
                write!(
                    f,
                    "run {run_id} will produce {} output(s): {}",
                    names.len(),
                    names.join(", ")
                )
            }
            RunEvent::OutputReady { name, .. } => write!(f, "output {name} is ready"),
            RunEvent::Retrying {
                attempt,
                error,
                delay,
                ..
            } => write!(f, "poll failed ({error}); retry {attempt} in {delay:?}"),
            RunEvent::Finished { run_id, status } => write!(f, "run {run_id} finished: {status}"),
        }
    }
}

/// A completed run and its outputs (a run that did not complete is an error instead).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct WorkflowResult {
    /// The run.
    pub run_id: String,
    /// The workflow it ran, when known.
    pub workflow_id: Option<String>,
    /// Every output, in output-name order.
    pub outputs: Vec<OutputFile>,
}

impl WorkflowResult {
    /// The first output of the workflow's output `name` (as the catalog and
    /// `flowscale.lock` name it: `image_output`), whose files a run names
    /// `<name>_<node>_<suffix>` (`image_output_58359_5WWF7GQUYF`); or the output named
    /// `name` exactly. `None` if the run made none.
    ///
    /// ```
    /// # let result: flowscale::WorkflowResult = serde_json::from_value(serde_json::json!({
    /// #     "run_id": "r", "workflow_id": "w", "outputs": [
    /// #         {"name": "image_output_58359_5WWF7GQUYF", "download_url": "https://x/a.png", "generation_status": "success"},
    /// #         {"name": "image_output_hd_3_ABC", "download_url": "https://x/b.png", "generation_status": "success"}]})).unwrap();
    /// let image = result.output("image_output").unwrap();
    /// assert_eq!(image.name, "image_output_58359_5WWF7GQUYF");
    /// assert_eq!(result.output("image_output_hd").unwrap().download_url, "https://x/b.png");
    /// assert!(result.output("image").is_none());
    /// ```
    pub fn output(&self, name: &str) -> Option<&OutputFile> {
        (self.outputs.iter()).find(|o| o.name == name || output_prefix(&o.name) == Some(name))
    }
}

/// The output name in a run's file name `<name>_<node>_<suffix>`: `None` when the file
/// name is not of that form.
fn output_prefix(file: &str) -> Option<&str> {
    let (rest, suffix) = file.rsplit_once('_')?;
    let (name, node) = rest.rsplit_once('_')?;
    let numbered = !node.is_empty() && node.bytes().all(|b| b.is_ascii_digit());
    (numbered && !suffix.is_empty() && !name.is_empty()).then_some(name)
}

/// One output of a completed run.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct OutputFile {
    /// The output's name (no extension).
    pub name: String,
    /// A presigned link to the file; download it without the API key.
    pub download_url: String,
    /// `"success"` when generated.
    pub generation_status: String,
    /// The file name the run reports for this output (with its extension), when it does.
    /// It comes from the server: use [`download_outputs`](crate::Client::download_outputs)
    /// rather than joining it to a directory yourself.
    #[serde(default)]
    pub filename: Option<String>,
}

/// What the wait loop does next.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Step {
    /// Every output is ready.
    Done,
    /// Poll again after this long.
    Sleep(Duration),
    /// The deadline has come: give up (cancelling first, if asked).
    TimedOut,
}

/// The state of one wait.
pub(crate) struct Waiter<'a> {
    options: &'a WaitOptions,
    run_id: String,
    workflow_id: Option<String>,
    started: Instant,
    /// When the caller's deadline passes.
    deadline: Instant,
    /// When polling stops: the deadline, less the reserve for a cancel on timeout.
    poll_deadline: Instant,
    /// Output names in order, each with its answer once ready.
    outputs: Vec<(String, Option<Output>)>,
    /// The files the run reports, for the outputs' real file names.
    files: Vec<RunOutput>,
    status: Option<RunStatus>,
    failures: u32,
    interval: Duration,
    news: bool,
    names_from_execute: bool,
    /// The failure the next sleep is a retry of, if any.
    last_failure: Option<String>,
    /// The pause before the first poll, until it is taken.
    first_delay: Option<Duration>,
    /// When the poll in progress (or the last one) started: polls keep to their interval
    /// from start to start, so slow answers do not make every later poll later.
    poll_started: Option<Instant>,
}

impl<'a> Waiter<'a> {
    /// The wait of `run_id`, starting `now` (the time is always an input here: the loop
    /// that does the I/O reads the clock).
    pub fn new(
        options: &'a WaitOptions,
        run_id: String,
        workflow_id: Option<String>,
        now: Instant,
    ) -> Self {
        let started = now;
        let deadline = clock::later(started, options.timeout);
        let reserve = if options.cancel_on_timeout {
            CANCEL_RESERVE.min(options.timeout / 10)
        } else {
            Duration::ZERO
        };
        Waiter {
            options,
            run_id,
            workflow_id,
            started,
            deadline,
            poll_deadline: deadline.checked_sub(reserve).unwrap_or(deadline),
            outputs: Vec::new(),
            files: Vec::new(),
            status: None,
            failures: 0,
            interval: options.poll_interval,
            news: false,
            names_from_execute: false,
            last_failure: None,
            first_delay: None,
            poll_started: None,
        }
    }

    pub fn run_id(&self) -> &str {
        &self.run_id
    }

    pub fn cancel_on_timeout(&self) -> bool {
        self.options.cancel_on_timeout
    }

    /// The wait was asked to stop ([`WaitOptions::stop_on`]): the error to end it with.
    pub fn interrupted(&self) -> Option<Error> {
        self.options.stopped().then(|| Error::Interrupted {
            run_id: self.run_id.clone(),
        })
    }

    /// How long to sleep before looking at the stop flags again: all of `delay`, or at
    /// most 100 ms while a flag could end the wait.
    pub fn pause(&self, delay: Duration) -> Duration {
        if self.options.stop.is_empty() {
            delay
        } else {
            delay.min(STOP_CHECK)
        }
    }

    /// When polling must stop: every poll request is bounded by it.
    pub fn poll_deadline(&self) -> Instant {
        self.poll_deadline
    }

    /// When the whole wait must end: the cancel on timeout is bounded by it.
    pub fn deadline(&self) -> Instant {
        self.deadline
    }

    fn emit(&self, event: RunEvent) {
        if let Some(cb) = &self.options.on_event {
            cb(&event);
        }
    }

    /// The run was just started; `names` are the output names the execute response gave.
    pub fn submitted(&mut self, names: &[String], recovery: Option<&str>) {
        if let Some(why) = recovery {
            self.emit(RunEvent::Recovered {
                run_id: self.run_id.clone(),
                why: why.to_owned(),
            });
        }
        self.emit(RunEvent::Submitted {
            run_id: self.run_id.clone(),
        });
        self.add_names(names);
        self.names_from_execute = !self.outputs.is_empty();
        let delay = self.options.first_poll_after;
        self.first_delay = Some(delay.unwrap_or(self.options.poll_interval));
    }

    /// What comes before the next poll: once, after a fresh submission, a pause (at most
    /// half the time left); `None` when the poll can go out now.
    pub fn before_poll(&mut self, now: Instant) -> Option<Step> {
        let left = self.time_left(now);
        if left.is_zero() {
            return Some(Step::TimedOut);
        }
        match self.first_delay.take() {
            Some(delay) if !delay.is_zero() => Some(Step::Sleep(delay.min(left / 2))),
            _ => {
                self.poll_started = Some(now);
                None
            }
        }
    }

    /// Adds output names not seen yet, keeping their order.
    pub fn add_names(&mut self, names: &[String]) {
        let before = self.outputs.len();
        for name in names {
            if !name.is_empty() && !self.outputs.iter().any(|(n, _)| n == name) {
                self.outputs.push((name.clone(), None));
            }
        }
        if self.outputs.len() > before {
            self.news = true;
            self.emit(RunEvent::OutputNamesKnown {
                run_id: self.run_id.clone(),
                names: self.outputs.iter().map(|(n, _)| n.clone()).collect(),
            });
        }
    }

    /// Takes a fresh view of the run: status events, new output names, failure.
    pub fn on_run(&mut self, run: &Run) -> Result<()> {
        if self.status.as_ref() != Some(&run.status) {
            self.status = Some(run.status.clone());
            self.news = true;
            self.emit(RunEvent::StatusChanged {
                run_id: self.run_id.clone(),
                status: run.status.clone(),
            });
        }
        if self.workflow_id.is_none() {
            self.workflow_id = run.workflow_id.clone();
        }
        if !run.outputs.is_empty() {
            self.files = run.outputs.clone();
        }
        if run.status.is_failure() {
            self.emit(RunEvent::Finished {
                run_id: self.run_id.clone(),
                status: run.status.clone(),
            });
            return Err(Error::RunFailed {
                run_id: self.run_id.clone(),
                status: run.status.clone(),
            });
        }
        self.add_names(&run.output_names);
        Ok(())
    }

    /// Outputs worth asking for now: known, not ready, and the run has started.
    pub fn pending(&self) -> Vec<String> {
        if matches!(self.status, Some(RunStatus::Queued | RunStatus::Pending)) {
            return Vec::new();
        }
        self.outputs
            .iter()
            .filter(|(_, out)| out.is_none())
            .map(|(n, _)| n.clone())
            .collect()
    }

    /// Takes one output's answer.
    pub fn on_output(&mut self, name: &str, answer: Result<Option<Output>>) -> Result<()> {
        let out = match answer {
            Ok(Some(out)) => out,
            Ok(None) => return Ok(()),
            Err(Error::RunTimedOut { output, .. }) => {
                return Err(Error::RunTimedOut {
                    output,
                    run_id: Some(self.run_id.clone()),
                });
            }
            Err(e) => return Err(e),
        };
        if let Some(i) = self.outputs.iter().position(|(n, _)| n == name) {
            self.news = true;
            self.emit(RunEvent::OutputReady {
                run_id: self.run_id.clone(),
                name: name.to_owned(),
                download_url: out.download_url.clone(),
            });
            self.outputs[i].1 = Some(out);
        }
        Ok(())
    }

    /// Every known output is ready, and no more can appear: the run says `completed`, or
    /// the names came from the execute response (older servers send the final list there).
    /// A run that completed with no outputs is complete too.
    fn is_complete(&self) -> bool {
        let all_ready = self.outputs.iter().all(|(_, o)| o.is_some());
        let final_list = self.status == Some(RunStatus::Completed)
            || (self.names_from_execute && !self.outputs.is_empty());
        all_ready && final_list
    }

    /// What to do after a poll: finish, sleep, or give up. A transient failure within the
    /// bound is retried (after a `Retrying` event) when the deadline leaves time for it;
    /// any other failure ends the wait.
    pub fn after_poll(&mut self, outcome: Result<()>, now: Instant) -> Result<Step> {
        self.last_failure = None;
        let delay = match outcome {
            Ok(()) if self.is_complete() => return Ok(Step::Done),
            Ok(()) => {
                self.poll_succeeded();
                // The interval runs from the start of this poll, but a pause always follows.
                let took = (self.poll_started)
                    .map_or(Duration::ZERO, |t| now.saturating_duration_since(t));
                self.interval.saturating_sub(took).max(MIN_POLL_INTERVAL)
            }
            Err(error) => {
                if !error.is_retryable() || self.failures >= self.options.max_poll_failures {
                    return Err(self.gave_up(error));
                }
                let delay = error
                    .retry_after()
                    .map_or(self.interval, |d| d.max(self.interval));
                if delay >= self.time_left(now) {
                    // No retry can happen before the deadline: announce none.
                    return Ok(Step::TimedOut);
                }
                self.failures += 1;
                self.last_failure = Some(error.to_string());
                self.emit(RunEvent::Retrying {
                    run_id: self.run_id.clone(),
                    attempt: self.failures,
                    error: error.to_string(),
                    delay,
                });
                return Ok(Step::Sleep(delay));
            }
        };
        match self.time_left(now) {
            Duration::ZERO => Ok(Step::TimedOut),
            left => Ok(Step::Sleep(delay.min(left))),
        }
    }

    /// The error a wait ends with: a run's own end as it is; any other failure with the
    /// run id, so that the caller can always resume.
    fn gave_up(&self, error: Error) -> Error {
        match error {
            Error::RunFailed { .. }
            | Error::Timeout { .. }
            | Error::Interrupted { .. }
            | Error::WaitFailed { .. } => error,
            Error::RunTimedOut { output, .. } => Error::RunTimedOut {
                output,
                run_id: Some(self.run_id.clone()),
            },
            other => Error::WaitFailed {
                run_id: self.run_id.clone(),
                last_status: self.status.clone(),
                cause: Box::new(other),
            },
        }
    }

    /// When the coming sleep is before a retry: which one, and what failed.
    pub fn retrying(&self) -> Option<(u32, &str)> {
        self.last_failure.as_deref().map(|e| (self.failures, e))
    }

    /// A poll went through: the failure streak ends, and the interval backs off when
    /// nothing changed.
    fn poll_succeeded(&mut self) {
        self.failures = 0;
        match self.options.backoff {
            Some((factor, max)) if !self.news => {
                self.interval =
                    clock::scale(self.interval, factor).min(max.max(self.options.poll_interval));
            }
            _ => self.interval = self.options.poll_interval,
        }
        self.news = false;
    }

    /// Time left for polling at `now`.
    pub fn time_left(&self, now: Instant) -> Duration {
        self.poll_deadline.saturating_duration_since(now)
    }

    /// The error for a wait past its deadline, at `now`.
    pub fn timeout_error(&self, now: Instant) -> Error {
        Error::Timeout {
            run_id: self.run_id.clone(),
            elapsed: now.saturating_duration_since(self.started),
            last_status: self.status.clone(),
        }
    }

    /// The result of a completed wait.
    pub fn finish(self) -> WorkflowResult {
        self.emit(RunEvent::Finished {
            run_id: self.run_id.clone(),
            status: RunStatus::Completed,
        });
        let files = self.files;
        WorkflowResult {
            run_id: self.run_id,
            workflow_id: self.workflow_id,
            outputs: self
                .outputs
                .into_iter()
                .filter_map(|(name, out)| {
                    let filename = file_for(&files, &name);
                    out.map(|o| OutputFile {
                        name,
                        download_url: o.download_url,
                        generation_status: o.generation_status,
                        filename,
                    })
                })
                .collect(),
        }
    }
}

/// The file name the run reports for output `name`: the file whose base name is `name`
/// plus an extension (or `name` itself).
pub(crate) fn file_for(files: &[RunOutput], name: &str) -> Option<String> {
    files
        .iter()
        .map(|f| f.filename.as_str())
        .find(|f| {
            let base = f.rsplit(['/', '\\']).next().unwrap_or_default();
            base == name
                || base
                    .strip_prefix(name)
                    .is_some_and(|ext| ext.starts_with('.') && !ext[1..].contains('.'))
        })
        .map(str::to_owned)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_output_finds_the_file_the_run_reports() {
        let files: Vec<RunOutput> = serde_json::from_value(serde_json::json!([
            {"filename": "outputs/image_58358_A.png"},
            {"filename": "image_58358_AB.webp"},
            {"filename": "other.tar.gz"},
        ]))
        .unwrap();
        let found = |name| file_for(&files, name);
        assert_eq!(
            found("image_58358_A").as_deref(),
            Some("outputs/image_58358_A.png")
        );
        assert_eq!(
            found("image_58358_AB").as_deref(),
            Some("image_58358_AB.webp")
        );
        assert_eq!(found("other"), None);
        assert_eq!(found("missing"), None);
    }

    #[test]
    fn a_fresh_run_is_first_polled_after_one_interval_and_only_then() {
        let t0 = Instant::now();
        let options = WaitOptions::new()
            .timeout(Duration::from_secs(600))
            .poll_interval(Duration::from_secs(2));
        let mut waiter = Waiter::new(&options, "r".into(), None, t0);
        waiter.submitted(&[], None);
        assert!(
            matches!(waiter.before_poll(t0), Some(Step::Sleep(d)) if d == Duration::from_secs(2))
        );
        assert!(waiter.before_poll(t0).is_none(), "the pause is taken once");

        // A run picked up again is polled at once.
        let mut resumed = Waiter::new(&options, "r".into(), None, t0);
        assert!(resumed.before_poll(t0).is_none());
    }

    #[test]
    fn the_first_poll_comes_by_half_the_deadline_or_at_once_when_asked() {
        let t0 = Instant::now();
        let short = WaitOptions::new()
            .timeout(Duration::from_secs(4))
            .poll_interval(Duration::from_secs(60));
        let mut waiter = Waiter::new(&short, "r".into(), None, t0);
        waiter.submitted(&[], None);
        assert!(
            matches!(waiter.before_poll(t0), Some(Step::Sleep(d)) if d <= Duration::from_secs(2))
        );

        let eager = WaitOptions::new().first_poll_after(Duration::ZERO);
        let mut waiter = Waiter::new(&eager, "r".into(), None, t0);
        waiter.submitted(&[], None);
        assert!(waiter.before_poll(t0).is_none());
    }

    #[test]
    fn polls_keep_their_interval_from_start_to_start() {
        let t0 = Instant::now();
        let options = WaitOptions::new().poll_interval(Duration::from_secs(1));
        let mut waiter = Waiter::new(&options, "r".into(), None, t0);
        assert!(waiter.before_poll(t0).is_none());
        // The poll took 30 ms: the pause is the rest of the interval, exactly.
        match waiter
            .after_poll(Ok(()), t0 + Duration::from_millis(30))
            .unwrap()
        {
            Step::Sleep(d) => assert_eq!(d, Duration::from_millis(970)),
            _ => panic!("the wait goes on"),
        }

        // A poll slower than the interval is still followed by a pause.
        let options = WaitOptions::new().poll_interval(MIN_POLL_INTERVAL);
        let mut waiter = Waiter::new(&options, "r".into(), None, t0);
        assert!(waiter.before_poll(t0).is_none());
        let late = t0 + MIN_POLL_INTERVAL * 2;
        assert!(
            matches!(waiter.after_poll(Ok(()), late).unwrap(), Step::Sleep(d) if d == MIN_POLL_INTERVAL)
        );
    }
}
