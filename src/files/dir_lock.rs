//! One process per batch directory: an OS lock on `<dir>/.flowscale.lock`, held for as long
//! as a batch (or a `BuildCache`) uses the directory. The kernel drops it when the process
//! ends, however it ends, so a `kill -9` never leaves a stale lock behind; the file itself
//! stays (an empty lock file is no lock). Two processes reading one manifest would both plan
//! `Submit` for the same job and both pay: the lock makes the second one wait, or refuse.
//!
//! `flock` on Unix. Elsewhere the lock is not taken (no check runs there; see
//! ARCHITECTURE.md, Platforms): one process per directory is then the user's to keep.

use std::fs::{File, OpenOptions};
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::path::Path;

use crate::wire::error::{Error, Result};

/// The lock file in a batch directory.
pub(crate) const LOCK_FILE: &str = ".flowscale.lock";

/// What to do when another process holds the directory.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum WhenHeld {
    /// Wait until it is free (after telling `waiting` who holds it).
    Wait,
    /// Fail at once with [`Error::Busy`], naming the holder.
    Refuse,
}

/// The held lock; dropping it releases the directory.
#[derive(Debug)]
pub(crate) struct DirLock {
    file: File,
}

impl Drop for DirLock {
    /// Empties the holder's line before the lock goes (with the file's closing): a lock file
    /// at rest is empty, so a committed `BuildCache` folder does not change with each build.
    fn drop(&mut self) {
        let _ = self.file.set_len(0);
    }
}

impl DirLock {
    /// Takes the directory `dir` (which exists). `waiting` is called once, with what the
    /// holder wrote of itself, before a wait begins.
    pub fn acquire(dir: &Path, when_held: WhenHeld, waiting: impl FnOnce(&str)) -> Result<Self> {
        let path = dir.join(LOCK_FILE);
        let failed = |e| Error::io(&path, e);
        let mut file = OpenOptions::new()
            .create(true)
            .truncate(false)
            .read(true)
            .write(true)
            .open(&path)
            .map_err(failed)?;
        if !try_lock(&file).map_err(failed)? {
            let holder = holder(&mut file);
            match when_held {
                WhenHeld::Refuse => {
                    return Err(Error::Busy {
                        path: dir.to_path_buf(),
                        holder,
                    });
                }
                WhenHeld::Wait => {
                    waiting(holder.as_deref().unwrap_or("another process"));
                    lock(&file).map_err(failed)?;
                }
            }
        }
        // Who holds it, for the message of whoever comes next.
        let me = format!(
            "process {} ({}), since {}",
            std::process::id(),
            program(),
            humantime::format_rfc3339_seconds(std::time::SystemTime::now())
        );
        let written = file
            .set_len(0)
            .and_then(|()| file.seek(SeekFrom::Start(0)))
            .and_then(|_| file.write_all(me.as_bytes()));
        // Only a courtesy to the next process: the lock holds without it.
        let _ = written;
        Ok(DirLock { file })
    }
}

/// What the holder wrote of itself, if anything readable.
fn holder(file: &mut File) -> Option<String> {
    let mut text = String::new();
    file.seek(SeekFrom::Start(0)).ok()?;
    file.take(512).read_to_string(&mut text).ok()?;
    let text = text.trim();
    (!text.is_empty()).then(|| text.to_owned())
}

/// This program's name, for the holder's line.
fn program() -> String {
    std::env::args_os()
        .next()
        .and_then(|arg| {
            Path::new(&arg)
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
        })
        .unwrap_or_else(|| "unknown program".to_owned())
}

#[cfg(unix)]
#[allow(unsafe_code)]
fn flock(file: &File, operation: libc::c_int) -> io::Result<bool> {
    use std::os::fd::AsRawFd;
    loop {
        // SAFETY: flock on a descriptor we own; it touches no memory.
        let rc = unsafe { libc::flock(file.as_raw_fd(), operation) };
        if rc == 0 {
            return Ok(true);
        }
        let e = io::Error::last_os_error();
        match e.kind() {
            io::ErrorKind::WouldBlock => return Ok(false),
            io::ErrorKind::Interrupted => continue,
            _ => return Err(e),
        }
    }
}

/// Takes the lock without waiting: `Ok(false)` when another process holds it.
#[cfg(unix)]
fn try_lock(file: &File) -> io::Result<bool> {
    flock(file, libc::LOCK_EX | libc::LOCK_NB)
}

/// Takes the lock, waiting for it.
#[cfg(unix)]
fn lock(file: &File) -> io::Result<()> {
    flock(file, libc::LOCK_EX).map(|_| ())
}

#[cfg(not(unix))]
fn try_lock(_file: &File) -> io::Result<bool> {
    Ok(true)
}

#[cfg(not(unix))]
fn lock(_file: &File) -> io::Result<()> {
    Ok(())
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;

    #[test]
    fn a_second_holder_is_refused_naming_the_first_then_gets_it_when_freed() {
        let dir = std::env::temp_dir().join(format!("flowscale-lock-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let first = DirLock::acquire(&dir, WhenHeld::Refuse, |_| {}).unwrap();
        // flock locks belong to the open file description: a second open is a second holder,
        // as another process would be.
        let err = DirLock::acquire(&dir, WhenHeld::Refuse, |_| {}).unwrap_err();
        let text = err.to_string();
        assert!(
            text.contains("is in use by another process")
                && text.contains(&format!("process {}", std::process::id())),
            "{text}"
        );
        // The waiter says when it waits; only then is the first lock let go.
        let (tx, rx) = std::sync::mpsc::channel();
        let waiter = {
            let dir = dir.clone();
            std::thread::spawn(move || {
                DirLock::acquire(&dir, WhenHeld::Wait, |holder| {
                    tx.send(holder.to_owned()).unwrap()
                })
                .is_ok()
            })
        };
        let told = rx.recv().unwrap();
        assert!(told.starts_with("process "), "{told}");
        drop(first);
        assert!(waiter.join().unwrap());
        let _ = std::fs::remove_dir_all(&dir);
    }
}
