//! Downloading outputs to disk, the mode-independent part: [`DownloadOptions`],
//! [`SavedOutput`], and the choice of names. Bytes reach a final name only through
//! [`crate::files::partial`] (complete, synced, never over another file); `download_outputs`
//! takes every name inside its directory, so no server answer can make it write elsewhere
//! or over an existing file. Download links are presigned third-party URLs: the API key is
//! never sent.

use std::fmt;
use std::fs::File;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::decide::file_name;
use crate::decide::names::NameBook;
use crate::decide::resume::Part;
use crate::files::partial::{NotCommitted, PartialFile, Unavailable};
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

/// The most numbered names tried for one output.
const MAX_SUFFIX: u32 = 100_000;

/// One output being saved into a directory: the partial file its bytes go to, and the
/// name it will get. No file exists at the final name until [`Reserved::commit`]; dropped
/// before that (a failed download, a dropped future), its partial file stays when it holds
/// bytes to resume, with their record (`files::partial`), and goes otherwise.
#[derive(Debug)]
pub(crate) struct Reserved {
    dir: PathBuf,
    base: String,
    ext: String,
    /// The suffix of the name taken (0 for none).
    n: u32,
    overwrite: bool,
    book: NameBook,
    partial: PartialFile,
}

/// Creates `dir` if needed and takes a name for output `name` with extension `ext` (from
/// [`file_name::extension`]): the sanitised name with the suffix `-first` (none for 0),
/// or the next one up when it is taken by this call, is held by another download, or,
/// unless `overwrite`, exists in `dir`. Returns the reservation, its open partial file,
/// and what the partial file holds (bytes of this output left by a killed process, to be
/// resumed: see [`PartialFile::create`]).
pub(crate) fn reserve(
    dir: &Path,
    (name, first): (&str, u32),
    ext: &str,
    overwrite: bool,
    book: &NameBook,
) -> Result<(Reserved, File, Part)> {
    std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
    let base = file_name::sanitize(name, ext);
    for n in first..MAX_SUFFIX {
        let candidate = candidate(&base, n, ext);
        if !book.take(&candidate) {
            continue;
        }
        let path = dir.join(&candidate);
        if !overwrite && path.symlink_metadata().is_ok() {
            continue;
        }
        match PartialFile::create(&path, name) {
            Ok((partial, file, part)) => {
                let reserved = Reserved {
                    dir: dir.to_owned(),
                    base,
                    ext: ext.to_owned(),
                    n,
                    overwrite,
                    book: book.clone(),
                    partial,
                };
                return Ok((reserved, file, part));
            }
            Err(Unavailable::InUse(_)) => continue,
            Err(Unavailable::Failed(e)) => return Err(e),
        }
    }
    Err(no_free_name(dir))
}

/// The file already saved for output `name` under the name a save would try first (see
/// [`reserve`]), as a regular file (a link is not taken for one): its path and size. The
/// name is taken in `book`, so no other output of the call gets it.
pub(crate) fn existing(
    dir: &Path,
    (name, first): (&str, u32),
    ext: &str,
    book: &NameBook,
) -> Option<(PathBuf, u64)> {
    let name = candidate(&file_name::sanitize(name, ext), first, ext);
    let path = dir.join(&name);
    let meta = path.symlink_metadata().ok().filter(|m| m.is_file())?;
    book.take(&name).then_some((path, meta.len()))
}

fn candidate(base: &str, n: u32, ext: &str) -> String {
    match n {
        0 => format!("{base}{ext}"),
        n => format!("{base}-{n}{ext}"),
    }
}

fn no_free_name(dir: &Path) -> Error {
    Error::io(
        dir,
        io::Error::new(io::ErrorKind::AlreadyExists, "no free file name"),
    )
}

impl Reserved {
    /// The partial file the bytes go to, which records what it holds.
    pub fn partial(&self) -> &PartialFile {
        &self.partial
    }

    /// The name the output is to get (a later one if this one appears meanwhile).
    pub fn path(&self) -> PathBuf {
        self.dir.join(candidate(&self.base, self.n, &self.ext))
    }

    /// Moves the complete partial file into place, never over a file that appeared at its
    /// name meanwhile (unless overwriting): then it takes the next free name.
    pub fn commit(self) -> Result<PathBuf> {
        let Reserved {
            dir,
            base,
            ext,
            n,
            overwrite,
            book,
            mut partial,
        } = self;
        for k in n..MAX_SUFFIX {
            let name = candidate(&base, k, &ext);
            if k != n && !book.take(&name) {
                continue;
            }
            let path = dir.join(&name);
            match partial.commit(&path, overwrite) {
                Ok(()) => return Ok(path),
                Err(NotCommitted::Taken(back)) => partial = back,
                Err(NotCommitted::Failed(e)) => return Err(e),
            }
        }
        Err(no_free_name(&dir))
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
