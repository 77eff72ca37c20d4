//! What is known of one submission, and the handle that shows it: one place that says
//! whether a run may exist, so that every message about a run (paid, not paid, found,
//! lost) is derived from it rather than guessed where it is printed.
//!
//! The states, in order: nothing sent yet (`Pending`); the body going out (`Sending`:
//! stopping it now means no run); the body out whole and the answer awaited (`SentWhole`:
//! a run may exist); then one end: answered (`Started`), nothing submitted
//! (`NotSubmitted`: stopped before its end, refused before a run could start), refused by
//! FlowScale (`Refused`), or the answer lost (`Lost`), and then its run found for certain
//! (`Found`) or not (`Doubt`). The rules that move a submission from one state to the next
//! are in `decide::submission`; this file holds the states and the flags the upload shares.

use std::fmt;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::SystemTime;

/// Whether a submission may have started a run, and so be paid for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Paid {
    /// No run was or can be started from it.
    No,
    /// A run may exist: its request went out whole and its run is not known. Look among
    /// the runs created since it was sent before submitting it again.
    Maybe,
    /// A run was started (its id is known).
    Yes,
}

/// Where one submission is, as far as this client knows. Every message about a run
/// (`flowscale run`'s, a batch's, an interrupt's) comes from this state.
///
/// Watch a submission with a [`SubmissionHandle`] given to
/// [`Inputs::track`](crate::Inputs::track).
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum SubmissionState {
    /// Checked (or not yet), nothing sent: stopping it now costs nothing.
    Pending,
    /// The body is going out: stopping it now cuts it short, and no run starts.
    Sending {
        /// When the request began to go out.
        sent_at: SystemTime,
    },
    /// The whole body went out and its answer is awaited: a run may exist.
    SentWhole {
        /// When the request began to go out.
        sent_at: SystemTime,
    },
    /// Nothing was submitted: the upload was stopped before its end, or the request was
    /// refused before a run could start (the key, no connection, a missing file).
    NotSubmitted {
        /// Why, in words.
        reason: String,
    },
    /// FlowScale refused the request (a 4xx other than the key's): no run.
    Refused {
        /// The HTTP status.
        status: u16,
    },
    /// FlowScale answered: the run started.
    Started {
        /// The run's id.
        run_id: String,
    },
    /// The request went out whole but its answer was lost; its run is being looked for.
    Lost {
        /// When the request began to go out.
        sent_at: SystemTime,
    },
    /// The answer was lost and the run was found for certain among FlowScale's runs.
    Found {
        /// The run's id.
        run_id: String,
        /// When the request began to go out.
        sent_at: SystemTime,
        /// Why it is this submission's run, in words.
        why: String,
    },
    /// The answer was lost and its run could not be named for certain: a run may exist.
    Doubt {
        /// When the request began to go out.
        sent_at: SystemTime,
        /// Why it could not be named, in words.
        reason: String,
        /// Runs that may be it (none when none is listed yet).
        candidates: Vec<String>,
    },
}

impl SubmissionState {
    /// Whether a run may exist.
    pub fn paid(&self) -> Paid {
        match self {
            SubmissionState::Pending
            | SubmissionState::Sending { .. }
            | SubmissionState::NotSubmitted { .. }
            | SubmissionState::Refused { .. } => Paid::No,
            SubmissionState::Started { .. } | SubmissionState::Found { .. } => Paid::Yes,
            SubmissionState::SentWhole { .. }
            | SubmissionState::Lost { .. }
            | SubmissionState::Doubt { .. } => Paid::Maybe,
        }
    }

    /// The run, when it is known.
    pub fn run_id(&self) -> Option<&str> {
        match self {
            SubmissionState::Started { run_id } | SubmissionState::Found { run_id, .. } => {
                Some(run_id)
            }
            _ => None,
        }
    }

    /// When the request began to go out, once it has.
    pub fn sent_at(&self) -> Option<SystemTime> {
        match self {
            SubmissionState::Sending { sent_at }
            | SubmissionState::SentWhole { sent_at }
            | SubmissionState::Lost { sent_at }
            | SubmissionState::Found { sent_at, .. }
            | SubmissionState::Doubt { sent_at, .. } => Some(*sent_at),
            _ => None,
        }
    }
}

