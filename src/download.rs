//! Downloading outputs to disk, the mode-independent part: [`DownloadOptions`],
//! [`SavedOutput`], and the file bookkeeping. Downloads go to `<name>.part` and are renamed
//! into place only when complete, so a broken download never looks like a finished file;
//! `download_outputs` reserves every name with create-new semantics inside its directory,
//! so no server answer can make it write elsewhere or over an existing file. Download links
//! are presigned third-party URLs: the API key is never sent.

use std::collections::HashSet;
use std::fmt;
use std::fs::{File, OpenOptions};
use std::io;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::failure::TransportErrorKind;
use crate::file_name;
use crate::progress::{Meter, Progress, ProgressCallback, Transfer};

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
    concurrency: usize,
    progress: Option<ProgressCallback>,
}

impl Default for DownloadOptions {
    fn default() -> Self {
        DownloadOptions {
            overwrite: false,
            concurrency: DEFAULT_DOWNLOAD_CONCURRENCY,
            progress: None,
        }
    }
}

impl fmt::Debug for DownloadOptions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DownloadOptions")
            .field("overwrite", &self.overwrite)
            .field("concurrency", &self.concurrency)
            .field(
                "on_progress",
                &self.progress.as_ref().map(|_| "Fn(&Progress)"),
            )
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

    pub(crate) fn overwrites(&self) -> bool {
        self.overwrite
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

/// The names taken by one `download_outputs` call, so that two outputs never get the same
/// file even when overwriting.
#[derive(Clone, Debug, Default)]
pub(crate) struct NameBook(Arc<Mutex<HashSet<String>>>);

/// A file name reserved for one output: the final path (created empty, unless
/// overwriting) and the partial file the bytes go to first.
/// Dropped before [`Reserved::commit`] (a failed download, a cancelled future), it
/// removes the partial file and the reserved name, so nothing is left looking complete.
#[derive(Debug)]
pub(crate) struct Reserved {
    pub path: PathBuf,
    pub partial: PathBuf,
    /// Whether `path` was created by the reservation (and must go if the download fails).
    created: bool,
    committed: bool,
}

/// For each output name, the suffix its file name starts from: the k-th output whose name
/// sanitises like an earlier one's starts at `-k`. Outputs saved concurrently then get the
/// same names whatever order their downloads finish in.
pub(crate) fn first_suffixes<'a>(names: impl IntoIterator<Item = &'a str>) -> Vec<u32> {
    let mut seen: Vec<(String, u32)> = Vec::new();
    names
        .into_iter()
        .map(|name| {
            let base = file_name::sanitize(name, "").to_lowercase();
            match seen.iter_mut().find(|(b, _)| *b == base) {
                Some((_, count)) => {
                    *count += 1;
                    *count
                }
                None => {
                    seen.push((base, 0));
                    0
                }
            }
        })
        .collect()
}

/// Creates `dir` if needed and reserves a file for output `name` with extension `ext`
/// (from [`file_name::extension`]): the sanitised name with the suffix `-first` (none for
/// 0), or the next one up when it is taken by this call or, unless `overwrite`, exists in
/// `dir`. Returns the reservation and its open partial file.
pub(crate) fn reserve(
    dir: &Path,
    (name, first): (&str, u32),
    ext: &str,
    overwrite: bool,
    book: &NameBook,
) -> Result<(Reserved, File)> {
    std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
    let base = file_name::sanitize(name, ext);
    for n in first..first + 100_000 {
        let candidate = match n {
            0 => format!("{base}{ext}"),
            n => format!("{base}-{n}{ext}"),
        };
        if !book
            .0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(candidate.clone())
        {
            continue;
        }
        let path = dir.join(&candidate);
        let created = if overwrite {
            false
        } else {
            match create_new(&path) {
                Ok(_) => true,
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => continue,
                Err(e) => return Err(Error::io(path, e)),
            }
        };
        let partial = dir.join(format!("{candidate}.part"));
        match create_new(&partial) {
            Ok(file) => {
                let reserved = Reserved {
                    path,
                    partial,
                    created,
                    committed: false,
                };
                return Ok((reserved, file));
            }
            // Someone else's partial file (or a link planted there): leave it, take the
            // next name.
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
                if created {
                    let _ = std::fs::remove_file(&path);
                }
            }
            Err(e) => {
                if created {
                    let _ = std::fs::remove_file(&path);
                }
                return Err(Error::io(partial, e));
            }
        }
    }
    Err(Error::io(
        dir,
        io::Error::new(io::ErrorKind::AlreadyExists, "no free file name"),
    ))
}

fn create_new(path: &Path) -> io::Result<File> {
    OpenOptions::new().write(true).create_new(true).open(path)
}

impl Reserved {
    /// Moves the complete partial file into place.
    pub fn commit(mut self) -> Result<PathBuf> {
        finish(&self.partial, &self.path)?;
        self.committed = true;
        Ok(std::mem::take(&mut self.path))
    }
}

impl Drop for Reserved {
    fn drop(&mut self) {
        if !self.committed {
            discard(&self.partial);
            if self.created {
                discard(&self.path);
            }
        }
    }
}

/// `<dest>.part`, beside the destination.
pub(crate) fn partial_path(dest: &Path) -> PathBuf {
    let mut name = dest.file_name().unwrap_or_default().to_os_string();
    name.push(".part");
    dest.with_file_name(name)
}

/// Checks a download URL before anything is sent.
pub(crate) fn check_url(url: &str) -> Result<()> {
    let lower = url.trim_start().to_ascii_lowercase();
    if lower.starts_with("https://") || lower.starts_with("http://") {
        Ok(())
    } else {
        Err(Error::input(
            "url",
            format!("`{}` is not an http(s) URL", redact(url)),
        ))
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

/// A URL without its query: presigned links carry their signature there.
pub(crate) fn redact(url: &str) -> String {
    match url.split_once('?') {
        Some((base, _)) => format!("{base}?…"),
        None => url.to_owned(),
    }
}

/// Fails a download whose body was shorter or longer than its `Content-Length`.
pub(crate) fn check_length(url: &str, written: u64, announced: Option<u64>) -> Result<u64> {
    match announced {
        Some(expected) if expected != written => Err(Error::transport(
            &redact(url),
            TransportErrorKind::Truncated {
                received: written,
                expected,
            },
            None,
        )),
        _ => Ok(written),
    }
}

/// Creates (or empties) the partial file a download is written to.
pub(crate) fn create_partial(partial: &Path) -> Result<File> {
    File::create(partial).map_err(|e| Error::io(partial, e))
}

/// Moves a complete download into place.
pub(crate) fn finish(partial: &Path, dest: &Path) -> Result<()> {
    std::fs::rename(partial, dest).map_err(|e| Error::io(dest, e))
}

/// Removes what a failed download left.
pub(crate) fn discard(partial: &Path) {
    let _ = std::fs::remove_file(partial);
}
