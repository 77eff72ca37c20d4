//! The only mode-specific I/O: one module per HTTP backend, with the same function names and
//! signatures, differing only in `async`. The shared client code in `src/client/` calls
//! `transport::send`, `transport::fetch`, `transport::sleep` and `transport::run_blocking`
//! without knowing which backend it was compiled against.

/// The largest API response body read into memory (answers are small JSON documents).
pub(crate) const MAX_RESPONSE_BYTES: u64 = 16 * 1024 * 1024;

/// The most of an error answer's body that is read (to show the server's message).
pub(crate) const MAX_ERROR_BODY_BYTES: u64 = 64 * 1024;

/// How many redirects a download follows (API requests follow none).
pub(crate) const MAX_DOWNLOAD_REDIRECTS: u32 = 10;

/// The header carrying the API key.
pub(crate) const API_KEY_HEADER: &str = "X-API-KEY";

#[cfg(feature = "blocking")]
pub(crate) mod ureq;

#[cfg(feature = "async")]
pub(crate) mod reqwest;

#[cfg(any(feature = "blocking", feature = "async"))]
pub(crate) mod roots;

#[cfg(any(feature = "blocking", feature = "async"))]
pub(crate) mod redirect;

pub(crate) use crate::wire::link::DownloadHead;
