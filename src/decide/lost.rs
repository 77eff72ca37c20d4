//! Whether a run FlowScale lists is, for certain, the run of a submission whose answer was
//! lost. One rule, for a single call (`client/lost.rs`), a batch's lost submissions
//! (`client/batch_runner.rs`) and everything that reports on them; no I/O.
//!
//! Found for certain means all of these hold, and for one run only:
//! - the same workflow;
//! - exactly the inputs sent: every name, none more and none fewer, every value; a file by
//!   its name and its size (learned from the input's link: `client/lost.rs`);
//! - created no earlier than the send began, on the pod's clock (the offset measured from
//!   the answers' `Date` headers, less the error of that measure);
//! - listed with its id, and not already claimed by another submission of this client or
//!   batch.
//!
//! Anything short of that is a doubt that names the runs that may be it: a run paid for
//! but not recovered is reported, never swapped for somebody else's.

use std::collections::{HashMap, HashSet};

use crate::wire::submission::SentValue;
use crate::wire::types::Run;

/// How far the pod's clock is from ours, as measured from an answer's `Date` header.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum ClockOffset {
    /// The pod's clock minus ours, in whole seconds, and how far the measure may be off
    /// (the header's one-second steps, and the time the request took).
    Measured { offset: i64, error: u64 },
    /// No answer said the time: a wide window, so that only the other rules can make a
    /// match certain (see [`UNMEASURED_SLACK_SECS`]).
    Unmeasured,
}

impl ClockOffset {
    /// The offset from one answer: the server's `Date` (seconds since the epoch, `None`
    /// when absent or unreadable) and our clock when its answer came (seconds since the
    /// epoch).
    pub fn from_answer(date: Option<u64>, answered: u64) -> Self {
        let Some(date) = date else {
            return ClockOffset::Unmeasured;
        };
        // The server wrote `date` (its clock, in whole seconds) before we read the answer
        // at `answered` (ours, in whole seconds): its clock is at least `date - answered - 1`
        // ahead of ours (a second lost to the clocks' steps). That lower bound is all the
        // floor needs: a run of our request was created after we sent it, so no earlier
        // than our send time on that clock. However long the request took only widens the
        // upper bound, which no rule uses.
        let offset =
            i64::try_from(date).unwrap_or(i64::MAX) - i64::try_from(answered).unwrap_or(i64::MAX);
        ClockOffset::Measured { offset, error: 1 }
    }

    /// The earliest `created_at` (seconds since the epoch on the pod's clock) that a run
    /// of a request sent at `sent_at` (our clock) may have.
    pub fn floor(self, sent_at: u64) -> u64 {
        match self {
            ClockOffset::Measured { offset, error } => {
                let on_pod = if offset >= 0 {
                    sent_at.saturating_add(offset.unsigned_abs())
                } else {
                    sent_at.saturating_sub(offset.unsigned_abs())
                };
                on_pod.saturating_sub(error)
            }
            ClockOffset::Unmeasured => sent_at.saturating_sub(UNMEASURED_SLACK_SECS),
        }
    }

    /// The clock rule in words, for a recovery's reason.
    fn words(self) -> String {
        match self {
            ClockOffset::Measured { offset: 0, error } => {
                format!("the pod's clock agrees with ours to within {error} s")
            }
            ClockOffset::Measured { offset, error } => {
                format!("the pod's clock is {offset:+} s from ours, to within {error} s")
            }
            ClockOffset::Unmeasured => format!(
                "the pod's answers carried no time, so {UNMEASURED_SLACK_SECS} s are allowed for \
                 its clock"
            ),
        }
    }
}

/// How far back runs are taken as possibly a lost submission's when no answer told the
/// pod's time.
pub(crate) const UNMEASURED_SLACK_SECS: u64 = 300;

/// What was sent, as a lost answer's run is recognised by.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Sent<'a> {
    pub workflow_id: &'a str,
    /// Every field as it went out.
    pub fields: &'a [(String, SentValue)],
    /// When the request began to go out (seconds since the epoch, our clock).
    pub sent_at: u64,
}

