//! The simulator's memory: workflows, runs and their lifecycles on the clock, faults to
//! inject, and every request seen. Plain data and rules; no HTTP here (see `routes.rs`).

use std::collections::HashMap;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use serde_json::{Value, json};

use super::vocabulary::{Fault, MockWorkflow, RecordedFile, RecordedRequest, Route, Shapes};
use crate::wire::types::RunStatus;

/// One run the simulator knows.
pub(crate) struct StoredRun {
    pub id: String,
    pub workflow_id: String,
    pub group_id: Option<String>,
    pub fields: Vec<(String, String)>,
    pub files: Vec<RecordedFile>,
    /// Output names (no extension), fixed at creation.
    pub outputs: Vec<String>,
    pub number: u64,
    created: Instant,
    created_wall: SystemTime,
    phases: Vec<(RunStatus, Duration)>,
    cancelled: Option<Instant>,
    times_out: bool,
    /// The size of each output served, when not the built-in PNG.
    pub output_size: Option<usize>,
}

/// The 166-byte PNG an output is unless a size is set.
const PNG: &[u8] = include_bytes!("output.png");

/// How long output `output` is: `size`, or the PNG's length.
pub(crate) fn output_len(size: Option<usize>) -> u64 {
    size.map_or(PNG.len() as u64, |n| n as u64)
}

/// Bytes `from..to` of output `output` (of `size` bytes; the PNG when `None`). Made as they
/// are asked for, from the output's name and the position alone: any size is served at flat
/// memory, any range without the bytes before it, and the same bytes every time (a resumed
/// download can be checked against them).
pub(crate) fn output_piece(output: &str, size: Option<usize>, from: u64, to: u64) -> Vec<u8> {
    let Some(_) = size else {
        let (from, to) = (from.min(PNG.len() as u64), to.min(PNG.len() as u64));
        return PNG[from as usize..to as usize].to_vec();
    };
    let seed = output.bytes().fold(0x9e37_79b9_7f4a_7c15u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    });
    let mut out = Vec::with_capacity(to.saturating_sub(from) as usize);
    let mut at = from;
    while at < to {
        // splitmix64 of the word's index: random access, different for every output.
        let mut z = seed ^ (at / 8).wrapping_mul(0x9e37_79b9_7f4a_7c15);
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^= z >> 31;
        let word = z.to_le_bytes();
        let offset = (at % 8) as usize;
        let take = (8 - offset).min((to - at) as usize);
        out.extend_from_slice(&word[offset..offset + take]);
        at += take as u64;
    }
    out
}

/// The whole of output `output` (tests compare saved files with it).
pub(crate) fn output_bytes(output: &str, size: Option<usize>) -> Vec<u8> {
    output_piece(output, size, 0, output_len(size))
}

impl StoredRun {
    /// The status at `now`, and since when it holds (offset from creation).
    fn phase_at(&self, now: Instant) -> (RunStatus, Duration) {
        let age = now.saturating_duration_since(self.created);
        if let Some(at) = self.cancelled {
            return (
                RunStatus::Cancelled,
                at.saturating_duration_since(self.created),
            );
        }
        let mut start = Duration::ZERO;
        for (i, (status, len)) in self.phases.iter().enumerate() {
            let last = i + 1 == self.phases.len();
            if last || age < start + *len {
                return (status.clone(), start);
            }
            start += *len;
        }
        unreachable!("a run has at least one phase")
    }

    pub fn status(&self, now: Instant) -> RunStatus {
        self.phase_at(now).0
    }

    /// When the run first reached a status satisfying `pred`, as an offset from creation.
    fn reached(&self, now: Instant, pred: impl Fn(&RunStatus) -> bool) -> Option<Duration> {
        let age = now.saturating_duration_since(self.created);
        let mut start = Duration::ZERO;
        for (status, len) in &self.phases {
            if start > age {
                break;
            }
            if pred(status) {
                return Some(start);
            }
            start += *len;
        }
        self.cancelled
            .filter(|_| pred(&RunStatus::Cancelled))
            .map(|at| at.saturating_duration_since(self.created))
    }

    fn wall(&self, offset: Duration) -> String {
        iso8601(self.created_wall + offset)
    }

    pub fn created_at(&self) -> String {
        self.wall(Duration::ZERO)
    }

    pub fn started_at(&self, now: Instant) -> Option<String> {
        self.reached(now, |s| {
            !matches!(s, RunStatus::Queued | RunStatus::Pending)
        })
        .map(|o| self.wall(o))
    }

    pub fn completed_at(&self, now: Instant) -> Option<String> {
        let (status, since) = self.phase_at(now);
        status.is_finished().then(|| self.wall(since))
    }

    /// Past the end of its running time, a run set to time out answers 408 for outputs.
    pub fn timed_out(&self, now: Instant) -> bool {
        self.times_out && self.status(now) != RunStatus::Cancelled && {
            let planned: Duration = self
                .phases
                .iter()
                .take(self.phases.len() - 1)
                .map(|p| p.1)
                .sum();
            now.saturating_duration_since(self.created) >= planned
        }
    }

