//! Finding the run of a submission whose answer was lost, written once and compiled into
//! both clients: the runs FlowScale lists, newest first, back to the send time on the pod's
//! clock (measured from the answers' `Date` headers), and the sizes of the file inputs of
//! the runs that may be it. What they say is decided in `decide::lost::match_lost`, without
//! I/O.

use std::collections::HashSet;

use super::{Client, maybe_async, transport};
use crate::decide::lost::{self, ClockOffset, KnownSizes, LostMatch, Sent};
use crate::decide::plan;
use crate::wire::error::Result;
use crate::wire::query::{MAX_PAGE_SIZE, RunsQuery, SortBy, SortOrder};
use crate::wire::request;
use crate::wire::response;
use crate::wire::submission::{SentValue, SubmissionHandle, SubmissionState};
use crate::wire::types::Run;

/// Now, in milliseconds since the epoch (0 for a clock before 1970): when a submission is
/// sent. Read here, by the client, and handed to the decisions as a value.
pub(super) fn now_ms() -> u64 {
    crate::decide::submission::ms(std::time::SystemTime::now())
}

/// The runs listed since a send time: oldest first, whether the list reaches back past it
/// (else a run not found may be further back than was read), and the pod's clock.
pub(crate) struct Listed {
    pub runs: Vec<Run>,
    pub reached_back: bool,
    pub clock: ClockOffset,
}

/// At most this many file inputs' links are asked for their size in one look.
const MAX_SIZE_PROBES: usize = 32;

impl Client {
    /// The runs this client's submissions have (answered or found).
    pub(super) fn claimed_runs(&self) -> HashSet<String> {
        self.claimed
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .ids()
            .clone()
    }

    /// Remembers a run as one of this client's submissions'; false when it was already.
    pub(super) fn claim_run(&self, run_id: &str) -> bool {
        self.claimed
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .claim(run_id)
    }

    /// Counts a submission of `workflow_id` with `fields` as waiting for its answer until
    /// the guard is dropped.
    pub(super) fn in_flight(&self, workflow_id: &str, fields: &[(String, SentValue)]) -> InFlight {
        let key = lost::inputs_key(workflow_id, fields);
        *self
            .in_flight
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .entry(key)
            .or_default() += 1;
        InFlight {
            table: self.in_flight.clone(),
            key,
        }
    }

    /// How many other submissions of this client with exactly these inputs wait for their
    /// answer (the caller's own counted out).
    pub(super) fn others_in_flight(
        &self,
        workflow_id: &str,
        fields: &[(String, SentValue)],
    ) -> usize {
        let key = lost::inputs_key(workflow_id, fields);
        self.in_flight
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .get(&key)
            .map_or(0, |n| n.saturating_sub(1))
    }
}

/// A submission waiting for its answer, counted in its client's table until dropped.
pub(crate) struct InFlight {
    table: std::sync::Arc<std::sync::Mutex<lost::InFlightTable>>,
    key: u64,
}

impl Drop for InFlight {
    fn drop(&mut self) {
        let mut table = self
            .table
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(n) = table.get_mut(&self.key) {
            *n = n.saturating_sub(1);
            if *n == 0 {
                table.remove(&self.key);
            }
        }
    }
}

#[maybe_async]
impl Client {
    /// The runs created since `sent_ms` (milliseconds since the epoch, our clock) on the
    /// pod's clock, in `group_id` when given: at most [`plan::LOST_SUBMISSION_PAGES`] pages.
    pub(super) async fn runs_since(&self, group_id: Option<&str>, sent_ms: u64) -> Result<Listed> {
        let mut query = RunsQuery::new()
            .sort_by(SortBy::CreatedAt)
            .sort_order(SortOrder::Desc)
            .page_size(MAX_PAGE_SIZE);
        if let Some(group) = group_id {
            query = query.group_id(group.to_owned());
        }
        let mut runs = Vec::new();
        let mut reached_back = false;
        let mut clock = ClockOffset::Unmeasured;
        for page in 1..=plan::LOST_SUBMISSION_PAGES {
            let resp = self
                .send(request::runs(
                    &self.settings.base_url,
                    &query.clone().page(page),
                ))
                .await?;
            let answered = now_ms();
            if page == 1 {
                let date = resp
                    .date
                    .as_deref()
                    .and_then(|d| httpdate::parse_http_date(d).ok())
                    .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
                    .map(|d| d.as_secs());
                clock = ClockOffset::from_answer(date, answered);
            }
            let floor = clock.floor(sent_ms);
            let listed = response::run_page(&resp)?.runs;
            let full = listed.len() >= MAX_PAGE_SIZE as usize;
            reached_back = !full || listed.iter().any(|r| lost::created_before(r, floor));
            runs.extend(listed);
            if reached_back {
                break;
            }
        }
        runs.reverse();
        Ok(Listed {
            runs,
            reached_back,
            clock,
        })
    }

    /// The sizes of the file inputs of the listed runs that may be a lost submission's
    /// (same workflow, a file of the same field and name), from their links: a link that
    /// cannot be read leaves the size unknown, which makes the match a doubt.
    pub(super) async fn learn_sizes(
        &self,
        listed: &Listed,
        sent: Sent<'_>,
        taken: &HashSet<String>,
    ) -> KnownSizes {
        let floor = listed.clock.floor(sent.sent_ms);
        let mut sizes = KnownSizes::new();
        if !sent
            .fields
            .iter()
            .any(|(_, v)| matches!(v, SentValue::File { .. }))
        {
            return sizes;
        }
        let mut probes = 0;
        for run in &listed.runs {
            let Some(id) = run.id.as_deref() else {
                continue;
            };
            if taken.contains(id)
                || run.workflow_id.as_deref() != Some(sent.workflow_id)
                || lost::created_before(run, floor)
            {
                continue;
            }
            for (field, url) in lost::sizes_to_learn(run, sent.fields) {
                if probes >= MAX_SIZE_PROBES {
                    return sizes;
                }
                probes += 1;
                if let Some(size) = self.link_size(url).await {
                    sizes.insert((id.to_owned(), field.to_owned()), size);
                }
            }
        }
        sizes
    }

