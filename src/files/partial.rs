//! The one way a download reaches its final name: bytes go to a partial file beside it,
//! and only a complete, synced file is moved into place. Every download path uses it.
//!
//! The rules, and why:
//! - The partial file is `<final>.part`, created with create-new semantics, so it is never
//!   opened through a symlink planted there (`O_EXCL` refuses links, even dangling ones).
//! - It is locked while it is ours (`flock` on Unix, no sharing on Windows). A `.part`
//!   file left by a process that was killed is unlocked: the next save of the same name
//!   takes it over (a regular file only, opened without following links); one that is
//!   locked belongs to a download in progress and is left alone.
//! - Nothing is created at the final name until the bytes are complete. Committing makes a
//!   hard link at the final name, which fails if the name exists, then removes the partial
//!   file (or renames over the name, when the caller asked to replace it). A crash at any
//!   point leaves either no final file or a complete one.
//! - Dropped before it is committed (a failed download, a dropped future), the partial file
//!   is kept when its record is written (its bytes are resumed by the next save of the same
//!   output), and removed otherwise.
//! - A `.part` file with a second name (a hard link to a saved file) is never taken over:
//!   emptying or writing it would change that file too.

use std::fs::{File, OpenOptions};
use std::io;
use std::path::{Path, PathBuf};

use super::sidecar;
use crate::decide::resume::Part;
use crate::wire::error::Error;

/// Why a partial file could not be had for a name.
#[derive(Debug)]
pub(crate) enum Unavailable {
    /// Another download holds it, or something that is not a regular file (a link, a
    /// folder) is in its place: neither is touched.
    InUse(PathBuf),
    /// The file system refused.
    Failed(Error),
}

/// Why a complete partial file did not get its final name.
#[derive(Debug)]
pub(crate) enum NotCommitted {
    /// The final name exists (and was not to be replaced): the partial file is kept, for
    /// another name.
    Taken(PartialFile),
    /// The file system refused.
    Failed(Error),
}

/// A partial file of ours, locked. Dropped uncommitted (a failed download, a dropped
/// future), it is kept when it has a record (its bytes can be resumed by the next save of
/// the same output), and removed otherwise.
#[derive(Debug)]
pub(crate) struct PartialFile {
    path: PathBuf,
    /// What its bytes are of (an output's name, a link without its query), for its record.
    source: String,
    /// A handle that holds the lock until the partial file is committed or removed (the
    /// writer's handle shares it, but is closed as soon as the body is written).
    lock: Option<File>,
    /// Whether its record is written: dropped uncommitted, it is then kept for resuming.
    recorded: std::sync::atomic::AtomicBool,
}

/// `<dest>.part`, beside the destination.
/// (A name too long for that is shortened with a hash of it: `file_name::with_suffix`.)
pub(crate) fn partial_path(dest: &Path) -> PathBuf {
    let name = dest.file_name().unwrap_or_default();
    dest.with_file_name(crate::decide::file_name::with_suffix(name, ".part"))
}