/// What the runs FlowScale lists say of a submission whose answer was lost.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum LostMatch {
    /// Its run, for certain; `why`, in words.
    Found { run_id: String, why: String },
    /// Runs that may be its own, none of them for certain (or the list does not reach
    /// back to when it was sent). The reason, in words, and the candidates' ids.
    Doubt {
        reason: String,
        candidates: Vec<String>,
    },
    /// The list reaches back past when it was sent and holds no run that may be its own.
    /// Still no proof: FlowScale may list a run late (its request was still being handled).
    NotListed,
}

/// The size of a file input of a listed run, as learned from its link: keyed by the run's
/// id and the field's name.
pub(crate) type KnownSizes = HashMap<(String, String), u64>;

/// The runs this client's submissions were answered with or found to have, so that no
/// other lost answer of it takes one: the newest few thousand, shared by a client's clones.
#[derive(Debug, Default)]
pub(crate) struct Claimed {
    order: std::collections::VecDeque<String>,
    ids: HashSet<String>,
}

/// How many claimed runs a client remembers.
const MAX_CLAIMED: usize = 4096;

impl Claimed {
    /// Remembers `run_id` as a submission's own.
    pub fn claim(&mut self, run_id: &str) {
        if self.ids.insert(run_id.to_owned()) {
            self.order.push_back(run_id.to_owned());
            if self.order.len() > MAX_CLAIMED
                && let Some(oldest) = self.order.pop_front()
            {
                self.ids.remove(&oldest);
            }
        }
    }

    /// The runs claimed.
    pub fn ids(&self) -> &HashSet<String> {
        &self.ids
    }
}

