//! Measuring a whole process: wall time from spawn to exit, its peak resident memory as the
//! kernel counts it (`ru_maxrss` from `wait4`), and, when asked, the most sockets it had open
//! at once (sampled from `/proc/<pid>/fd`).

use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

/// One run of one contender.
#[derive(Clone, Copy, Debug)]
pub struct Sample {
    pub wall: Duration,
    /// User and system CPU time of the process (and of its threads).
    pub cpu: Duration,
    pub peak_mib: f64,
    pub most_sockets: usize,
}

/// Runs `cmd` to its end (stdout discarded, stderr passed on). A failed run ends the record:
/// a figure for a job that did not happen would be a lie.
pub fn run(cmd: &mut Command, count_sockets: bool) -> Sample {
    cmd.stdin(Stdio::null()).stdout(Stdio::null());
    let started = Instant::now();
    let child = cmd
        .spawn()
        .unwrap_or_else(|e| panic!("could not start {cmd:?}: {e}"));
    let pid = child.id() as libc::pid_t;
    let most = Arc::new(AtomicUsize::new(0));
    let done = Arc::new(AtomicBool::new(false));
    let sampler = count_sockets.then(|| {
        let (most, done) = (most.clone(), done.clone());
        std::thread::spawn(move || {
            while !done.load(Ordering::Relaxed) {
                most.fetch_max(sockets(pid), Ordering::Relaxed);
                std::thread::sleep(Duration::from_millis(5));
            }
        })
    });
    let (status, usage) = wait4(pid);
    let wall = started.elapsed();
    done.store(true, Ordering::Relaxed);
    if let Some(sampler) = sampler {
        sampler.join().unwrap();
    }
    // The child was reaped by wait4: dropping its handle does not wait again.
    drop(child);
    assert!(
        libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0,
        "{cmd:?} failed (wait status {status})"
    );
    let time = |t: libc::timeval| Duration::new(t.tv_sec as u64, t.tv_usec as u32 * 1000);
    Sample {
        wall,
        cpu: time(usage.ru_utime) + time(usage.ru_stime),
        // Linux reports ru_maxrss in KiB.
        peak_mib: usage.ru_maxrss as f64 / 1024.0,
        most_sockets: most.load(Ordering::Relaxed),
    }
}

fn wait4(pid: libc::pid_t) -> (i32, libc::rusage) {
    let mut status = 0;
    // SAFETY: an all-zero rusage is a valid value of this plain C struct.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    loop {
        // SAFETY: `pid` is our own child, not reaped yet; the pointers are to live locals.
        let r = unsafe { libc::wait4(pid, &mut status, 0, &mut usage) };
        if r == pid {
            return (status, usage);
        }
        let e = std::io::Error::last_os_error();
        assert_eq!(e.kind(), std::io::ErrorKind::Interrupted, "wait4: {e}");
    }
}

/// How many sockets process `pid` has open now.
fn sockets(pid: libc::pid_t) -> usize {
    let Ok(fds) = std::fs::read_dir(format!("/proc/{pid}/fd")) else {
        return 0;
    };
    fds.flatten()
        .filter(|fd| {
            std::fs::read_link(fd.path())
                .is_ok_and(|target| target.to_string_lossy().starts_with("socket:"))
        })
        .count()
}

/// The median of each measure over several samples (each taken on its own), except for
/// sockets: the most any sample saw.
pub fn median(samples: &[Sample]) -> Sample {
    fn mid<T: Copy + PartialOrd>(mut v: Vec<T>) -> T {
        v.sort_by(|a, b| a.partial_cmp(b).unwrap());
        v[v.len() / 2]
    }
    Sample {
        wall: mid(samples.iter().map(|s| s.wall).collect()),
        cpu: mid(samples.iter().map(|s| s.cpu).collect()),
        peak_mib: mid(samples.iter().map(|s| s.peak_mib).collect()),
        most_sockets: samples.iter().map(|s| s.most_sockets).max().unwrap_or(0),
    }
}