impl PartialFile {
    /// Creates (or takes over from a killed process) the partial file for `dest`, holding
    /// bytes of `source` (an output's name, a link without its query), and returns it with
    /// a handle to write to and what it holds: a file taken over keeps its bytes when its
    /// record ([`sidecar`]) says they are of `source`, and is emptied otherwise.
    pub fn create(
        dest: &Path,
        source: &str,
    ) -> std::result::Result<(PartialFile, File, Part), Unavailable> {
        let path = partial_path(dest);
        let failed = |e| Unavailable::Failed(Error::io(&path, e));
        let (file, part, recorded) = match create_new(&path) {
            Ok(file) => {
                sidecar::remove(&path);
                (file, Part::default(), false)
            }
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
                let mut file = take_over(&path)?;
                let mut meta = file.metadata().map_err(failed)?;
                // A second name of another file (a commit killed between its link and its
                // removal leaves the saved file's; a planted link, someone else's) is
                // never emptied or written, which would change that file too: the name
                // alone goes, and the partial file starts anew.
                if links(&meta) > 1 {
                    std::fs::remove_file(&path).map_err(failed)?;
                    sidecar::remove(&path);
                    file = create_new(&path).map_err(failed)?;
                    meta = file.metadata().map_err(failed)?;
                }
                match sidecar::read(&path, source) {
                    Some(part) => (
                        file,
                        Part {
                            have: meta.len(),
                            ..part
                        },
                        true,
                    ),
                    None => {
                        file.set_len(0).map_err(failed)?;
                        (file, Part::default(), false)
                    }
                }
            }
            Err(e) => return Err(failed(e)),
        };
        let lock = file.try_clone().map_err(failed)?;
        let partial = PartialFile {
            path,
            source: source.to_owned(),
            lock: Some(lock),
            recorded: recorded.into(),
        };
        Ok((partial, file, part))
    }

    /// Records what the partial file holds, so that a later process can resume it.
    pub fn remember(&self, part: &Part) -> crate::wire::error::Result<()> {
        sidecar::write(&self.path, &self.source, part)?;
        (self.recorded).store(true, std::sync::atomic::Ordering::SeqCst);
        Ok(())
    }

    /// Where the bytes go.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Gives the complete (and synced) partial file the name `dest`. With `replace`, an
    /// existing `dest` is replaced atomically; without, an existing `dest` is never
    /// touched and the partial file comes back in [`NotCommitted::Taken`].
    pub fn commit(mut self, dest: &Path, replace: bool) -> std::result::Result<(), NotCommitted> {
        if replace {
            return match std::fs::rename(&self.path, dest) {
                Ok(()) => {
                    self.done();
                    Ok(())
                }
                Err(e) => Err(NotCommitted::Failed(Error::io(dest, e))),
            };
        }
        match std::fs::hard_link(&self.path, dest) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
                return Err(NotCommitted::Taken(self));
            }
            // A file system without hard links (FAT, some network shares): rename, after
            // checking that the name is free. Only there is a race with another writer
            // possible, and only between the check and the rename.
            Err(e) if no_hard_links(&e) => {
                if dest.symlink_metadata().is_ok() {
                    return Err(NotCommitted::Taken(self));
                }
                if let Err(e) = std::fs::rename(&self.path, dest) {
                    return Err(NotCommitted::Failed(Error::io(dest, e)));
                }
                self.done();
                return Ok(());
            }
            Err(e) => return Err(NotCommitted::Failed(Error::io(dest, e))),
        }
        // The final name holds the complete file now; a crash before this removal leaves
        // only the partial file, which the next save of this name takes over and removes.
        let _ = std::fs::remove_file(&self.path);
        self.done();
        Ok(())
    }

    fn done(&mut self) {
        sidecar::remove(&self.path);
        self.path = PathBuf::new();
        self.lock = None;
    }
}

impl Drop for PartialFile {
    fn drop(&mut self) {
        // Kept when there is something to resume: a record, and bytes.
        let recorded = self.recorded.load(std::sync::atomic::Ordering::SeqCst)
            && std::fs::metadata(&self.path).is_ok_and(|m| m.len() > 0);
        if !self.path.as_os_str().is_empty() && !recorded {
            let _ = std::fs::remove_file(&self.path);
            sidecar::remove(&self.path);
        }
    }
}

/// How many names the file has (1 where the platform does not say).
#[cfg(unix)]
fn links(meta: &std::fs::Metadata) -> u64 {
    std::os::unix::fs::MetadataExt::nlink(meta)
}

#[cfg(not(unix))]
fn links(_meta: &std::fs::Metadata) -> u64 {
    1
}

/// Hard links are not supported where the partial file is.
fn no_hard_links(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::Unsupported | io::ErrorKind::PermissionDenied
    )
}

