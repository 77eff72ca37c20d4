//! The batch manifest on disk: one versioned JSON line per state change of a job, synced
//! before it counts; read back at the start of a run (a torn last line repaired, bad lines
//! reported), and the check that a recorded saved file is still there and inside the batch
//! directory.

use crate::files::dir_lock::{DirLock, WhenHeld};
use std::collections::{HashMap, HashSet};
use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader, Seek, SeekFrom, Write};
use std::path::Path;
use std::path::PathBuf;
use std::sync::{Mutex, PoisonError};

use serde::{Deserialize, Serialize};

use crate::decide::record::{JobKey, MANIFEST_VERSION, Record, SavedOutput};
use crate::wire::error::{Error, Result};

/// The manifest's file name inside the batch's directory.
pub const MANIFEST_FILE: &str = "manifest.jsonl";

/// A manifest line that could not be used, reported rather than skipped silently.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct SkippedLine {
    /// The line number (1-based).
    pub line: usize,
    /// Why it could not be read.
    pub reason: String,
}

/// The saved files of a record, joined to the batch directory `dir`, when every one is
/// still a file there (`None` when one went missing). A file that resolves outside `dir`
/// (through a link) is an error naming the record's line. Paths are recorded relative to
/// `dir`, so that a committed cache works on any machine.
pub(crate) fn on_disk(record: &Record, dir: &Path) -> Result<Option<Vec<SavedOutput>>> {
    let saved: Vec<SavedOutput> = record
        .saved
        .iter()
        .map(|s| SavedOutput::new(s.name.clone(), dir.join(&s.path), s.bytes))
        .collect();
    if !saved.iter().all(|s| s.path.is_file()) {
        return Ok(None);
    }
    for s in &saved {
        check_inside(dir, &s.path, record.line)?;
    }
    Ok(Some(saved))
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
    /// The directory's lock, held as long as the manifest is open: one process at a time.
    _lock: DirLock,
}

impl Manifest {
    /// Opens (or creates) `dir/manifest.jsonl` and reads what earlier runs recorded. A
    /// torn last line (a crash mid-write) is repaired first: cut off, or completed with
    /// its newline when it is a whole record, so the next append starts a line of its own.
    ///
    /// The directory is locked first (`files::dir_lock`), and stays locked while the
    /// manifest is open: what was read stays true, since no other process appends.
    pub fn open(dir: &Path, when_held: WhenHeld, waiting: impl FnOnce(&str)) -> Result<Self> {
        std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
        let lock = DirLock::acquire(dir, when_held, waiting)?;
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
            _lock: lock,
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
