//! Whether a run FlowScale lists is, for certain, the run of a submission whose answer was
//! lost. One rule, for a single call (`client/lost.rs`), a batch's lost submissions
//! (`client/batch_runner.rs`) and everything that reports on them; no I/O.
//!
//! Found for certain means all of these hold, and for one run only:
//! - the same workflow;
//! - exactly the inputs sent: every name, none more and none fewer, every value; a file by
//!   its name and its size (learned from the input's link: `client/lost.rs`);
//! - created no earlier than the request went out whole, on the pod's clock (the offset
//!   measured from an answer's `Date` header; a pod whose answers say no time, or a time
//!   a day or more off, makes every match a doubt);
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
    /// The least the pod's clock can be ahead of ours, in milliseconds (negative: behind).
    Measured { at_least_ms: i64 },
    /// No answer said the time (or said one too far off to trust): no match is certain, and
    /// runs are taken as candidates from [`UNMEASURED_SLACK_MS`] before the send.
    Unmeasured,
}

/// How far back runs are candidates when the pod's clock is not known.
pub(crate) const UNMEASURED_SLACK_MS: u64 = 300_000;

/// A `Date` this far from our clock is not trusted (a proxy's, a cached answer's).
const MAX_OFFSET_MS: u64 = 24 * 3_600_000;

impl ClockOffset {
    /// The offset from one answer: the server's `Date` (seconds since the epoch, `None`
    /// when absent or unreadable) and our clock when its answer came (milliseconds since
    /// the epoch).
    pub fn from_answer(date: Option<u64>, answered_ms: u64) -> Self {
        let Some(date) = date else {
            return ClockOffset::Unmeasured;
        };
        // The server wrote `date` (the whole second its clock was in) before we read the
        // answer at `answered_ms`: its clock is at least `date - answered` ahead of ours.
        // That lower bound is all the floor needs: a run of our request was created after
        // the request went out whole, so no earlier than that time on the pod's clock.
        // However long the request took only widens the upper bound, which no rule uses.
        let at_least = i128::from(date) * 1000 - i128::from(answered_ms);
        match i64::try_from(at_least) {
            Ok(ms) if ms.unsigned_abs() < MAX_OFFSET_MS => {
                ClockOffset::Measured { at_least_ms: ms }
            }
            _ => ClockOffset::Unmeasured,
        }
    }

    /// The earliest creation time (milliseconds since the epoch, on the pod's clock) that a
    /// run of a request that went out whole at `sent_ms` (our clock) may have.
    pub fn floor(self, sent_ms: u64) -> u64 {
        match self {
            ClockOffset::Measured { at_least_ms } if at_least_ms >= 0 => {
                sent_ms.saturating_add(at_least_ms.unsigned_abs())
            }
            ClockOffset::Measured { at_least_ms } => {
                sent_ms.saturating_sub(at_least_ms.unsigned_abs())
            }
            ClockOffset::Unmeasured => sent_ms.saturating_sub(UNMEASURED_SLACK_MS),
        }
    }

    /// The clock rule in words, for a recovery's reason.
    fn words(self) -> String {
        match self {
            ClockOffset::Measured { at_least_ms } => format!(
                "on the pod's clock, at least {:+.3} s from ours by its Date header",
                at_least_ms as f64 / 1000.0
            ),
            ClockOffset::Unmeasured => "the pod's clock is not known".to_owned(),
        }
    }
}

/// What was sent, as a lost answer's run is recognised by.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Sent<'a> {
    pub workflow_id: &'a str,
    /// Every field as it went out.
    pub fields: &'a [(String, SentValue)],
    /// When the request went out whole, or an earlier time (milliseconds since the epoch,
    /// our clock): no run of it was created before.
    pub sent_ms: u64,
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
    /// Remembers `run_id` as a submission's own; false when it was claimed already (by
    /// another submission: then it is not this one's for certain).
    pub fn claim(&mut self, run_id: &str) -> bool {
        if !self.ids.insert(run_id.to_owned()) {
            return false;
        }
        self.order.push_back(run_id.to_owned());
        if self.order.len() > MAX_CLAIMED
            && let Some(oldest) = self.order.pop_front()
        {
            self.ids.remove(&oldest);
        }
        true
    }

    /// The runs claimed.
    pub fn ids(&self) -> &HashSet<String> {
        &self.ids
    }
}

