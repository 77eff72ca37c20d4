//! What a partial file is of, kept beside it (`<name>.part.meta`, shortened with a hash
//! of the name where that would pass 255 bytes): the output it belongs to,
//! the server's validator and the whole length. A later process resumes the partial file
//! only when this says it is ours, for the same output, and the server's validator still
//! holds; anything else (no record, a torn one, another output's, a link in its place) makes
//! the partial file start over.

use std::fs::OpenOptions;
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::decide::resume::Part;
use crate::wire::error::{Error, Result};

/// The record's format; a record of another version is not read.
const VERSION: u32 = 1;

/// Records are small; a larger file is not one of ours.
const MAX_BYTES: u64 = 4096;

#[derive(Serialize, Deserialize)]
struct Record {
    v: u32,
    /// What the bytes are of: an output's name, or a link without its query.
    source: String,
    #[serde(flatten)]
    part: Part,
}

/// Where the record of the partial file `partial` is.
pub(crate) fn path(partial: &Path) -> PathBuf {
    let name = partial.file_name().unwrap_or_default();
    partial.with_file_name(crate::decide::file_name::with_suffix(name, ".meta"))
}

/// The record of `partial`, if there is one of ours for `source` (never read through a link).
pub(crate) fn read(partial: &Path, source: &str) -> Option<Part> {
    let file = no_follow(OpenOptions::new().read(true))
        .open(path(partial))
        .ok()?;
    if !file.metadata().ok()?.is_file() {
        return None;
    }
    let mut text = String::new();
    file.take(MAX_BYTES).read_to_string(&mut text).ok()?;
    let record: Record = serde_json::from_str(&text).ok()?;
    (record.v == VERSION && record.source == source).then_some(record.part)
}

/// Writes the record of `partial` (replacing one there, never writing through a link).
pub(crate) fn write(partial: &Path, source: &str, part: &Part) -> Result<()> {
    let at = path(partial);
    remove(partial);
    let record = Record {
        v: VERSION,
        source: source.to_owned(),
        part: part.clone(),
    };
    let text = serde_json::to_vec(&record).map_err(|e| Error::io(&at, io::Error::other(e)))?;
    let mut file = no_follow(OpenOptions::new().write(true).create_new(true))
        .open(&at)
        .map_err(|e| Error::io(&at, e))?;
    file.write_all(&text).map_err(|e| Error::io(&at, e))
}

/// Removes the record of `partial`, if any (a link there is removed, not followed).
pub(crate) fn remove(partial: &Path) {
    let _ = std::fs::remove_file(path(partial));
}

#[cfg(unix)]
fn no_follow(options: &mut OpenOptions) -> &mut OpenOptions {
    use std::os::unix::fs::OpenOptionsExt;
    options.custom_flags(libc::O_NOFOLLOW)
}

#[cfg(not(unix))]
fn no_follow(options: &mut OpenOptions) -> &mut OpenOptions {
    options
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_record_is_read_back_only_for_its_own_output() {
        let dir = std::env::temp_dir().join(format!("flowscale-sidecar-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let partial = dir.join("out.png.part");
        let part = Part {
            have: 0,
            validator: Some("\"e\"".into()),
            total: Some(10),
        };
        write(&partial, "image_1", &part).unwrap();
        assert_eq!(read(&partial, "image_1"), Some(part.clone()));
        assert_eq!(read(&partial, "image_2"), None);
        std::fs::write(path(&partial), b"{\"v\":1,\"sour").unwrap();
        assert_eq!(read(&partial, "image_1"), None, "a torn record is not ours");
        write(&partial, "image_1", &part).unwrap();
        remove(&partial);
        assert_eq!(read(&partial, "image_1"), None);
        #[cfg(unix)]
        {
            let target = dir.join("elsewhere");
            std::fs::write(
                &target,
                serde_json::to_vec(&Record {
                    v: 1,
                    source: "image_1".into(),
                    part: part.clone(),
                })
                .unwrap(),
            )
            .unwrap();
            std::os::unix::fs::symlink(&target, path(&partial)).unwrap();
            assert_eq!(
                read(&partial, "image_1"),
                None,
                "a planted link is not followed"
            );
            write(&partial, "image_1", &part).unwrap();
            assert!(
                std::fs::read_to_string(&target)
                    .unwrap()
                    .contains("image_1")
            );
            assert!(
                !path(&partial)
                    .symlink_metadata()
                    .unwrap()
                    .file_type()
                    .is_symlink()
            );
        }
        let _ = std::fs::remove_dir_all(&dir);
    }
}
