//! Reading `flowscale.lock` from disk, for the tool and for build scripts alike: one place
//! that names the file in every error.

use std::path::Path;

use crate::wire::error::{Error, Result};
use crate::wire::lock::Lock;

/// Reads and parses the lock at `path`. A file that cannot be read is an
/// [`Error::Io`] naming it; one that is no lock (or of a later format) an
/// [`Error::Config`] naming it.
pub fn read(path: impl AsRef<Path>) -> Result<Lock> {
    let path = path.as_ref();
    let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
    Lock::parse_named(&text, &path.display().to_string())
}