/// How one listed run compares with what was sent.
#[derive(Debug, PartialEq, Eq)]
enum Likeness {
    /// Cannot be its run.
    No,
    /// May be its run, but something is not known (why, in words).
    Maybe(&'static str),
    /// Its run, if no other run is also.
    Yes,
}

/// Judges the runs listed (oldest first) against what was sent, leaving out the runs in
/// `taken` (recorded or claimed by other submissions); `reached_back`: whether the list goes
/// back past the floor. `copies`: how many lost submissions of exactly the same inputs are
/// looked for together (1 for one call; a batch's samples of one prompt) (a batch's samples of one prompt): when exactly `copies` runs match
/// for certain and none may, those runs are theirs as a set, and this one takes the
/// oldest (the others take the rest, one by one, with `copies` less one). Identical
/// inputs make their runs interchangeable; as many runs as submissions means none is
/// somebody else's.
pub(crate) fn match_lost(
    listed: &[Run],
    sent: Sent<'_>,
    clock: ClockOffset,
    sizes: &KnownSizes,
    taken: &HashSet<String>,
    reached_back: bool,
    copies: usize,
) -> LostMatch {
    let copies = copies.max(1);
    let floor = clock.floor(sent.sent_at);
    let mut certain = Vec::new();
    let mut maybe: Vec<(Option<&str>, &'static str)> = Vec::new();
    for run in listed {
        if run.id.as_ref().is_some_and(|id| taken.contains(id)) {
            continue;
        }
        match likeness(run, sent, floor, sizes) {
            Likeness::No => {}
            Likeness::Maybe(why) => maybe.push((run.id.as_deref(), why)),
            Likeness::Yes => match run.id.as_deref() {
                Some(id) => certain.push((id, run.created_at.as_deref().unwrap_or("?"))),
                None => maybe.push((None, "it is listed without its id")),
            },
        }
    }
    if certain.len() == copies && maybe.is_empty() {
        let (only, created) = certain[0];
        let alike = match copies {
            1 => String::new(),
            n => format!(" (one of {n} such runs for as many lost submissions of these inputs)"),
        };
        let files = sent
            .fields
            .iter()
            .filter(|(_, v)| matches!(v, SentValue::File { .. }))
            .count();
        return LostMatch::Found {
            run_id: only.to_owned(),
            why: format!(
                "created at {created}, it is the only run of `{}` created since the request went \
                 out ({}) with exactly the {} field(s) sent{}, and no other submission's{alike}",
                sent.workflow_id,
                clock.words(),
                sent.fields.len(),
                match files {
                    0 => String::new(),
                    n => format!(" ({n} file(s) by name and size)"),
                },
            ),
        };
    }
    let candidates: Vec<String> = certain
        .iter()
        .map(|(id, _)| (*id).to_owned())
        .chain(maybe.iter().filter_map(|(id, _)| id.map(str::to_owned)))
        .collect();
    if certain.len() > copies {
        return LostMatch::Doubt {
            reason: format!(
                "{} runs FlowScale lists have its workflow and inputs and were created since it \
                 was sent, so which is its own cannot be told",
                certain.len()
            ),
            candidates,
        };
    }
    if maybe.is_empty() && !certain.is_empty() {
        return LostMatch::Doubt {
            reason: format!(
                "{} run(s) FlowScale lists have its workflow and inputs, for {copies} lost \
                 submissions of them: which are whose cannot be told until every one is listed",
                certain.len()
            ),
            candidates,
        };
    }
    if let Some((id, why)) = maybe.first() {
        let which = id.map_or_else(|| "a run".to_owned(), |id| format!("run {id}"));
        let others = match certain.len() + maybe.len() {
            1 => String::new(),
            n => format!(" ({n} runs may be)"),
        };
        return LostMatch::Doubt {
            reason: format!("{which} may be its own, but {why}{others}"),
            candidates,
        };
    }
    if !reached_back {
        return LostMatch::Doubt {
            reason: "the runs FlowScale lists do not reach back to when it was sent".to_owned(),
            candidates,
        };
    }
    LostMatch::NotListed
}

/// How one run compares with what was sent, the floor being the earliest creation time
/// its run may have.
fn likeness(run: &Run, sent: Sent<'_>, floor: u64, sizes: &KnownSizes) -> Likeness {
    let mut unsure = None;
    match run.workflow_id.as_deref() {
        Some(w) if w != sent.workflow_id => return Likeness::No,
        Some(_) => {}
        None => unsure = Some("it is listed without its workflow"),
    }
    match created_secs(run) {
        Some(t) if t < floor => return Likeness::No,
        Some(_) => {}
        None => unsure = unsure.or(Some("it is listed without a creation time")),
    }
    if run.inputs.is_empty() && !sent.fields.is_empty() {
        return Likeness::Maybe("it is listed without its inputs");
    }
    // Exactly the fields sent: as many, and each one matched once.
    if run.inputs.len() != sent.fields.len() {
        return Likeness::No;
    }
    let mut used = vec![false; run.inputs.len()];
    for (name, value) in sent.fields {
        let found = run.inputs.iter().enumerate().find_map(|(i, input)| {
            if used[i] || input.path != *name {
                return None;
            }
            match field_likeness(run, input, name, value, sizes) {
                Likeness::No => None,
                other => Some((i, other)),
            }
        });
        match found {
            None => return Likeness::No,
            Some((i, likeness)) => {
                used[i] = true;
                if let Likeness::Maybe(why) = likeness {
                    unsure = unsure.or(Some(why));
                }
            }
        }
    }
    match unsure {
        Some(why) => Likeness::Maybe(why),
        None => Likeness::Yes,
    }
}

/// How one listed input compares with one field sent.
fn field_likeness(
    run: &Run,
    input: &crate::wire::types::RunInput,
    name: &str,
    value: &SentValue,
    sizes: &KnownSizes,
) -> Likeness {
    match value {
        SentValue::Text(text) => match &input.value {
            serde_json::Value::String(s) if s == text => Likeness::Yes,
            serde_json::Value::String(_) => Likeness::No,
            // A server that stores `7` as a number.
            other => match serde_json::from_str::<serde_json::Value>(text) {
                Ok(v) if v == *other => Likeness::Yes,
                _ => Likeness::No,
            },
        },
        SentValue::File { filename, size } => {
            let named = matches!(&input.value, serde_json::Value::String(s) if s == filename)
                || input
                    .s3_key
                    .as_deref()
                    .is_some_and(|k| k.rsplit('/').next() == Some(filename.as_str()));
            if !named {
                return Likeness::No;
            }
            let listed = run
                .id
                .as_ref()
                .and_then(|id| sizes.get(&(id.clone(), name.to_owned())));
            match (size, listed) {
                (Some(a), Some(b)) if a == b => Likeness::Yes,
                (Some(_), Some(_)) => Likeness::No,
                (None, _) => Likeness::Maybe("the size of a file it was sent is not known"),
                (_, None) => Likeness::Maybe("the size of its file input cannot be learned"),
            }
        }
    }
}

/// When a run was created, in seconds since the epoch, when the server says in a form
/// RFC 3339 covers.
pub(crate) fn created_secs(run: &Run) -> Option<u64> {
    let at = humantime::parse_rfc3339_weak(run.created_at.as_deref()?).ok()?;
    Some(at.duration_since(std::time::UNIX_EPOCH).ok()?.as_secs())
}

/// The file fields of a run whose size is worth learning: those whose name and filename
/// match a file that was sent, with the link to learn it from.
pub(crate) fn sizes_to_learn<'a>(
    run: &'a Run,
    fields: &[(String, SentValue)],
) -> Vec<(&'a str, &'a str)> {
    run.inputs
        .iter()
        .filter(|input| {
            fields.iter().any(|(name, v)| {
                *name == input.path
                    && matches!(v, SentValue::File { filename, size: Some(_) }
                        if input.value.as_str() == Some(filename.as_str()))
            })
        })
        .filter_map(|input| Some((input.path.as_str(), input.url.as_deref()?)))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(id: &str, workflow: &str, created: &str, inputs: serde_json::Value) -> Run {
        serde_json::from_value(serde_json::json!({
            "_id": id, "workflow_id": workflow, "status": "running",
            "inputs": inputs, "created_at": created,
        }))
        .unwrap()
    }

    fn text(name: &str, value: &str) -> (String, SentValue) {
        (name.to_owned(), SentValue::Text(value.to_owned()))
    }

    /// 2026-12-08T10:00:00Z
    const T: u64 = 1_796_724_000;
    const EXACT: ClockOffset = ClockOffset::Measured {
        offset: 0,
        error: 1,
    };

    fn judge(listed: &[Run], fields: &[(String, SentValue)], taken: &[&str]) -> LostMatch {
        let taken = taken.iter().map(|s| (*s).to_owned()).collect();
        let sent = Sent {
            workflow_id: "wf",
            fields,
            sent_at: T,
        };
        match_lost(listed, sent, EXACT, &KnownSizes::new(), &taken, true, 1)
    }

    fn found(m: &LostMatch) -> Option<&str> {
        match m {
            LostMatch::Found { run_id, .. } => Some(run_id),
            _ => None,
        }
    }

    #[test]
    fn the_only_run_with_exactly_the_inputs_since_the_send_is_found() {
        let fields = [text("text_1", "a fox")];
        let listed = [run(
            "r1",
            "wf",
            "2026-12-08T10:00:01Z",
            serde_json::json!([{"path": "text_1", "value": "a fox"}]),
        )];
        let m = judge(&listed, &fields, &[]);
        assert_eq!(found(&m), Some("r1"), "{m:?}");
    }

    #[test]
    fn a_run_with_more_inputs_than_were_sent_is_not_found() {
        // The first command sent a seed as well; the second, whose answer was lost, did not.
        let fields = [text("text_1", "a fox")];
        let listed = [run(
            "older",
            "wf",
            "2026-12-08T10:00:01Z",
            serde_json::json!([{"path": "text_1", "value": "a fox"}, {"path": "seed_3", "value": "1"}]),
        )];
        assert_eq!(judge(&listed, &fields, &[]), LostMatch::NotListed);
    }

    #[test]
    fn a_run_created_before_the_send_is_never_its_own() {
        // No inputs: any run of the workflow would match by inputs; only time tells.
        let listed = [run(
            "older",
            "wf",
            "2026-12-08T09:59:50Z",
            serde_json::json!([]),
        )];
        assert_eq!(judge(&listed, &[], &[]), LostMatch::NotListed);
        // Within the clock's error: a doubt, never a recovery, when another run is there too.
        let listed = [
            run(
                "close",
                "wf",
                "2026-12-08T09:59:59.500Z",
                serde_json::json!([]),
            ),
            run("ours", "wf", "2026-12-08T10:00:01Z", serde_json::json!([])),
        ];
        let m = judge(&listed, &[], &[]);
        assert!(
            matches!(&m, LostMatch::Doubt { candidates, .. } if candidates.len() == 2),
            "{m:?}"
        );
    }

    #[test]
    fn a_pod_clock_ahead_moves_the_floor() {
        let sent = Sent {
            workflow_id: "wf",
            fields: &[],
            sent_at: T,
        };
        let ahead = ClockOffset::from_answer(Some(T + 3600), T);
        assert_eq!(ahead.floor(T), T + 3600 - 1);
        // A run created on the pod's clock at our send time is an hour before the send.
        let listed = [run(
            "older",
            "wf",
            "2026-12-08T10:00:30Z",
            serde_json::json!([]),
        )];
        let m = match_lost(
            &listed,
            sent,
            ahead,
            &KnownSizes::new(),
            &HashSet::new(),
            true,
            1,
        );
        assert_eq!(m, LostMatch::NotListed);
        let behind = ClockOffset::from_answer(Some(T - 3600), T + 5);
        assert_eq!(behind.floor(T), T - 3605 - 1);
        assert_eq!(ClockOffset::Unmeasured.floor(T), T - UNMEASURED_SLACK_SECS);
        // Saturates rather than overflows.
        let huge = ClockOffset::from_answer(Some(u64::MAX), 0);
        let _ = huge.floor(u64::MAX);
        let _ = ClockOffset::from_answer(Some(0), u64::MAX).floor(0);
    }

    #[test]
    fn two_runs_that_match_are_a_doubt_naming_both() {
        let listed = [
            run("a", "wf", "2026-12-08T10:00:01Z", serde_json::json!([])),
            run("b", "wf", "2026-12-08T10:00:02Z", serde_json::json!([])),
        ];
        let m = judge(&listed, &[], &[]);
        assert_eq!(
            m,
            LostMatch::Doubt {
                reason: "2 runs FlowScale lists have its workflow and inputs and were created \
                         since it was sent, so which is its own cannot be told"
                    .to_owned(),
                candidates: vec!["a".to_owned(), "b".to_owned()],
            }
        );
        // One of them claimed by another submission: the other is its own.
        assert_eq!(found(&judge(&listed, &[], &["a"])), Some("b"));
    }

    #[test]
    fn as_many_runs_as_lost_submissions_of_one_input_set_are_theirs() {
        let listed = [
            run("a", "wf", "2026-12-08T10:00:01Z", serde_json::json!([])),
            run("b", "wf", "2026-12-08T10:00:02Z", serde_json::json!([])),
        ];
        let sent = Sent {
            workflow_id: "wf",
            fields: &[],
            sent_at: T,
        };
        let among = |copies, taken: &[&str]| {
            let taken = taken.iter().map(|s| (*s).to_owned()).collect();
            match_lost(
                &listed,
                sent,
                EXACT,
                &KnownSizes::new(),
                &taken,
                true,
                copies,
            )
        };
        assert_eq!(found(&among(2, &[])), Some("a"));
        assert_eq!(found(&among(1, &["a"])), Some("b"));
        // Three submissions, two runs: one is not listed yet, none can be named.
        assert!(matches!(among(3, &[]), LostMatch::Doubt { .. }));
    }

    #[test]
    fn another_workflow_or_value_is_no_match() {
        let fields = [text("seed_3", "7")];
        let listed = [
            run(
                "other-wf",
                "wf2",
                "2026-12-08T10:00:01Z",
                serde_json::json!([{"path": "seed_3", "value": "7"}]),
            ),
            run(
                "other-value",
                "wf",
                "2026-12-08T10:00:01Z",
                serde_json::json!([{"path": "seed_3", "value": "8"}]),
            ),
            run(
                "fewer",
                "wf",
                "2026-12-08T10:00:01Z",
                serde_json::json!([{"path": "text_1", "value": "7"}]),
            ),
        ];
        assert_eq!(judge(&listed, &fields, &[]), LostMatch::NotListed);
        // A number stored as a number is the same value.
        let listed = [run(
            "n",
            "wf",
            "2026-12-08T10:00:01Z",
            serde_json::json!([{"path": "seed_3", "value": 7}]),
        )];
        assert_eq!(found(&judge(&listed, &fields, &[])), Some("n"));
    }

    #[test]
    fn a_file_is_matched_by_name_and_size() {
        let fields = [(
            "image_1".to_owned(),
            SentValue::File {
                filename: "cat.png".to_owned(),
                size: Some(10),
            },
        )];
        let listed = [run(
            "r",
            "wf",
            "2026-12-08T10:00:01Z",
            serde_json::json!([{"path": "image_1", "value": "cat.png", "url": "http://x/cat.png"}]),
        )];
        let sent = Sent {
            workflow_id: "wf",
            fields: &fields,
            sent_at: T,
        };
        let with = |size: Option<u64>| {
            let mut sizes = KnownSizes::new();
            if let Some(size) = size {
                sizes.insert(("r".to_owned(), "image_1".to_owned()), size);
            }
            match_lost(&listed, sent, EXACT, &sizes, &HashSet::new(), true, 1)
        };
        assert_eq!(found(&with(Some(10))), Some("r"));
        assert_eq!(with(Some(11)), LostMatch::NotListed);
        // The size could not be learned: a doubt naming it.
        assert!(matches!(with(None), LostMatch::Doubt { candidates, .. } if candidates == ["r"]));
        assert_eq!(
            sizes_to_learn(&listed[0], &fields),
            [("image_1", "http://x/cat.png")]
        );
    }

    #[test]
    fn a_run_listed_without_inputs_id_or_time_is_only_a_candidate() {
        let fields = [text("text_1", "a fox")];
        let bare = [run(
            "r",
            "wf",
            "2026-12-08T10:00:01Z",
            serde_json::json!([]),
        )];
        assert!(matches!(
            judge(&bare, &fields, &[]),
            LostMatch::Doubt { .. }
        ));
        let no_time: Run = serde_json::from_value(serde_json::json!({
            "_id": "r", "workflow_id": "wf", "status": "running",
            "inputs": [{"path": "text_1", "value": "a fox"}],
        }))
        .unwrap();
        assert!(matches!(
            judge(&[no_time], &fields, &[]),
            LostMatch::Doubt { .. }
        ));
        let no_id: Run = serde_json::from_value(serde_json::json!({
            "workflow_id": "wf", "status": "running", "created_at": "2026-12-08T10:00:01Z",
            "inputs": [{"path": "text_1", "value": "a fox"}],
        }))
        .unwrap();
        let m = judge(&[no_id], &fields, &[]);
        assert!(
            matches!(&m, LostMatch::Doubt { candidates, .. } if candidates.is_empty()),
            "{m:?}"
        );
    }

    #[test]
    fn claimed_runs_are_bounded() {
        let mut claimed = Claimed::default();
        for i in 0..MAX_CLAIMED + 10 {
            claimed.claim(&format!("r{i}"));
        }
        claimed.claim("r20");
        assert_eq!(claimed.ids().len(), MAX_CLAIMED);
        assert!(!claimed.ids().contains("r0"));
        assert!(claimed.ids().contains(&format!("r{}", MAX_CLAIMED + 9)));
    }

    #[test]
    fn a_list_that_does_not_reach_back_is_a_doubt() {
        let sent = Sent {
            workflow_id: "wf",
            fields: &[],
            sent_at: T,
        };
        let m = match_lost(
            &[],
            sent,
            EXACT,
            &KnownSizes::new(),
            &HashSet::new(),
            false,
            1,
        );
        assert!(matches!(m, LostMatch::Doubt { .. }));
    }
}