/// Opens `path` as a new file, never through a link, and locks it.
fn create_new(path: &Path) -> io::Result<File> {
    let file = options().create_new(true).open(path)?;
    match lock(&file) {
        Ok(true) => Ok(file),
        // Only we can have it: it did not exist a moment ago. A file system without locks
        // still gets the other guarantees.
        Ok(false) | Err(_) => Ok(file),
    }
}

/// A `.part` file exists at `path`: take it over if it is a regular file that nobody
/// holds (left by a killed process), bytes and all (the caller decides whether they are
/// worth keeping); else leave it.
fn take_over(path: &Path) -> std::result::Result<File, Unavailable> {
    let in_use = || Unavailable::InUse(path.to_owned());
    let meta = path.symlink_metadata().map_err(|_| in_use())?;
    if !meta.file_type().is_file() {
        return Err(in_use());
    }
    let file = options().open(path).map_err(|_| in_use())?;
    if !matches!(lock(&file), Ok(true)) || !same_file(&file, path) {
        return Err(in_use());
    }
    Ok(file)
}

#[cfg(unix)]
fn options() -> OpenOptions {
    use std::os::unix::fs::OpenOptionsExt;
    let mut options = OpenOptions::new();
    options.write(true).custom_flags(libc::O_NOFOLLOW);
    options
}

#[cfg(windows)]
fn options() -> OpenOptions {
    use std::os::windows::fs::OpenOptionsExt;
    // No sharing: while the handle is open nobody else can open the file, which is the
    // lock; a reparse point (a link) is opened as itself, not followed.
    const FILE_FLAG_OPEN_REPARSE_POINT: u32 = 0x0020_0000;
    let mut options = OpenOptions::new();
    options
        .write(true)
        .share_mode(0)
        .custom_flags(FILE_FLAG_OPEN_REPARSE_POINT);
    options
}

#[cfg(not(any(unix, windows)))]
fn options() -> OpenOptions {
    let mut options = OpenOptions::new();
    options.write(true);
    options
}

/// Takes the lock without waiting: `Ok(false)` when another handle holds it.
#[cfg(unix)]
#[allow(unsafe_code)]
fn lock(file: &File) -> io::Result<bool> {
    use std::os::fd::AsRawFd;
    // SAFETY: flock on a descriptor we own; it touches no memory.
    let rc = unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) };
    if rc == 0 {
        return Ok(true);
    }
    let e = io::Error::last_os_error();
    if e.kind() == io::ErrorKind::WouldBlock {
        Ok(false)
    } else {
        Err(e)
    }
}

/// On Windows the open itself is the lock (no sharing).
#[cfg(not(unix))]
fn lock(_file: &File) -> io::Result<bool> {
    Ok(true)
}

/// Whether `file` is still the file at `path` (not replaced between the open and the lock).
#[cfg(unix)]
fn same_file(file: &File, path: &Path) -> bool {
    use std::os::unix::fs::MetadataExt;
    match (file.metadata(), path.symlink_metadata()) {
        (Ok(a), Ok(b)) => a.dev() == b.dev() && a.ino() == b.ino(),
        _ => false,
    }
}

