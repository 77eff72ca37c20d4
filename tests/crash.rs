//! Crash points: the real `flowscale` binary, killed with SIGKILL at many points of a batch
//! (after each manifest write, while a submission is on the wire, during waits, in the
//! middle of downloads) and of `download` / `wait`, then run again to completion. After
//! every kill and re-run: FlowScale created exactly one run per job, every saved file has
//! the served bytes under the name an uninterrupted run gives, and no partial file is left.
//!
//! The kill points are a fixed list; `CRASH_POINT=N cargo test --test crash` replays one.
#![cfg(unix)]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use flowscale::mock::{Fault, MockServer, MockWorkflow, Route};
use serde_json::Value;

const SECRET: &str = "crash-secret";
const OUTPUT_SIZE: usize = 384 * 1024;

/// Where a run of the tool is killed.
#[derive(Clone, Copy, Debug)]
enum At {
    /// Once the manifest has this many lines.
    ManifestLines(usize),
    /// Once the simulator has seen this many submissions start (the upload is held for a
    /// while before it is read, so the submission is on the wire).
    Submission(usize),
    /// Once the simulator has created this many runs (their answers are held for a while:
    /// the run is paid for, and the tool has not heard of it yet).
    Created(usize),
    /// Once the simulator has answered this many polls.
    Poll(usize),
    /// This long after the simulator started sending the n-th download.
    Download(usize, u64),
}

/// The batch's kill points: every manifest write of its 4 jobs (a submission about to be
/// sent, its run id, its end), every submission, polls, and the middle of every download.
fn batch_points() -> Vec<At> {
    let mut points: Vec<At> = (1..=12).map(At::ManifestLines).collect();
    points.extend((1..=4).map(At::Submission));
    points.extend((1..=4).map(At::Created));
    points.extend([1, 2, 4, 6, 9, 12].map(At::Poll));
    for n in 1..=8 {
        points.push(At::Download(n, 5));
        points.push(At::Download(n, 25));
    }
    points
}

fn simulator(outputs: &[&str], at: At) -> MockServer {
    let server = MockServer::start();
    server.set_api_key(SECRET);
    server.register(
        MockWorkflow::new("crash")
            .outputs(outputs.iter().copied())
            .queued_for(Duration::ZERO)
            .duration(Duration::from_millis(300))
            .output_size(OUTPUT_SIZE),
    );
    // Every submission is held 150 ms before it is read (a kill then finds it on the
    // wire), or its answer is held 150 ms after its run is created (the run is paid for,
    // the tool has not heard of it).
    let hold = Duration::from_millis(150);
    let fault = match at {
        At::Created(_) => Fault::DelayAnswer(hold),
        _ => Fault::Delay(hold),
    };
    server.fail_next(Route::Execute, 1000, fault);
    // 384 KiB in 48 pieces, 4 ms apart: about 0.2 s per output.
    server.throttle_downloads(Some((8 * 1024, Duration::from_millis(4))));
    server
}

fn tool(server: &MockServer, cwd: &Path, args: &[&str]) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_flowscale"));
    cmd.current_dir(cwd)
        .args(args)
        .env("FLOWSCALE_API_URL", server.url())
        .env("FLOWSCALE_API_KEY", SECRET)
        .stdin(Stdio::null());
    cmd
}

