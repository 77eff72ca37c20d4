//! Progress of long transfers, one mechanism for uploads and downloads in both clients:
//! [`Progress`] reports, and the rate-limited meter the transports feed.

use std::fmt;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

/// A progress callback, shared by the transfers it watches.
pub(crate) type ProgressCallback = Arc<dyn Fn(&Progress) + Send + Sync>;

/// Reports are at least this far apart in time, except the last one.
const MIN_REPORT_GAP: Duration = Duration::from_millis(100);

/// Which transfer a [`Progress`] report is about.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "transfer", rename_all = "snake_case")]
#[non_exhaustive]
pub enum Transfer {
    /// The inputs of `execute_workflow` (one report stream for the whole form).
    Upload,
    /// One output being saved by `download_outputs`.
    Download {
        /// The output's name.
        name: String,
        /// The file it is saved to.
        path: PathBuf,
    },
}

/// How far a transfer has come: bytes done, and the total when it is known.
///
/// Reports of one transfer arrive in order, at most every 100 ms, with `done` never going
/// down; the last report of a complete transfer has `done` equal to its total.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Progress {
    /// What is being transferred.
    pub transfer: Transfer,
    /// Bytes sent or received so far.
    pub done: u64,
    /// Bytes in all, when known (`Content-Length`).
    pub total: Option<u64>,
    /// Whether the transfer has ended (its last report): for a transfer of unknown length,
    /// the only way to know it is done.
    #[serde(default)]
    pub finished: bool,
}

impl Progress {
    /// Whether this is the last report of a complete transfer: its total reached, or, for a
    /// transfer of unknown length (a stream), its end reported.
    pub fn is_complete(&self) -> bool {
        match self.total {
            Some(total) => self.done >= total && self.done > 0,
            None => self.finished,
        }
    }
}

impl fmt::Display for Progress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.transfer {
            Transfer::Upload => f.write_str("upload")?,
            Transfer::Download { name, .. } => write!(f, "download of {name}")?,
        }
        match self.total {
            Some(total) => write!(f, ": {} of {} bytes", self.done, total),
            None => write!(f, ": {} bytes", self.done),
        }
    }
}

/// Counts one transfer's bytes and calls the callback, rate-limited. Without a callback
/// it does nothing at all.
pub(crate) struct Meter {
    callback: Option<ProgressCallback>,
    transfer: Transfer,
    done: u64,
    /// The most reported so far: a download that starts over reports no less than this
    /// until it is past it again (progress never goes backwards).
    floor: u64,
    total: Option<u64>,
    last_report: Option<Instant>,
    finished: bool,
}

impl Meter {
    pub fn new(callback: Option<ProgressCallback>, transfer: Transfer, total: Option<u64>) -> Self {
        Meter {
            callback,
            transfer,
            done: 0,
            floor: 0,
            total,
            last_report: None,
            finished: false,
        }
    }

    /// A meter that reports nothing (a transfer nobody watches).
    pub fn off() -> Self {
        Meter::new(None, Transfer::Upload, None)
    }

    /// The transfer goes on from byte `position` (a resumed download: where its partial
    /// file ends; one that starts over: 0), of `total` bytes in all when known.
    pub fn at(&mut self, position: u64, total: Option<u64>) {
        self.floor = self.floor.max(self.done);
        self.done = position;
        if total.is_some() {
            self.total = total;
        }
    }

    /// `n` more bytes went through.
    pub fn add(&mut self, n: usize) {
        if self.callback.is_none() || self.finished {
            return;
        }
        self.done += n as u64;
        if self.total.is_some_and(|total| self.done >= total) {
            // The transfer may never be read past its end: this is the last report.
            self.finish();
            return;
        }
        let now = Instant::now();
        if self
            .last_report
            .is_none_or(|last| now.duration_since(last) >= MIN_REPORT_GAP)
        {
            self.last_report = Some(now);
            if let Some(callback) = &self.callback {
                callback(&self.report());
            }
        }
    }

    /// The transfer is complete: the last report, once.
    pub fn finish(&mut self) {
        if self.finished {
            return;
        }
        self.finished = true;
        if let Some(callback) = &self.callback {
            callback(&self.report());
        }
    }

    fn report(&self) -> Progress {
        Progress {
            transfer: self.transfer.clone(),
            done: self.done.max(self.floor),
            total: self.total,
            finished: self.finished,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex;

    /// The reports a meter makes, as a callback sees them.
    fn reports(total: Option<u64>, pieces: &[usize]) -> Vec<Progress> {
        let seen = Arc::new(Mutex::new(Vec::new()));
        let keep = seen.clone();
        let mut meter = Meter::new(
            Some(Arc::new(move |p: &Progress| {
                keep.lock().unwrap().push(p.clone())
            })),
            Transfer::Upload,
            total,
        );
        for n in pieces {
            meter.add(*n);
        }
        meter.finish();
        drop(meter);
        Arc::try_unwrap(seen)
            .map_or_else(|s| s.lock().unwrap().clone(), |m| m.into_inner().unwrap())
    }

    #[test]
    fn a_stream_of_unknown_length_is_complete_only_at_its_end() {
        let seen = reports(None, &[10, 10, 10]);
        let last = seen.last().unwrap();
        assert!(last.is_complete() && last.done == 30, "{seen:?}");
        assert!(
            seen[..seen.len() - 1].iter().all(|p| !p.is_complete()),
            "a report before the end says complete: {seen:?}"
        );
    }

    #[test]
    fn a_transfer_of_known_length_is_complete_at_its_total() {
        let seen = reports(Some(20), &[10, 10]);
        assert!(seen.last().unwrap().is_complete(), "{seen:?}");
        assert_eq!(
            seen.iter().filter(|p| p.is_complete()).count(),
            1,
            "{seen:?}"
        );
    }
}
