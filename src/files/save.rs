//! How downloads are saved to disk, as the caller asks: [`DownloadOptions`] (overwrite,
//! skip what exists, how many at once, progress), and the check of a destination given by
//! the caller. The names themselves are taken by `files::reserve`.

use std::fmt;
use std::path::Path;
use std::sync::Arc;

use crate::wire::error::{Error, Result};
use crate::wire::progress::{Meter, Progress, ProgressCallback, Transfer};

/// How many outputs `AsyncClient::download_outputs` saves at once by default.
pub const DEFAULT_DOWNLOAD_CONCURRENCY: usize = 4;

/// How `download_outputs` saves files: overwrite or not, how many at once, progress.
///
/// ```
/// use flowscale::DownloadOptions;
/// let options = DownloadOptions::new()
///     .concurrency(2)
///     .on_progress(|p| eprintln!("{p}"));
/// ```
#[derive(Clone)]
#[must_use = "DownloadOptions do nothing until passed to download_outputs"]
pub struct DownloadOptions {
    overwrite: bool,
    skip_existing: bool,
    concurrency: usize,
    progress: Option<ProgressCallback>,
    saved: Option<SavedCallback>,
}

/// What `DownloadOptions::on_saved` was given.
type SavedCallback = Arc<dyn Fn(&crate::decide::record::SavedOutput) + Send + Sync>;

impl Default for DownloadOptions {
    fn default() -> Self {
        DownloadOptions {
            overwrite: false,
            skip_existing: false,
            concurrency: DEFAULT_DOWNLOAD_CONCURRENCY,
            progress: None,
            saved: None,
        }
    }
}

impl fmt::Debug for DownloadOptions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DownloadOptions")
            .field("overwrite", &self.overwrite)
            .field("skip_existing", &self.skip_existing)
            .field("concurrency", &self.concurrency)
            .field(
                "on_progress",
                &self.progress.as_ref().map(|_| "Fn(&Progress)"),
            )
            .field("on_saved", &self.saved.as_ref().map(|_| "Fn(&SavedOutput)"))
            .finish()
    }
}

impl DownloadOptions {
    /// The defaults: never overwrite (a name that exists gets a numbered suffix), 4 at
    /// once in `AsyncClient`, no progress callback.
    pub fn new() -> Self {
        Self::default()
    }

    /// Replace files that already exist in the directory instead of choosing a new name.
    /// Outputs of the same call never replace each other.
    pub fn overwrite(mut self, overwrite: bool) -> Self {
        self.overwrite = overwrite;
        self
    }

    /// Do not download an output whose file is already in the directory under the name this
    /// call gives it first (no numbered suffix): it is reported as saved, at that path and
    /// its size on disk. For re-running a command whose earlier run saved some outputs.
    /// Takes precedence over [`overwrite`](Self::overwrite).
    pub fn skip_existing(mut self, skip: bool) -> Self {
        self.skip_existing = skip;
        self
    }

    /// How many outputs `AsyncClient` downloads at once (at least 1; default
    /// [`DEFAULT_DOWNLOAD_CONCURRENCY`]). `Client` saves them one after the other.
    pub fn concurrency(mut self, n: usize) -> Self {
        self.concurrency = n.max(1);
        self
    }

    /// Calls `callback` with each download's [`Progress`] (bytes received, and the total
    /// when the server sends `Content-Length`), at most every 100 ms per file; the last
    /// report of a complete file equals its size.
    pub fn on_progress(mut self, callback: impl Fn(&Progress) + Send + Sync + 'static) -> Self {
        self.progress = Some(Arc::new(callback));
        self
    }

    /// Calls `callback` with each output as soon as its file has its final name (synced
    /// and complete), before the others are done: to report files one by one as they land.
    pub fn on_saved(
        mut self,
        callback: impl Fn(&crate::decide::record::SavedOutput) + Send + Sync + 'static,
    ) -> Self {
        self.saved = Some(Arc::new(callback));
        self
    }

    /// Calls `extra` too, after the caller's `on_saved` (a batch names the job with it).
    pub(crate) fn also_on_saved(
        mut self,
        extra: impl Fn(&crate::decide::record::SavedOutput) + Send + Sync + 'static,
    ) -> Self {
        let before = self.saved.take();
        self.saved = Some(Arc::new(move |output| {
            if let Some(before) = &before {
                before(output);
            }
            extra(output);
        }));
        self
    }

    /// Tells the `on_saved` callback, if any, of a file saved.
    pub(crate) fn saved(&self, output: &crate::decide::record::SavedOutput) {
        if let Some(callback) = &self.saved {
            callback(output);
        }
    }

    pub(crate) fn overwrites(&self) -> bool {
        self.overwrite
    }

    pub(crate) fn skips_existing(&self) -> bool {
        self.skip_existing
    }

    /// Only `AsyncClient` downloads several at once.
    #[cfg(feature = "async")]
    pub(crate) fn concurrency_limit(&self) -> usize {
        self.concurrency
    }

    pub(crate) fn meter(&self, name: &str, path: &Path, total: Option<u64>) -> Meter {
        let transfer = Transfer::Download {
            name: name.to_owned(),
            path: path.to_owned(),
        };
        Meter::new(self.progress.clone(), transfer, total)
    }
}

/// Checks the destination before anything is sent.
pub(crate) fn check_dest(dest: &Path) -> Result<()> {
    if dest.file_name().is_none() || dest.is_dir() {
        return Err(Error::input(
            "dest",
            format!("{} is not a file path", dest.display()),
        ));
    }
    Ok(())
}