fn fresh_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("flowscale-crash-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Whether the kill point has been reached.
fn reached(at: At, server: &MockServer, manifest: &Path, since: &mut Option<Instant>) -> bool {
    let requests = server.requests();
    let count = |f: &dyn Fn(&flowscale::mock::RecordedRequest) -> bool| {
        requests.iter().filter(|r| f(r)).count()
    };
    match at {
        At::ManifestLines(n) => std::fs::read(manifest)
            .map(|b| b.iter().filter(|&&c| c == b'\n').count() >= n)
            .unwrap_or(false),
        At::Submission(n) => count(&|r| r.method == "POST" && r.path == "/api/v1/runs") >= n,
        At::Created(n) => server.runs().len() >= n,
        At::Poll(n) => count(&|r| r.method == "GET" && r.path.starts_with("/api/v1/runs/")) >= n,
        At::Download(n, after_ms) => {
            if count(&|r| r.path.starts_with("/files/")) < n {
                return false;
            }
            let start = *since.get_or_insert_with(Instant::now);
            start.elapsed() >= Duration::from_millis(after_ms)
        }
    }
}

/// Runs `cmd` until `at` is reached, then kills it with SIGKILL. False if it ended first.
fn kill_at(mut cmd: Command, at: At, server: &MockServer, manifest: &Path) -> bool {
    let mut child: Child = cmd
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let end = Instant::now() + Duration::from_secs(60);
    let mut since = None;
    loop {
        if child.try_wait().unwrap().is_some() {
            return false;
        }
        if reached(at, server, manifest, &mut since) {
            child.kill().unwrap(); // SIGKILL: no destructor, no handler runs
            child.wait().unwrap();
            return true;
        }
        assert!(Instant::now() < end, "{at:?} not reached within a minute");
        std::thread::sleep(Duration::from_millis(1));
    }
}

/// Runs a batch again after a kill: its report when it completed, or (`Err`) its report
/// when it left jobs `unknown` (exit 5: a submission's answer lost, its run not found).
fn run_again(mut cmd: Command, at: At) -> Result<Value, Value> {
    let out = cmd.output().unwrap();
    let (stdout, stderr) = (
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
    );
    assert!(!stderr.contains("panicked"), "{stderr}");
    let report: Value =
        serde_json::from_str(&stdout).unwrap_or_else(|e| panic!("{e}: {stdout}{stderr}"));
    match out.status.code() {
        Some(0) => Ok(report),
        Some(5) => {
            let unknown = (report["jobs"].as_array().unwrap())
                .iter()
                .any(|j| j["status"] == "unknown");
            assert!(unknown, "exit 5 without an unknown job: {stderr}{stdout}");
            Err(report)
        }
        other => panic!("re-run after {at:?} exited {other:?}: {stderr}{stdout}"),
    }
}

/// Runs `cmd` to its end; its stdout as JSON.
fn complete(mut cmd: Command, at: At) -> Value {
    let out = cmd.output().unwrap();
    let (stdout, stderr) = (
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
    );
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert_eq!(
        out.status.code(),
        Some(0),
        "re-run after {at:?}: {stderr}{stdout}"
    );
    serde_json::from_str(&stdout).unwrap_or_else(|e| panic!("{e}: {stdout}"))
}

/// Every file under `dir`, by path relative to it.
fn files_under(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    let mut files = BTreeMap::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
            } else {
                let name = path.strip_prefix(dir).unwrap().display().to_string();
                files.insert(name, std::fs::read(&path).unwrap());
            }
        }
    }
    files
}

/// The output's name in the simulator, from a saved file's name.
fn stem(file: &str) -> &str {
    let base = file.rsplit('/').next().unwrap();
    base.rsplit_once('.').map_or(base, |(s, _)| s)
}

/// Asserts what must hold after a kill and a complete re-run, for the files under `dir`
/// (besides `keep`): nothing partial, every file an output's served bytes, `per_dir`
/// outputs in each folder (no second copy under a numbered name).
fn assert_saved_whole(server: &MockServer, dir: &Path, keep: &[&str], per_dir: usize, at: At) {
    let files = files_under(dir);
    let mut dirs: BTreeMap<String, usize> = BTreeMap::new();
    for (name, bytes) in &files {
        if keep.contains(&name.as_str()) {
            continue;
        }
        assert!(
            !name.ends_with(".part"),
            "after {at:?}: a partial file is left: {name}"
        );
        let served = server
            .output_bytes(stem(name))
            .unwrap_or_else(|| panic!("after {at:?}: {name} is no output"));
        assert!(
            *bytes == served,
            "after {at:?}: {name} is not the served output ({} of {} bytes)",
            bytes.len(),
            served.len()
        );
        let folder = name.rsplit_once('/').map_or("", |(d, _)| d).to_owned();
        *dirs.entry(folder).or_default() += 1;
    }
    assert!(
        dirs.values().all(|&n| n == per_dir),
        "after {at:?}: {dirs:?}"
    );
}

