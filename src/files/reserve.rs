//! Taking an output's file name on disk, for the two moments that need one: before the
//! bytes (a partial file beside the name, held against other downloads) and after them
//! (the rename into place, never over a file that appeared meanwhile). Which name comes
//! next is [`Naming`]'s decision; this file only asks the disk. Bytes reach a final name
//! only through [`crate::files::partial`] (complete, synced), and every name is a plain
//! base name inside the directory, so no server answer can make a save write elsewhere.

use std::fs::File;
use std::io;
use std::path::{Path, PathBuf};

use crate::decide::names::Naming;
use crate::decide::resume::Part;
use crate::files::partial::{NotCommitted, PartialFile, Unavailable};
use crate::wire::error::{Error, Result};

/// One output being saved into a directory: the partial file its bytes go to, and the
/// name it will get. No file exists at the final name until [`Reserved::commit`]; dropped
/// before that (a failed download, a dropped future), its partial file stays when it holds
/// bytes to resume, with their record (`files::partial`), and goes otherwise.
#[derive(Debug)]
pub(crate) struct Reserved {
    dir: PathBuf,
    /// The name held (`Naming::current` is `Some` from `reserve` on).
    name: String,
    naming: Naming,
    overwrite: bool,
    partial: PartialFile,
}

/// Creates `dir` if needed and takes the first name `naming` offers that is free: not
/// held by another download and, unless `overwrite`, not in `dir`. `source` names the
/// output in the partial file's record. Returns the reservation, its open partial file,
/// and what the partial file holds (bytes of this output left by a killed process, to be
/// resumed: see [`PartialFile::create`]).
pub(crate) fn reserve(
    dir: &Path,
    mut naming: Naming,
    source: &str,
    overwrite: bool,
) -> Result<(Reserved, File, Part)> {
    std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
    while let Some(name) = naming.current() {
        let path = dir.join(&name);
        if !overwrite && path.symlink_metadata().is_ok() {
            naming.refused();
            continue;
        }
        match PartialFile::create(&path, source) {
            Ok((partial, file, part)) => {
                let reserved = Reserved {
                    dir: dir.to_owned(),
                    name,
                    naming,
                    overwrite,
                    partial,
                };
                return Ok((reserved, file, part));
            }
            Err(Unavailable::InUse(_)) => naming.refused(),
            Err(Unavailable::Failed(e)) => return Err(e),
        }
    }
    Err(no_free_name(dir))
}

/// The file already saved under the name `naming` offers first, as a regular file (a
/// link is not taken for one): its path and size. `None` when there is none, or when an
/// earlier output of the call holds that name.
pub(crate) fn existing(dir: &Path, naming: &mut Naming) -> Option<(PathBuf, u64)> {
    let name = naming.current().filter(|_| naming.at_first())?;
    let path = dir.join(name);
    let meta = path.symlink_metadata().ok().filter(|m| m.is_file())?;
    Some((path, meta.len()))
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
        self.dir.join(&self.name)
    }

    /// Moves the complete partial file into place, never over a file that appeared at its
    /// name meanwhile (unless overwriting): then it takes the next name `naming` offers.
    pub fn commit(self) -> Result<PathBuf> {
        let Reserved {
            dir,
            mut naming,
            overwrite,
            mut partial,
            ..
        } = self;
        while let Some(name) = naming.current() {
            let path = dir.join(name);
            match partial.commit(&path, overwrite) {
                Ok(()) => return Ok(path),
                Err(NotCommitted::Taken(back)) => {
                    partial = back;
                    naming.refused();
                }
                Err(NotCommitted::Failed(e)) => return Err(e),
            }
        }
        Err(no_free_name(&dir))
    }
}
