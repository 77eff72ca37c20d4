//! The only mode-specific I/O: one module per HTTP backend, with the same function names and
//! signatures, differing only in `async`. The shared client code in `src/client/` calls
//! `transport::send`, `transport::sleep` and `transport::run_blocking` without knowing which
//! backend it was compiled against.

/// The largest API response body read into memory (answers are small JSON documents).
pub(crate) const MAX_RESPONSE_BYTES: u64 = 16 * 1024 * 1024;

/// The header carrying the API key.
pub(crate) const API_KEY_HEADER: &str = "X-API-KEY";

#[cfg(feature = "blocking")]
pub(crate) mod ureq;

#[cfg(feature = "async")]
pub(crate) mod reqwest;