impl SubmissionState {
    /// A doubt as the error a call returns ([`Error::AnswerLost`](crate::Error::AnswerLost),
    /// with `cause`, what lost the answer); `None` for any other state.
    pub(crate) fn answer_lost(
        self,
        workflow_id: String,
        cause: crate::wire::error::Error,
    ) -> Option<crate::wire::error::Error> {
        match self {
            SubmissionState::Doubt {
                sent_at,
                reason,
                candidates,
            } => Some(crate::wire::error::Error::answer_lost(
                workflow_id,
                sent_at,
                reason,
                candidates,
                cause,
            )),
            _ => None,
        }
    }
}

impl fmt::Display for SubmissionState {
    /// What is known of the run, in one sentence.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let at = |t: &SystemTime| crate::wire::error::rfc3339(*t);
        match self {
            SubmissionState::Pending => f.write_str("nothing was sent: no run was started"),
            SubmissionState::Sending { .. } => f.write_str(
                "the upload had not gone out whole: no run can start from it, nothing is paid for",
            ),
            SubmissionState::SentWhole { sent_at } => write!(
                f,
                "the request went out whole at {} and its answer did not come: a run may exist \
                 and be paid for",
                at(sent_at)
            ),
            SubmissionState::NotSubmitted { reason } => {
                write!(f, "nothing was submitted ({reason}): no run was started")
            }
            SubmissionState::Refused { status } => {
                write!(
                    f,
                    "FlowScale refused the request ({status}): no run was started"
                )
            }
            SubmissionState::Started { run_id } => write!(f, "run {run_id} started"),
            SubmissionState::Lost { sent_at } => write!(
                f,
                "the answer to the request sent at {} was lost: a run may exist",
                at(sent_at)
            ),
            SubmissionState::Found { run_id, why, .. } => {
                write!(
                    f,
                    "run {run_id} started (its answer was lost; found: {why})"
                )
            }
            SubmissionState::Doubt {
                sent_at,
                reason,
                candidates,
            } => {
                write!(
                    f,
                    "the answer to the request sent at {} was lost and {reason}: a run may \
                     exist and be paid for",
                    at(sent_at)
                )?;
                if !candidates.is_empty() {
                    write!(f, " (it may be {})", candidates.join(", "))?;
                }
                Ok(())
            }
        }
    }
}

/// A submission whose caller went away (its future dropped) before hearing of its run:
/// what `AsyncClientBuilder::on_orphaned_run` is called with. Its run is paid for
/// ([`Paid::Yes`]: `run_id`), or may be (a lost answer, [`Paid::Maybe`]: look among the runs
/// created since `state.sent_at()`); submissions that provably started no run are not
/// reported.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct OrphanedRun {
    /// What is known of the submission: `Started` or `Found` (the run), or `Doubt`.
    pub state: SubmissionState,
    /// The workflow submitted.
    pub workflow_id: String,
    /// The group the run was filed under, if any: whose run it was.
    pub group_id: Option<String>,
}

impl OrphanedRun {
    /// The run, when it is known.
    pub fn run_id(&self) -> Option<&str> {
        self.state.run_id()
    }
}

/// One field as it went out: what a run whose answer was lost is recognised by.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum SentValue {
    /// A text field's text (numbers, booleans and JSON as they were sent).
    Text(String),
    /// A file part: its filename, and its size once known (a reader's when it ends).
    File { filename: String, size: Option<u64> },
}

/// The workflow a submission is for, and its group.
type Target = (String, Option<String>);

/// Fields as they went out, in order: (name, what was sent).
pub(crate) type SentFields = Vec<(String, SentValue)>;

/// What the sender of an upload, its body and the caller's handle share: whether the body
/// went out whole, whether it is to stop before its end, the fields as they went out, and
/// the submission's state.
#[derive(Clone, Debug, Default)]
pub(crate) struct UploadFlags {
    /// Set once the body's last byte has been handed to the connection (at once for a body
    /// sent in one piece). While it is unset, the server cannot hold a complete request, so
    /// no run was started: an error then sent nothing that could be paid for.
    pub whole: Arc<AtomicBool>,
    /// When `whole` was set (milliseconds since the epoch; 0 before): no run of the request
    /// was created earlier, which is what a lost answer's run is first judged by.
    pub whole_at: Arc<std::sync::atomic::AtomicU64>,
    /// Set to stop the upload before its end (a caller gone, a handle's `stop`): the body
    /// fails at its next piece, the request is cut short, and no run can start from it.
    pub stop: Arc<AtomicBool>,
    /// The caller's own stop flags ([`Inputs::stop_on`](crate::Inputs::stop_on), a
    /// batch's): any of them stops the upload as `stop` does.
    pub also_stop: Vec<Arc<AtomicBool>>,
    /// Every field as it went out, in order; streamed fields are added as they go.
    pub sent: Arc<Mutex<SentFields>>,
    /// The submission's state, as the client last set it.
    state: Arc<Mutex<Option<SubmissionState>>>,
    /// The workflow and group it is for, once prepared: what its run is looked for by.
    target: Arc<Mutex<Option<Target>>>,
}

