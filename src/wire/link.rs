//! A download link as the SDK sends and names it: checked before anything is sent, shown
//! without its query (a presigned link carries its signature there), and its body's
//! length held to what the server announced, and what its response says before its body.
//! Web concerns, apart from the files they end up in (`files/`).

use crate::wire::error::{Error, Result};
use crate::wire::failure::TransportErrorKind;

/// What a download's response says about its body, before the body is read.
#[derive(Clone, Debug, Default)]
pub(crate) struct DownloadHead {
    /// The `Content-Type`, if any.
    pub content_type: Option<String>,
    /// The `Content-Length`, if any.
    pub content_length: Option<u64>,
    /// The status: 200, or 206 for a range.
    pub status: u16,
    /// The `ETag`, if any.
    pub etag: Option<String>,
    /// The `Last-Modified`, if any.
    pub last_modified: Option<String>,
    /// The `Content-Range` of a 206.
    pub content_range: Option<String>,
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
