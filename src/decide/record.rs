//! The manifest's line format, and the values it records: a job's status, its request's
//! fingerprint, the files saved. Plain data with serde: what `decide::plan` reads and
//! `files::manifest` writes. (`SavedOutput` is also what `download_outputs` returns.)

use std::fmt;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

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
    /// Not submitted: the batch was stopped first, or nothing of its submission went out
    /// (a missing file, a refused key, no connection). Safe to run again.
    NotStarted,
    /// Its submission went out and the answer was lost, and no run of FlowScale's could be
    /// matched to it for certain: a run may exist and be paid for. Never submitted again
    /// silently: check (`flowscale runs`), then attach to the run
    /// ([`Batch::attach`](crate::Batch::attach)) or submit again
    /// ([`Batch::resubmit_unknown`](crate::Batch::resubmit_unknown)).
    Unknown,
}

impl fmt::Display for JobStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            JobStatus::Completed => "completed",
            JobStatus::Failed => "failed",
            JobStatus::Submitted => "submitted",
            JobStatus::NotStarted => "not started",
            JobStatus::Unknown => "unknown",
        })
    }
}

/// One output saved by `download_outputs`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct SavedOutput {
    /// The output's name, as the server gave it.
    pub name: String,
    /// Where it was saved: always directly inside the directory given.
    pub path: PathBuf,
    /// Its size in bytes.
    pub bytes: u64,
}

impl SavedOutput {
    pub(crate) fn new(name: String, path: PathBuf, bytes: u64) -> Self {
        SavedOutput { name, path, bytes }
    }
}

/// The SHA-256 of a run request (workflow id, group id, every field as it is sent, files
/// by content), as 64 lowercase hex digits. See [`Inputs::fingerprint`](crate::Inputs::fingerprint).
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(into = "String", try_from = "String")]
pub struct Fingerprint(String);

impl From<Fingerprint> for String {
    fn from(fingerprint: Fingerprint) -> String {
        fingerprint.0
    }
}

/// Only 64 lowercase hex digits are a fingerprint: a manifest line with anything else is
/// unreadable (and reported), never a panic later.
impl TryFrom<String> for Fingerprint {
    type Error = String;

    fn try_from(text: String) -> std::result::Result<Self, String> {
        let hex = text.len() == 64
            && text
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
        if hex {
            Ok(Fingerprint(text))
        } else {
            Err(format!(
                "`{}` is not a fingerprint (64 lowercase hex digits)",
                text.chars().take(80).collect::<String>()
            ))
        }
    }
}

impl Fingerprint {
    /// A digest's 64 lowercase hex digits (from `Inputs::fingerprint`).
    pub(crate) fn from_hex(hex: String) -> Self {
        Fingerprint(hex)
    }

    /// The 64 hex digits.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The first 16 hex digits: short enough for a folder name, long enough to be unique.
    pub fn short(&self) -> &str {
        &self.0[..16]
    }
}

impl fmt::Display for Fingerprint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The manifest format this version writes; every record carries it (`"version"`, as the
/// tool's documents say; `"v"` in manifests written before, still read). Records written
/// before versions existed are version 1.
pub(crate) const MANIFEST_VERSION: u32 = 1;

fn version_1() -> u32 {
    1
}

/// One line of the manifest.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub(crate) struct Record {
    #[serde(rename = "version", alias = "v", default = "version_1")]
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
    /// The same time, to the millisecond (a lost submission's run is looked for from then).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sent_ms: Option<u64>,
    /// The pod (base URL) the job's run was sent to: a run another pod does not know is
    /// said to be that pod's, not lost.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pod: Option<String>,
    /// The line it was read from (1-based), for messages.
    #[serde(skip)]
    pub line: usize,
}

/// A job is known to the manifest by its name and its request's fingerprint: two jobs
/// with the same inputs under different names are two runs.
pub(crate) type JobKey = (String, Fingerprint);
