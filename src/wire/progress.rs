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
}

impl Progress {
    /// Whether this is the last report of a complete transfer.
    pub fn is_complete(&self) -> bool {
        self.total.is_none_or(|total| self.done >= total) && self.done > 0
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
        }
    }
}