impl UploadFlags {
    /// Whether the whole body went out.
    pub fn whole(&self) -> bool {
        self.whole.load(Ordering::SeqCst)
    }

    /// The whole body went out (its last byte handed to the connection) now.
    pub fn mark_whole(&self) {
        if !self.whole.swap(true, Ordering::SeqCst) {
            let now = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX));
            self.whole_at.store(now, Ordering::SeqCst);
        }
    }

    /// When the whole body went out (milliseconds since the epoch), once it has.
    pub fn whole_at_ms(&self) -> Option<u64> {
        Some(self.whole_at.load(Ordering::SeqCst)).filter(|&ms| ms > 0 && self.whole())
    }

    /// Whether the upload is to stop before its end.
    pub fn stopped(&self) -> bool {
        self.stop.load(Ordering::SeqCst) || self.also_stop.iter().any(|f| f.load(Ordering::SeqCst))
    }

    /// The fields as they went out, so far.
    pub fn sent_fields(&self) -> SentFields {
        self.sent
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// Records fields that went out (streamed ones, as they go: `AsyncClient` only).
    #[cfg_attr(not(feature = "async"), allow(dead_code))]
    pub fn record_sent(&self, fields: impl IntoIterator<Item = (String, SentValue)>) {
        self.sent
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .extend(fields);
    }

    /// A reader's part ended after `size` bytes: its size is known now.
    pub fn reader_ended(&self, field: &str, size: u64) {
        let mut sent = self.sent.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some((_, SentValue::File { size: known, .. })) = sent
            .iter_mut()
            .rev()
            .find(|(name, v)| name == field && matches!(v, SentValue::File { size: None, .. }))
        {
            *known = Some(size);
        }
    }

    /// The workflow and group the submission is for.
    pub fn set_target(&self, workflow_id: &str, group_id: Option<&str>) {
        *self.target.lock().unwrap_or_else(PoisonError::into_inner) =
            Some((workflow_id.to_owned(), group_id.map(str::to_owned)));
    }

    /// The workflow and group the submission is for, once prepared.
    pub fn target(&self) -> Option<Target> {
        self.target
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// A submission begins with these fields: `Pending`. A handle watches one submission:
    /// flags already used are refused (their state would mix two submissions').
    pub fn begin(&self, sent: SentFields) -> Result<(), crate::wire::error::Error> {
        let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        if state.is_some() {
            return Err(crate::wire::error::Error::input(
                "track",
                "this SubmissionHandle already watches a submission: give each one a new handle",
            ));
        }
        *state = Some(SubmissionState::Pending);
        *self.sent.lock().unwrap_or_else(PoisonError::into_inner) = sent;
        Ok(())
    }

    /// Sets the state (`decide::submission` says which).
    pub fn set(&self, state: SubmissionState) {
        *self.state.lock().unwrap_or_else(PoisonError::into_inner) = Some(state);
    }

    /// The state: the one set last, with what the upload's flags tell since (a body that
    /// went out whole while it was `Sending` is `SentWhole`).
    pub fn state(&self) -> SubmissionState {
        let set = self
            .state
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone();
        match set {
            None => SubmissionState::Pending,
            Some(SubmissionState::Sending { sent_at }) if self.whole() => {
                SubmissionState::SentWhole { sent_at }
            }
            Some(state) => state,
        }
    }
}

/// A window on one submission: where it is ([`state`](Self::state)), and a way to stop
/// its upload ([`stop`](Self::stop)). Give it to [`Inputs::track`](crate::Inputs::track);
/// clones share the submission.
///
/// This is how a command-line tool says the truth on Ctrl-C: before the body went out
/// whole, `stop` means no run; after, a run may exist, and the handle says since when to
/// look for it.
///
/// ```
/// use flowscale::{Inputs, Paid, SubmissionHandle, SubmissionState};
/// let handle = SubmissionHandle::new();
/// let inputs = Inputs::new().set("text_51536", "a cat").track(&handle);
/// assert_eq!(handle.state(), SubmissionState::Pending);
/// assert_eq!(handle.state().paid(), Paid::No);
/// // ... client.execute_workflow("bncu0a1kipv", inputs) on another thread ...
/// # drop(inputs);
/// ```
#[derive(Clone, Debug, Default)]
pub struct SubmissionHandle {
    flags: UploadFlags,
}

impl SubmissionHandle {
    /// A handle for one submission, not sent yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// What is known of the submission now.
    pub fn state(&self) -> SubmissionState {
        self.flags.state()
    }

    /// Stops the upload if it has not gone out whole: the body fails at its next piece and
    /// no run starts (the call returns [`Error::Input`](crate::Error::Input) with field
    /// `upload`). Once the body went out whole it changes nothing: a run may exist, and
    /// the call waits for its answer.
    pub fn stop(&self) {
        self.flags.stop.store(true, Ordering::SeqCst);
    }

    /// Whether [`stop`](Self::stop) was called.
    pub fn is_stopped(&self) -> bool {
        self.flags.stop.load(Ordering::SeqCst)
    }

    /// The flags the upload and the client share.
    pub(crate) fn flags(&self) -> &UploadFlags {
        &self.flags
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{Duration, UNIX_EPOCH};

    #[test]
    fn a_body_out_whole_while_sending_is_sent_whole() {
        let flags = UploadFlags::default();
        assert_eq!(flags.state(), SubmissionState::Pending);
        flags.begin(Vec::new()).unwrap();
        let at = UNIX_EPOCH + Duration::from_secs(5);
        flags.set(SubmissionState::Sending { sent_at: at });
        assert_eq!(flags.state().paid(), Paid::No);
        assert_eq!(flags.whole_at_ms(), None);
        flags.mark_whole();
        assert_eq!(flags.state(), SubmissionState::SentWhole { sent_at: at });
        assert_eq!(flags.state().paid(), Paid::Maybe);
        assert!(flags.whole_at_ms().is_some());
        // An answer settles it, whatever the flags say.
        flags.set(SubmissionState::Started {
            run_id: "r".to_owned(),
        });
        assert_eq!(flags.state().run_id(), Some("r"));
    }

    #[test]
    fn a_handle_watches_one_submission() {
        let handle = SubmissionHandle::new();
        handle.flags().begin(Vec::new()).unwrap();
        assert!(handle.flags().begin(Vec::new()).is_err());
        assert!(!handle.is_stopped());
        handle.stop();
        assert!(handle.is_stopped() && handle.flags().stopped());
    }

    #[test]
    fn a_readers_size_is_known_when_it_ends() {
        let flags = UploadFlags::default();
        flags
            .begin(vec![(
                "image".to_owned(),
                SentValue::File {
                    filename: "a.png".to_owned(),
                    size: None,
                },
            )])
            .unwrap();
        flags.reader_ended("image", 42);
        assert_eq!(
            flags.sent_fields(),
            [(
                "image".to_owned(),
                SentValue::File {
                    filename: "a.png".to_owned(),
                    size: Some(42)
                }
            )]
        );
    }

    #[test]
    fn every_state_says_whether_a_run_may_exist() {
        let at = UNIX_EPOCH;
        let cases = [
            (SubmissionState::Pending, Paid::No),
            (SubmissionState::Sending { sent_at: at }, Paid::No),
            (SubmissionState::SentWhole { sent_at: at }, Paid::Maybe),
            (
                SubmissionState::NotSubmitted {
                    reason: "x".to_owned(),
                },
                Paid::No,
            ),
            (SubmissionState::Refused { status: 422 }, Paid::No),
            (
                SubmissionState::Started {
                    run_id: "r".to_owned(),
                },
                Paid::Yes,
            ),
            (SubmissionState::Lost { sent_at: at }, Paid::Maybe),
            (
                SubmissionState::Found {
                    run_id: "r".to_owned(),
                    sent_at: at,
                    why: "w".to_owned(),
                },
                Paid::Yes,
            ),
            (
                SubmissionState::Doubt {
                    sent_at: at,
                    reason: "x".to_owned(),
                    candidates: vec![],
                },
                Paid::Maybe,
            ),
        ];
        for (state, paid) in cases {
            assert_eq!(state.paid(), paid, "{state:?}");
            // No state's words say "nothing is paid" where a run may exist.
            if paid == Paid::Maybe {
                assert!(!state.to_string().contains("nothing is paid"), "{state}");
                assert!(state.to_string().contains("may"), "{state}");
            }
        }
    }
}