    pub fn to_json(&self, now: Instant, base_url: &str) -> Value {
        let status = self.status(now);
        let completed = status == RunStatus::Completed && !self.times_out;
        let mut inputs: Vec<Value> = self
            .fields
            .iter()
            .map(|(k, v)| json!({"path": k, "value": v, "s3_key": null, "url": null}))
            .collect();
        inputs.extend(self.files.iter().map(|f| {
            json!({
                "path": f.name,
                "value": f.filename,
                "s3_key": format!("inputs/{}/{}", self.id, f.filename),
                "url": format!("{base_url}/files/{}/inputs/{}", self.id, f.filename),
            })
        }));
        let outputs: Vec<Value> = if completed {
            self.outputs
                .iter()
                .map(|name| {
                    json!({
                        "filename": format!("{name}.png"),
                        "s3_key": format!("generations/{name}.png"),
                        "url": download_url(base_url, &self.id, name),
                    })
                })
                .collect()
        } else {
            vec![]
        };
        json!({
            "_id": self.id,
            "team_id": "team_mock",
            "workflow_id": self.workflow_id,
            "group_id": self.group_id,
            "status": status.as_str(),
            "inputs": inputs,
            "outputs": outputs,
            "output_names": self.outputs,
            "created_at": self.created_at(),
            "started_at": self.started_at(now),
            "completed_at": self.completed_at(now),
        })
    }
}

/// Where the simulator serves an output's bytes.
pub(crate) fn download_url(base_url: &str, run_id: &str, name: &str) -> String {
    format!("{base_url}/files/{run_id}/{name}.png")
}

/// A pending fault.
pub(crate) struct PendingFault {
    pub route: Route,
    pub fault: Fault,
    pub remaining: u32,
}

/// Everything the simulator holds.
pub(crate) struct State {
    pub api_key: String,
    pub base_url: String,
    pub workflows: HashMap<String, MockWorkflow>,
    /// Every run, oldest first (never removed, so the indexes below stay valid).
    pub runs: Vec<StoredRun>,
    /// Where each run is in `runs`, by id: thousands of concurrent waits poll their runs,
    /// and a scan per poll made the simulator, not the client, the bottleneck.
    by_id: HashMap<String, usize>,
    /// Where the run producing each output is in `runs`, by output name.
    by_output: HashMap<String, usize>,
    pub faults: Vec<PendingFault>,
    pub latency: Duration,
    pub shapes: Shapes,
    pub containers: usize,
    pub requests: Vec<RecordedRequest>,
    /// Output downloads sent this many bytes at a time, with this gap.
    pub download_throttle: Option<(usize, Duration)>,
    /// The share of runs, from 0 to 1, that fail whatever their workflow says.
    pub failure_rate: f64,
    seq: u64,
    /// Makes ids differ between simulators (tests run several side by side).
    salt: u64,
}

impl State {
    pub fn new(api_key: String, base_url: String) -> Self {
        State {
            api_key,
            base_url,
            workflows: HashMap::new(),
            runs: Vec::new(),
            by_id: HashMap::new(),
            by_output: HashMap::new(),
            faults: Vec::new(),
            latency: Duration::ZERO,
            shapes: Shapes::Union,
            containers: 2,
            requests: Vec::new(),
            download_throttle: None,
            failure_rate: 0.0,
            seq: 0,
            salt: {
                use std::hash::{BuildHasher, Hasher};
                std::collections::hash_map::RandomState::new()
                    .build_hasher()
                    .finish()
            },
        }
    }

    /// Takes one use of the first pending fault for `route`, if any.
    pub fn take_fault(&mut self, route: Route) -> Option<Fault> {
        let i = self
            .faults
            .iter()
            .position(|f| f.route == route || f.route == Route::Any)?;
        let f = &mut self.faults[i];
        f.remaining -= 1;
        let fault = f.fault.clone();
        if f.remaining == 0 {
            self.faults.remove(i);
        }
        Some(fault)
    }

    /// Creates a run of `workflow`.
    pub fn create_run(
        &mut self,
        workflow: &MockWorkflow,
        group_id: Option<String>,
        fields: Vec<(String, String)>,
        files: Vec<RecordedFile>,
    ) -> &StoredRun {
        self.seq += 1;
        let n = self.seq;
        let id = pseudo_uuid(n, self.salt);
        let outputs = workflow
            .outputs
            .iter()
            .map(|prefix| {
                format!(
                    "{prefix}_{:05}_{}",
                    58358 + n,
                    suffix(n ^ self.salt, prefix)
                )
            })
            .collect::<Vec<String>>();
        let index = self.runs.len();
        self.by_id.insert(id.clone(), index);
        for name in &outputs {
            self.by_output.insert(name.clone(), index);
        }
        self.runs.push(StoredRun {
            id,
            workflow_id: workflow.id.clone(),
            group_id,
            fields,
            files,
            outputs,
            number: n - 1,
            created: Instant::now(),
            created_wall: SystemTime::now(),
            phases: {
                let mut phases = workflow.phases.clone();
                // Which runs fail is fixed by their number: the same every time.
                let draw =
                    (n.wrapping_mul(0x9e37_79b9_7f4a_7c15) >> 11) as f64 / (1u64 << 53) as f64;
                if draw < self.failure_rate
                    && let Some(last) = phases.last_mut()
                {
                    last.0 = RunStatus::Failed;
                }
                phases
            },
            cancelled: None,
            times_out: workflow.times_out,
            output_size: workflow.output_size,
        });
        self.runs.last().expect("just pushed")
    }