/// A finding when `rivals` other submissions of exactly these inputs, by the same client,
/// still wait for their answers: the run found may be one of theirs, so it is a doubt
/// naming it, never certain.
pub(crate) fn among_rivals(found: LostMatch, rivals: usize) -> LostMatch {
    match found {
        LostMatch::Found { run_id, .. } if rivals > 0 => LostMatch::Doubt {
            reason: format!(
                "{rivals} other submission(s) of exactly these inputs by this client still wait \
                 for their answers, so which run is whose cannot be told"
            ),
            candidates: vec![run_id],
        },
        other => other,
    }
}

/// Submissions waiting for their answer, by [`inputs_key`]: how many of each.
pub(crate) type InFlightTable = HashMap<u64, usize>;

/// A key for a workflow and exactly these fields (in any order), to count a client's
/// submissions of the same inputs (within one process: std's hasher is enough).
pub(crate) fn inputs_key(workflow_id: &str, fields: &[(String, SentValue)]) -> u64 {
    use std::hash::{Hash, Hasher};
    let mut sorted: Vec<_> = fields.iter().collect();
    sorted.sort_by_key(|(name, value)| (name.clone(), format!("{value:?}")));
    let mut h = std::collections::hash_map::DefaultHasher::new();
    workflow_id.hash(&mut h);
    for (name, value) in sorted {
        name.hash(&mut h);
        match value {
            SentValue::Text(t) => (0u8, t).hash(&mut h),
            SentValue::File { filename, size } => (1u8, filename, size).hash(&mut h),
        }
    }
    h.finish()
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
/// looked for together (1 for one call; a batch's samples of one prompt): when exactly `copies` runs match
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
    let floor = clock.floor(sent.sent_ms);
    let mut certain = Vec::new();
    let mut maybe: Vec<(Option<&str>, &'static str)> = Vec::new();
    for run in listed {
        if run.id.as_ref().is_some_and(|id| taken.contains(id)) {
            continue;
        }
        match likeness(run, sent, clock, floor, sizes) {
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
fn likeness(
    run: &Run,
    sent: Sent<'_>,
    clock: ClockOffset,
    floor: u64,
    sizes: &KnownSizes,
) -> Likeness {
    let mut unsure = None;
    match run.workflow_id.as_deref() {
        Some(w) if w != sent.workflow_id => return Likeness::No,
        Some(_) => {}
        None => unsure = Some("it is listed without its workflow"),
    }
    if created_before(run, floor) {
        return Likeness::No;
    }
    if created_ms(run).is_none() {
        unsure = unsure.or(Some("it is listed without a creation time"));
    }
    if clock == ClockOffset::Unmeasured {
        unsure = unsure.or(Some(
            "the pod's answers say no time, so whether it was created after the send cannot be \
             told",
        ));
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

/// Whether a run was created, for certain, before `floor` (milliseconds since the epoch on
/// the pod's clock): a time said to the second only may lie up to 999 ms before the true
/// one; a run without a time is not known to be earlier.
pub(crate) fn created_before(run: &Run, floor: u64) -> bool {
    created_ms(run).is_some_and(|(t, whole_second)| {
        t.saturating_add(if whole_second { 999 } else { 0 }) < floor
    })
}

/// When a run was created, in milliseconds since the epoch, and whether the server said it
/// to the second only (no fraction), when it says in a form RFC 3339 covers.
pub(crate) fn created_ms(run: &Run) -> Option<(u64, bool)> {
    let text = run.created_at.as_deref()?;
    let at = humantime::parse_rfc3339_weak(text).ok()?;
    let ms = at.duration_since(std::time::UNIX_EPOCH).ok()?.as_millis();
    let whole_second = !text.contains('.');
    Some((u64::try_from(ms).unwrap_or(u64::MAX), whole_second))
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

    /// 2026-12-08T10:00:00Z, in milliseconds.
    const T: u64 = 1_796_724_000_000;
    /// The pod's clock is ours.
    const EXACT: ClockOffset = ClockOffset::Measured { at_least_ms: 0 };

    fn judge(listed: &[Run], fields: &[(String, SentValue)], taken: &[&str]) -> LostMatch {
        let taken = taken.iter().map(|s| (*s).to_owned()).collect();
        let sent = Sent {
            workflow_id: "wf",
            fields,
            sent_ms: T,
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
            "2026-12-08T09:59:59.990Z",
            serde_json::json!([]),
        )];
        assert_eq!(judge(&listed, &[], &[]), LostMatch::NotListed);
        // Said to the second only, a time in the send's second may be after it: a doubt
        // when another run is there too, never a recovery.
        let listed = [
            run(
                "same-second",
                "wf",
                "2026-12-08T10:00:00Z",
                serde_json::json!([]),
            ),
            run("ours", "wf", "2026-12-08T10:00:01Z", serde_json::json!([])),
        ];
        let m = judge(&listed, &[], &[]);
        assert!(
            matches!(&m, LostMatch::Doubt { candidates, .. } if candidates.len() == 2),
            "{m:?}"
        );
        // The second before the send is before it, whatever the fraction.
        let listed = [
            run(
                "before",
                "wf",
                "2026-12-08T09:59:59Z",
                serde_json::json!([]),
            ),
            run("ours", "wf", "2026-12-08T10:00:01Z", serde_json::json!([])),
        ];
        assert_eq!(found(&judge(&listed, &[], &[])), Some("ours"));
    }

    #[test]
    fn a_pod_clock_ahead_moves_the_floor() {
        let sent = Sent {
            workflow_id: "wf",
            fields: &[],
            sent_ms: T,
        };
        // The pod said 11:00:00 when we read its answer at 10:00:00.250.
        let ahead = ClockOffset::from_answer(Some(T / 1000 + 3600), T + 250);
        assert_eq!(
            ahead,
            ClockOffset::Measured {
                at_least_ms: 3_599_750
            }
        );
        assert_eq!(ahead.floor(T), T + 3_599_750);
        // A run created at 10:00:30 on the pod's clock is from an hour before the send.
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
        let behind = ClockOffset::from_answer(Some(T / 1000 - 3600), T + 5000);
        assert_eq!(behind.floor(T), T - 3_605_000);
        assert_eq!(ClockOffset::Unmeasured.floor(T), T - UNMEASURED_SLACK_MS);
        // A clock a day or more off is not trusted; nothing overflows.
        assert_eq!(
            ClockOffset::from_answer(Some(T / 1000 + 90_000), T),
            ClockOffset::Unmeasured
        );
        assert_eq!(
            ClockOffset::from_answer(Some(u64::MAX), 0),
            ClockOffset::Unmeasured
        );
        assert_eq!(
            ClockOffset::from_answer(Some(0), u64::MAX),
            ClockOffset::Unmeasured
        );
        let _ = ClockOffset::Measured {
            at_least_ms: i64::MAX,
        }
        .floor(u64::MAX);
        let _ = ClockOffset::Measured {
            at_least_ms: i64::MIN,
        }
        .floor(0);
    }

    #[test]
    fn without_the_pods_time_no_match_is_certain() {
        let listed = [run(
            "only",
            "wf",
            "2026-12-08T10:00:01Z",
            serde_json::json!([]),
        )];
        let sent = Sent {
            workflow_id: "wf",
            fields: &[],
            sent_ms: T,
        };
        let m = match_lost(
            &listed,
            sent,
            ClockOffset::Unmeasured,
            &KnownSizes::new(),
            &HashSet::new(),
            true,
            1,
        );
        assert!(
            matches!(&m, LostMatch::Doubt { candidates, .. } if candidates == &["only"]),
            "{m:?}"
        );
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
            sent_ms: T,
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
            sent_ms: T,
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
    fn a_sibling_still_waiting_makes_a_finding_a_doubt() {
        let found = LostMatch::Found {
            run_id: "r".to_owned(),
            why: "w".to_owned(),
        };
        assert_eq!(among_rivals(found.clone(), 0), found);
        assert!(
            matches!(among_rivals(found, 1), LostMatch::Doubt { candidates, .. } if candidates == ["r"])
        );
        assert_eq!(among_rivals(LostMatch::NotListed, 2), LostMatch::NotListed);
    }

    #[test]
    fn claimed_runs_are_bounded() {
        let mut claimed = Claimed::default();
        for i in 0..MAX_CLAIMED + 10 {
            claimed.claim(&format!("r{i}"));
        }
        assert!(
            !claimed.claim(&format!("r{}", MAX_CLAIMED + 9)),
            "claimed twice"
        );
        assert_eq!(claimed.ids().len(), MAX_CLAIMED);
        assert!(!claimed.ids().contains("r0"));
        assert!(claimed.ids().contains(&format!("r{}", MAX_CLAIMED + 9)));
    }

    #[test]
    fn a_list_that_does_not_reach_back_is_a_doubt() {
        let sent = Sent {
            workflow_id: "wf",
            fields: &[],
            sent_ms: T,
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