#[cfg(not(unix))]
fn same_file(_file: &File, _path: &Path) -> bool {
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dir(test: &str) -> PathBuf {
        let dir =
            std::env::temp_dir().join(format!("flowscale-partial-{test}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    #[test]
    fn a_name_appears_only_when_committed_and_never_over_another_file() {
        let dir = dir("commit");
        let dest = dir.join("a.png");
        let (partial, mut file, _) = PartialFile::create(&dest, "test").unwrap();
        io::Write::write_all(&mut file, b"bytes").unwrap();
        drop(file);
        assert!(
            !dest.exists(),
            "nothing at the final name before the commit"
        );
        std::fs::write(&dest, b"someone else's").unwrap();
        let NotCommitted::Taken(partial) = partial.commit(&dest, false).unwrap_err() else {
            panic!("an existing name is not replaced");
        };
        assert_eq!(std::fs::read(&dest).unwrap(), b"someone else's");
        let other = dir.join("a-1.png");
        partial.commit(&other, false).unwrap();
        assert_eq!(std::fs::read(&other).unwrap(), b"bytes");
        assert!(!partial_path(&dest).exists(), "the partial file is gone");
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn a_planted_link_is_never_followed_and_a_held_partial_file_is_left_alone() {
        let dir = dir("link");
        let target = dir.join("precious");
        std::fs::write(&target, b"keep me").unwrap();
        let dest = dir.join("b.png");
        #[cfg(unix)]
        {
            std::os::unix::fs::symlink(&target, partial_path(&dest)).unwrap();
            assert!(matches!(
                PartialFile::create(&dest, "test"),
                Err(Unavailable::InUse(_))
            ));
            assert_eq!(std::fs::read(&target).unwrap(), b"keep me");
            std::fs::remove_file(partial_path(&dest)).unwrap();
        }
        let (held, _file, _) = PartialFile::create(&dest, "test").unwrap();
        assert!(matches!(
            PartialFile::create(&dest, "test"),
            Err(Unavailable::InUse(_))
        ));
        drop(held);
        assert!(
            !partial_path(&dest).exists(),
            "dropped, the partial file goes"
        );
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[cfg(unix)]
    #[test]
    fn a_partial_file_that_is_a_second_name_of_a_saved_file_never_changes_it() {
        let dir = dir("second-name");
        let dest = dir.join("e.png");
        // A commit killed between its link and its removal: `.part` is the saved file too.
        std::fs::write(&dest, b"the saved output").unwrap();
        std::fs::hard_link(&dest, partial_path(&dest)).unwrap();
        let (partial, file, part) = PartialFile::create(&dest, "test").unwrap();
        assert_eq!((part.have, file.metadata().unwrap().len()), (0, 0));
        assert_eq!(std::fs::read(&dest).unwrap(), b"the saved output");
        drop((partial, file));
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn a_partial_file_left_by_a_killed_process_is_taken_over() {
        let dir = dir("stale");
        let dest = dir.join("c.png");
        std::fs::write(partial_path(&dest), b"half of it").unwrap();
        let (partial, file, part) = PartialFile::create(&dest, "test").unwrap();
        assert_eq!(part, Part::default(), "no record: not resumed");
        assert_eq!(file.metadata().unwrap().len(), 0, "emptied");
        drop(file);
        partial.commit(&dest, false).unwrap();
        assert!(dest.is_file() && !partial_path(&dest).exists());
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn a_partial_file_with_its_record_keeps_its_bytes_for_its_own_output_only() {
        let dir = dir("resumable");
        let dest = dir.join("d.png");
        let record = Part {
            have: 0,
            validator: Some("\"e\"".into()),
            total: Some(20),
        };
        std::fs::write(partial_path(&dest), b"half of it").unwrap();
        sidecar::write(&partial_path(&dest), "image_1", &record).unwrap();
        let (partial, file, part) = PartialFile::create(&dest, "image_1").unwrap();
        assert_eq!(part.have, 10);
        assert_eq!(part.validator, record.validator);
        assert_eq!(file.metadata().unwrap().len(), 10, "kept");
        drop((partial, file));
        assert!(
            sidecar::path(&partial_path(&dest)).exists() && partial_path(&dest).exists(),
            "dropped uncommitted, a recorded partial file is kept for resuming"
        );

        std::fs::write(partial_path(&dest), b"half of it").unwrap();
        sidecar::write(&partial_path(&dest), "image_1", &record).unwrap();
        let (_partial, file, part) = PartialFile::create(&dest, "image_2").unwrap();
        assert_eq!(
            (part.have, file.metadata().unwrap().len()),
            (0, 0),
            "another output's"
        );
        let _ = std::fs::remove_dir_all(&dir);
    }
}