    pub fn run(&self, id: &str) -> Option<&StoredRun> {
        self.by_id.get(id).map(|&i| &self.runs[i])
    }

    /// Cancels a run that has not finished. `Err` with a message otherwise.
    pub fn cancel(&mut self, id: &str) -> Result<(), (u16, &'static str)> {
        let now = Instant::now();
        let i = *self.by_id.get(id).ok_or((404, "Run not found"))?;
        let run = &mut self.runs[i];
        if run.status(now).is_finished() {
            return Err((400, "Run already finished"));
        }
        run.cancelled = Some(now);
        Ok(())
    }

    /// The run producing output `name` (with or without extension).
    /// Returns the run and the output's name as the run lists it (no extension).
    pub fn run_with_output(&self, name: &str) -> Option<(&StoredRun, &str)> {
        let bare = name.rsplit_once('.').map_or(name, |(stem, _)| stem);
        [name, bare].into_iter().find_map(|key| {
            let run = &self.runs[*self.by_output.get(key)?];
            let output = run.outputs.iter().find(|o| *o == key)?;
            Some((run, output.as_str()))
        })
    }

    /// Running and queued runs, oldest first, each with the container it is assigned to.
    pub fn placement(&self, now: Instant) -> (Vec<(usize, &StoredRun)>, Vec<&StoredRun>) {
        let mut running = vec![];
        let mut pending = vec![];
        for run in &self.runs {
            match run.status(now) {
                RunStatus::Running => running.push(run),
                RunStatus::Queued | RunStatus::Pending => pending.push(run),
                _ => {}
            }
        }
        let n = self.containers.max(1);
        (
            running
                .into_iter()
                .enumerate()
                .map(|(i, r)| (i % n, r))
                .collect(),
            pending,
        )
    }
}

/// A UUID-shaped id for run `n` of a simulator.
fn pseudo_uuid(n: u64, salt: u64) -> String {
    let h = mix(n ^ salt);
    format!(
        "{:08x}-{:04x}-4{:03x}-a{:03x}-{:012x}",
        (h >> 32) as u32,
        (h >> 16) as u16,
        h as u16 & 0xfff,
        (n as u16) & 0xfff,
        mix(h) & 0xffff_ffff_ffff
    )
}

fn suffix(n: u64, prefix: &str) -> String {
    let mut h = mix(n ^ prefix.len() as u64);
    (0..10)
        .map(|_| {
            let c = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"[(h % 36) as usize] as char;
            h /= 36;
            c
        })
        .collect()
}

fn mix(mut x: u64) -> u64 {
    // splitmix64
    x = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    x = (x ^ (x >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    x ^ (x >> 31)
}

/// `2024-01-15T10:30:00.123Z`
pub(crate) fn iso8601(t: SystemTime) -> String {
    let d = t.duration_since(UNIX_EPOCH).unwrap_or_default();
    let secs = d.as_secs();
    let (days, rem) = (secs / 86_400, secs % 86_400);
    // Civil from days (Howard Hinnant's algorithm).
    let z = days as i64 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{:03}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60,
        d.subsec_millis()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn any_piece_of_an_output_is_the_same_bytes_as_the_whole() {
        let whole = output_bytes("image", Some(10_000));
        assert_eq!(whole.len(), 10_000);
        for (from, to) in [(0, 1), (3, 17), (8, 16), (9_993, 10_000), (5_000, 5_000)] {
            assert_eq!(
                output_piece("image", Some(10_000), from, to),
                whole[from as usize..to as usize]
            );
        }
        assert_ne!(
            whole,
            output_bytes("preview", Some(10_000)),
            "each output its own"
        );
        assert_eq!(output_bytes("image", None).len(), 166);
        assert_eq!(output_len(Some(3_000_000_000)), 3_000_000_000);
    }

    #[test]
    fn timestamps_are_iso8601() {
        let t = UNIX_EPOCH + Duration::from_millis(1_705_314_600_123);
        assert_eq!(iso8601(t), "2024-01-15T10:30:00.123Z");
        assert_eq!(iso8601(UNIX_EPOCH), "1970-01-01T00:00:00.000Z");
    }

    #[test]
    fn ids_look_like_uuids_and_differ() {
        let a = pseudo_uuid(1, 7);
        assert_eq!(a.len(), 36);
        assert_ne!(a, pseudo_uuid(2, 7));
        assert_ne!(a, pseudo_uuid(1, 8));
    }
}
