//! Downloading outputs to disk, the mode-independent part: downloads go to `<dest>.part`
//! and are renamed into place only when complete, so a broken download never looks like a
//! finished file. Download links are presigned third-party URLs: the API key is never sent.

use std::fs::File;
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};
use crate::failure::TransportErrorKind;

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
