//! Streaming an encoded form, the mode-independent part: every segment's bytes are counted
//! against the length it promised (a file that changed size or a reader that lied stops
//! the upload instead of sending a body that disagrees with its `Content-Length`), and the
//! first failure of a source is kept, typed, so that the transport can return it instead of
//! the backend's generic "error sending request".

use std::io;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use crate::wire::error::Error;
use crate::wire::progress::{Meter, ProgressCallback, Transfer};
pub(crate) use crate::wire::submission::UploadFlags;

/// Where a segment's bytes come from, to name it in an error.
#[derive(Clone, Debug)]
pub(crate) enum Origin {
    /// Headers and text fields, in memory.
    Memory,
    /// A file opened by the encoder.
    File { field: String, path: PathBuf },
    /// A caller's reader, for this field.
    Reader(String),
}

/// Why a stopped upload failed.
pub(crate) const STOPPED: &str = "the upload was stopped before its end: nothing was submitted";

/// What the body of one upload shares with the transport that sends it: the first failure
/// of its own sources (recorded by the body, returned by the transport), and its progress.
#[derive(Clone, Default)]
pub(crate) struct UploadState {
    fault: Arc<Mutex<Option<Error>>>,
    /// Only there when someone watches: no lock is taken otherwise.
    meter: Option<Arc<Mutex<Meter>>>,
    /// The form's flags: `whole` is set at the end of the last segment, or once `total`
    /// bytes were handed over (a client that knows the length reads no further).
    flags: UploadFlags,
    total: Option<u64>,
    handed: Arc<AtomicU64>,
}

impl UploadState {
    /// The state of an upload of `total` bytes (when known), reported to `progress`.
    pub fn new(progress: Option<ProgressCallback>, total: Option<u64>, flags: UploadFlags) -> Self {
        UploadState {
            flags,
            total,
            handed: Arc::default(),
            fault: Arc::default(),
            meter: progress
                .map(|cb| Arc::new(Mutex::new(Meter::new(Some(cb), Transfer::Upload, total)))),
        }
    }

    /// The flags the upload shares with its sender and the caller's handle (the async
    /// transport records streamed fields through them).
    #[cfg(feature = "async")]
    pub fn flags(&self) -> &UploadFlags {
        &self.flags
    }

    /// Keeps `error` if it is the first, and gives the backend an `io::Error` to stop on.
    pub fn record(&self, error: Error) -> io::Error {
        let stop = io::Error::other(error.to_string());
        let mut slot = self.fault.lock().unwrap_or_else(PoisonError::into_inner);
        slot.get_or_insert(error);
        stop
    }

    /// The recorded failure, if the upload's own source failed.
    pub fn take(&self) -> Option<Error> {
        self.fault
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take()
    }

    /// `n` more bytes of the body went out.
    fn sent(&self, n: usize) {
        let handed = self.handed.fetch_add(n as u64, Ordering::SeqCst) + n as u64;
        if self.total.is_some_and(|total| handed >= total) {
            self.flags.mark_whole();
        }
        if let Some(meter) = &self.meter {
            meter.lock().unwrap_or_else(PoisonError::into_inner).add(n);
        }
    }

    /// The whole body went out.
    pub fn finished(&self) {
        self.flags.mark_whole();
        if let Some(meter) = &self.meter {
            meter
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .finish();
        }
    }
}

/// Counts one segment's bytes while it streams.
pub(crate) struct SegmentCheck {
    origin: Origin,
    expected: Option<u64>,
    seen: u64,
    state: UploadState,
}

impl SegmentCheck {
    pub fn new((origin, expected): (Origin, Option<u64>), state: &UploadState) -> Self {
        SegmentCheck {
            origin,
            expected,
            seen: 0,
            state: state.clone(),
        }
    }

    /// Counts `n` more bytes, before they are handed on; fails when they exceed the
    /// promise, or when the upload is to stop.
    pub fn advance(&mut self, n: usize) -> io::Result<()> {
        self.stopped()?;
        self.seen += n as u64;
        self.state.sent(n);
        match self.expected {
            Some(exp) if self.seen > exp => Err(self.mismatch()),
            _ => Ok(()),
        }
    }

    /// At the end of the segment: fails when fewer bytes came than promised, or when the
    /// upload is to stop.
    pub fn finish(&self) -> io::Result<()> {
        self.stopped()?;
        if let Origin::Reader(field) = &self.origin {
            // A reader's size is known only now: what a lost answer's run is matched by.
            self.state.flags.reader_ended(field, self.seen);
        }
        match self.expected {
            Some(exp) if self.seen != exp => Err(self.mismatch()),
            _ => Ok(()),
        }
    }

    /// The source itself failed to read: a disk error for a file, the caller's reader
    /// for a reader. `Interrupted` is passed through for the caller to retry.
    pub fn read_failed(&self, e: io::Error) -> io::Error {
        if e.kind() == io::ErrorKind::Interrupted {
            return e;
        }
        let error = match &self.origin {
            Origin::File { path, .. } => Error::io(path.clone(), e),
            Origin::Reader(field) => Error::input(field.clone(), format!("the reader failed: {e}")),
            Origin::Memory => Error::input("streamed_fields", e.to_string()),
        };
        self.state.record(error)
    }

    fn stopped(&self) -> io::Result<()> {
        match self.state.flags.stopped() {
            true => Err(self.state.record(Error::input("upload", STOPPED))),
            false => Ok(()),
        }
    }

    fn mismatch(&self) -> io::Error {
        let expected = self.expected.unwrap_or(0);
        let (field, what) = match &self.origin {
            Origin::File { field, path } => (
                field.clone(),
                format!("file {} changed size while it was sent", path.display()),
            ),
            Origin::Reader(field) => (field.clone(), "the reader".to_owned()),
            Origin::Memory => ("form".to_owned(), "a form header".to_owned()),
        };
        let got = if self.seen > expected {
            format!("more than {expected} bytes")
        } else {
            format!("{} bytes", self.seen)
        };
        let error = Error::input(
            field,
            format!(
                "{what}: it yielded {got} where {expected} were announced; the upload was stopped"
            ),
        );
        self.state.record(error)
    }
}
