//! Everything that touches the local file system: saving downloads under safe names
//! through partial files, the batch manifest and its directory's lock, flushing and
//! aligned reads, and fingerprints of input files.

pub(crate) mod aligned;
pub(crate) mod dir_lock;
pub(crate) mod fingerprint;
pub(crate) mod flush;
#[cfg(feature = "lock")]
pub(crate) mod lock_file;
pub(crate) mod manifest;
pub(crate) mod media;
pub(crate) mod partial;
pub(crate) mod reserve;
pub(crate) mod save;
pub(crate) mod sidecar;