/// The four jobs: two with identical inputs under different names (two samples of one
/// prompt), each with a small file to upload.
const JOBS: &str = r#"{"name": "first-sample", "text_1": "a lighthouse", "image_1": "@in.png"}
{"name": "second-sample", "text_1": "a lighthouse", "image_1": "@in.png"}
{"name": "harbour", "text_1": "a harbour", "image_1": "@in.png"}
{"name": "boats", "text_1": "boats at dawn"}
"#;

fn one_batch_point(i: usize, at: At) {
    let dir = fresh_dir(&format!("batch-{i}"));
    std::fs::write(dir.join("jobs.jsonl"), JOBS).unwrap();
    std::fs::write(dir.join("in.png"), vec![7u8; 64 * 1024]).unwrap();
    let server = simulator(&["image", "preview"], at);
    let args = [
        "batch",
        "crash",
        "--jobs",
        "jobs.jsonl",
        "-o",
        "out",
        "--poll",
        "50ms",
        "--json",
    ];
    let manifest = dir.join("out").join(flowscale::constants::MANIFEST_FILE);
    kill_at(tool(&server, &dir, &args), at, &server, &manifest);
    let report = match run_again(tool(&server, &dir, &args), at) {
        Ok(report) => report,
        // Killed with a submission on the wire and no run found for it: the tool asks a
        // person to look. The look a user takes (`flowscale runs`): every run the pod has
        // belongs to a job that names it, so the unknown jobs have none and may be sent.
        Err(report) => {
            let named: std::collections::HashSet<&str> = (report["jobs"].as_array().unwrap())
                .iter()
                .filter_map(|j| j["run_id"].as_str())
                .collect();
            for run in server.runs() {
                assert!(
                    named.contains(run.id.as_str()),
                    "after {at:?}: run {} exists but its job was left unknown: {report}",
                    run.id
                );
            }
            let mut again = tool(&server, &dir, &args);
            again.arg("--resubmit-unknown");
            complete(again, at)
        }
    };

    // Exactly one run per job: two of the shared prompt, one of each other.
    let mut runs: BTreeMap<String, usize> = BTreeMap::new();
    for run in server.runs() {
        let text = run
            .fields
            .iter()
            .find(|(k, _)| k == "text_1")
            .unwrap()
            .1
            .clone();
        *runs.entry(text).or_default() += 1;
    }
    let expected: BTreeMap<String, usize> =
        [("a lighthouse", 2), ("a harbour", 1), ("boats at dawn", 1)]
            .map(|(t, n)| (t.to_owned(), n))
            .into();
    if runs != expected {
        let manifest = std::fs::read_to_string(&manifest).unwrap_or_default();
        let runs: Vec<_> = server
            .runs()
            .into_iter()
            .map(|r| (r.id, r.fields))
            .collect();
        panic!("after {at:?}: runs paid for, by prompt: {runs:#?}\nmanifest:\n{manifest}");
    }

    let jobs = report["jobs"].as_array().unwrap();
    assert_eq!(jobs.len(), 4);
    let mut ids = std::collections::HashSet::new();
    for job in jobs {
        assert_eq!(job["status"], "completed", "after {at:?}: {job}");
        assert_eq!(
            job["outputs"].as_array().unwrap().len(),
            2,
            "after {at:?}: {job}"
        );
        assert!(
            ids.insert(job["run_id"].as_str().unwrap().to_owned()),
            "after {at:?}: two jobs share a run"
        );
    }
    assert_saved_whole(
        &server,
        &dir.join("out"),
        &[flowscale::constants::MANIFEST_FILE, ".flowscale.lock"],
        2,
        at,
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_batch_killed_at_any_point_then_run_again_pays_once_and_saves_whole_files() {
    let points = batch_points();
    assert!(points.len() >= 30);
    if let Ok(one) = std::env::var("CRASH_POINT") {
        let i: usize = one
            .parse()
            .expect("CRASH_POINT is an index into the kill points");
        return one_batch_point(i, points[i]);
    }
    // Two at a time: each has a simulator and a directory of its own.
    let next = std::sync::atomic::AtomicUsize::new(0);
    std::thread::scope(|scope| {
        for _ in 0..2 {
            scope.spawn(|| {
                loop {
                    let i = next.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                    let Some(&at) = points.get(i) else { break };
                    eprintln!("kill point {i}: {at:?}");
                    one_batch_point(i, at);
                }
            });
        }
    });
}

#[test]
fn download_and_wait_killed_mid_download_then_run_again_save_whole_files_under_their_names() {
    let mut resumed = 0;
    for (i, (command, after_ms)) in [
        ("download", 10),
        ("download", 60),
        ("download", 150),
        ("wait", 10),
        ("wait", 90),
    ]
    .into_iter()
    .enumerate()
    {
        let at = At::Download(1, after_ms);
        let dir = fresh_dir(&format!("{command}-{i}"));
        let server = simulator(&["big"], at);
        let client = flowscale::Client::new(SECRET, server.url()).unwrap();
        let run_id = client
            .execute_workflow("crash", [("text_1", "a lighthouse")])
            .unwrap()
            .run_id;
        if command == "download" {
            // `download` needs a completed run.
            client
                .wait_for_run(
                    &run_id,
                    &flowscale::WaitOptions::new().poll_interval(Duration::from_millis(50)),
                )
                .unwrap();
        }
        let args: Vec<&str> = match command {
            "download" => vec!["download", &run_id, "-o", "d", "--json"],
            _ => vec!["wait", &run_id, "-o", "d", "--poll", "50ms", "--json"],
        };
        assert!(
            kill_at(tool(&server, &dir, &args), at, &server, Path::new("")),
            "{command} ended before {at:?}"
        );
        let leftover = files_under(&dir.join("d"));
        assert!(
            (leftover.keys()).all(|name| name.ends_with(".part") || name.ends_with(".part.meta")),
            "{command} killed {after_ms} ms into the download left a final name: {:?}",
            leftover.keys()
        );
        // What the killed process left: the partial file's bytes, and its record.
        let have = (leftover.iter())
            .find(|(name, _)| name.ends_with(".part"))
            .map_or(0, |(_, bytes)| bytes.len());
        let recorded = leftover.keys().any(|name| name.ends_with(".part.meta"));
        let before = server.requests().len();
        let doc = complete(tool(&server, &dir, &args), at);
        let fetched: Vec<_> = server.requests()[before..]
            .iter()
            .filter(|r| r.path.starts_with("/files/"))
            .map(|r| r.range.clone())
            .collect();
        if have > 0 && recorded {
            // Resumed: one request, for the rest only.
            assert_eq!(fetched, [Some(format!("bytes={have}-"))], "after {at:?}");
            resumed += 1;
        } else {
            assert_eq!(fetched, [None], "after {at:?}: nothing to resume");
        }
        // One vocabulary: `outputs`, whatever the command.
        assert_eq!(doc["outputs"].as_array().unwrap().len(), 1, "{doc}");
        assert_saved_whole(&server, &dir.join("d"), &[], 1, at);
        let files = files_under(&dir.join("d"));
        let name = files.keys().next().unwrap();
        assert!(
            name.starts_with("big_") && name.ends_with(".png") && !name.contains("-1"),
            "{name}"
        );
        let _ = std::fs::remove_dir_all(&dir);
    }
    // Killed 60 ms or more into a 0.2 s download, a partial file has bytes to resume.
    assert!(resumed >= 1, "no kill point left anything to resume");
}