    /// The length of what a link serves, from its answer's head (the body is not read).
    async fn link_size(&self, url: &str) -> Option<u64> {
        crate::wire::link::check_url(url).ok()?;
        let _turn = self.turn(url).await.ok()?;
        let (head, _body) = transport::fetch(&self.http, &self.settings, url, None)
            .await
            .ok()?;
        match head.status {
            200 => head.content_length,
            _ => None,
        }
    }

    /// Looks for the run of a submission whose request went out whole but whose answer has
    /// not come: what a tool does when the user gives up waiting for the answer (Ctrl-C),
    /// instead of saying "nothing is paid for" or waiting on. Since the answer is still
    /// awaited, the run cannot be named for certain (the pod may not list its own run yet,
    /// while another's matches): the result is a
    /// [`Doubt`](crate::SubmissionState::Doubt) naming the runs that match (one that
    /// matches exactly first), or the submission's own state if it moved on meanwhile (its
    /// answer came: `Started`). A submission not sent whole started no run, and one answered
    /// has its run: either is returned as it is, with no request.
    ///
    #[doc = example!(client {
        "use flowscale::{Inputs, Paid, SubmissionHandle};"
        "let handle = SubmissionHandle::new();"
        "let inputs = Inputs::new().set(\"text_51536\", \"a cat\").track(&handle);"
        "// ... the submission is on its way on another thread; the user gives up:"
        "handle.stop();"
        "if handle.state().paid() == Paid::Maybe {"
        "    eprintln!(\"{}\", client.locate_run(&handle));"
        "}"
        "# drop(inputs);"
    } {
        "use flowscale::{Inputs, Paid, SubmissionHandle};"
        "let handle = SubmissionHandle::new();"
        "let inputs = Inputs::new().set(\"text_51536\", \"a cat\").track(&handle);"
        "// ... the submission is on its way in another task; the user gives up:"
        "handle.stop();"
        "if handle.state().paid() == Paid::Maybe {"
        "    eprintln!(\"{}\", client.locate_run(&handle).await);"
        "}"
        "# drop(inputs);"
    })]
    pub async fn locate_run(&self, handle: &SubmissionHandle) -> SubmissionState {
        let state = handle.state();
        let flags = handle.flags();
        let sent_ms = match &state {
            SubmissionState::SentWhole { sent_at } | SubmissionState::Lost { sent_at } => flags
                .whole_at_ms()
                .unwrap_or_else(|| crate::decide::submission::ms(*sent_at)),
            _ => return state,
        };
        let Some((workflow_id, group_id)) = flags.target() else {
            return state;
        };
        let fields = flags.sent_fields();
        let found = self
            .find_lost_run(
                &workflow_id,
                group_id.as_deref(),
                &fields,
                sent_ms,
                self.others_in_flight(&workflow_id, &fields),
            )
            .await;
        // Its answer may have come while the runs were read: then that is what is known.
        let now = handle.state();
        if !matches!(
            now,
            SubmissionState::SentWhole { .. } | SubmissionState::Lost { .. }
        ) {
            return now;
        }
        let pending = match found {
            LostMatch::Found { run_id, why } => LostMatch::Doubt {
                reason: format!(
                    "run {run_id} matches it exactly ({why}), but the pod has not answered, so \
                     that it is this submission's is not certain"
                ),
                candidates: vec![run_id],
            },
            other => other,
        };
        crate::decide::submission::after_lookup(pending, sent_ms)
    }

    /// The run of one lost submission, as `match_lost` judges it against the runs listed;
    /// a list that cannot be read is a doubt.
    pub(super) async fn find_lost_run(
        &self,
        workflow_id: &str,
        group_id: Option<&str>,
        fields: &[(String, SentValue)],
        sent_ms: u64,
        rivals: usize,
    ) -> LostMatch {
        let listed = match self.runs_since(group_id, sent_ms).await {
            Ok(listed) => listed,
            Err(e) => {
                return LostMatch::Doubt {
                    reason: format!("the runs could not be listed to find it ({e})"),
                    candidates: Vec::new(),
                };
            }
        };
        let sent = Sent {
            workflow_id,
            fields,
            sent_ms,
        };
        self.judge_lost(&listed, sent, &self.claimed_runs(), 1, rivals)
            .await
    }

    /// Whether a run of `listed` is `sent`'s for certain (one of `copies` lost submissions
    /// of exactly its inputs, with `rivals` others of them still waiting for their answers),
    /// leaving out the runs `taken`; a run found is claimed.
    pub(super) async fn judge_lost(
        &self,
        listed: &Listed,
        sent: Sent<'_>,
        taken: &HashSet<String>,
        copies: usize,
        rivals: usize,
    ) -> LostMatch {
        let sizes = self.learn_sizes(listed, sent, taken).await;
        let found = lost::match_lost(
            &listed.runs,
            sent,
            listed.clock,
            &sizes,
            taken,
            listed.reached_back,
            copies,
        );
        match lost::among_rivals(found, rivals) {
            // Claimed at once, under the lock: two lost answers never take one run.
            LostMatch::Found { run_id, .. } if !self.claim_run(&run_id) => LostMatch::Doubt {
                reason: format!(
                    "run {run_id} matches it, but another submission of this client took it \
                     meanwhile"
                ),
                candidates: vec![run_id],
            },
            other => other,
        }
    }
}
