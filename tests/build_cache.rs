//! `BuildCache` shared by two processes at once (cargo and an IDE building one package): a
//! miss is paid for once, the second process waits for the first and takes its files, and
//! the committed folder holds each output once (no `-1` copies).

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use flowscale::Inputs;
use flowscale::build::BuildCache;
use flowscale::mock::{MockServer, MockWorkflow};

mod common;

/// Set in the two child processes: the cache folder they use.
const CHILD: &str = "FLOWSCALE_TEST_BUILD_CACHE_DIR";

/// What a build script does; only in the child processes the test below starts (run
/// directly, it has no folder to use and does nothing).
#[test]
fn as_a_build_script_would() {
    let Some(dir) = std::env::var_os(CHILD) else {
        return;
    };
    let paths = BuildCache::new(dir)
        .outputs("asset", Inputs::new().set("text_1", "a lighthouse"))
        .unwrap();
    for path in paths {
        println!("OUTPUT {}", path.display());
    }
}

fn files(dir: &Path) -> Vec<String> {
    let mut found = Vec::new();
    for entry in walk(dir) {
        found.push(entry.strip_prefix(dir).unwrap().display().to_string());
    }
    found.sort();
    found
}

fn walk(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap().flatten() {
        let path = entry.path();
        if path.is_dir() {
            out.extend(walk(&path));
        } else {
            out.push(path);
        }
    }
    out
}

#[test]
fn two_build_scripts_at_once_pay_once_and_keep_one_copy() {
    let server = MockServer::start();
    server.register(
        MockWorkflow::new("asset")
            .outputs(["image"])
            .queued_for(Duration::ZERO)
            .duration(Duration::from_millis(500)),
    );
    let dir = common::fresh_dir("build-cache-two");
    let child = || {
        Command::new(std::env::current_exe().unwrap())
            .args([
                "--exact",
                "as_a_build_script_would",
                "--nocapture",
                "--test-threads=1",
            ])
            .env(CHILD, &dir)
            .env(flowscale::constants::ENV_API_KEY, server.api_key())
            .env(flowscale::constants::ENV_API_URL, server.url())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap()
    };
    let (first, second) = (child(), child());
    let mut outputs = Vec::new();
    for process in [first, second] {
        let out = process.wait_with_output().unwrap();
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        assert!(
            out.status.success(),
            "{text}{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let listed: Vec<_> = text
            .lines()
            .filter_map(|l| l.strip_prefix("OUTPUT "))
            .map(str::to_owned)
            .collect();
        assert_eq!(listed.len(), 1, "{text}");
        outputs.push(listed);
    }
    assert_eq!(outputs[0], outputs[1], "both builds use the same file");
    assert_eq!(common::executes(&server), 1, "the miss was paid for twice");
    let files = files(&dir);
    let saved: Vec<_> = files
        .iter()
        .filter(|f| *f != flowscale::constants::MANIFEST_FILE && *f != ".flowscale.lock")
        .collect();
    assert_eq!(saved.len(), 1, "{files:?}");
    assert!(!saved[0].contains("-1."), "{files:?}");
    // The lock file at rest is empty: a committed cache folder does not change by it.
    assert_eq!(std::fs::read(dir.join(".flowscale.lock")).unwrap(), b"");
}

/// Set in the child processes of the test below: the cache folder, and the workflow.
const FAILING_CHILD: &str = "FLOWSCALE_TEST_BUILD_CACHE_FAILING_DIR";

/// A build script whose miss may fail: prints what it got, and how the error sorts.
#[test]
fn as_a_build_script_whose_miss_may_fail_would() {
    let Some(dir) = std::env::var_os(FAILING_CHILD) else {
        return;
    };
    let wait = flowscale::WaitOptions::new().poll_interval(Duration::from_millis(20));
    match BuildCache::new(dir)
        .wait_options(wait)
        .outputs("flaky", Inputs::new().set("text_1", "a harbour"))
    {
        Ok(paths) => println!("OK {}", paths.len()),
        Err(e) => println!(
            "ERR auth={} run_failure={} input={}: {e}",
            e.is_auth(),
            e.is_run_failure(),
            matches!(e, flowscale::Error::Input { .. })
        ),
    }
}

#[test]
fn a_failed_miss_returns_its_own_error_and_is_tried_again_on_the_next_build() {
    let server = MockServer::start();
    server.register(
        MockWorkflow::new("flaky")
            .outputs(["image"])
            .queued_for(Duration::ZERO)
            .duration(Duration::from_millis(50))
            .fails(),
    );
    let dir = common::fresh_dir("build-cache-failing");
    let build = |key: &str| {
        let out = Command::new(std::env::current_exe().unwrap())
            .args([
                "--exact",
                "as_a_build_script_whose_miss_may_fail_would",
                "--nocapture",
                "--test-threads=1",
            ])
            .env(FAILING_CHILD, &dir)
            .env(flowscale::constants::ENV_API_KEY, key)
            .env(flowscale::constants::ENV_API_URL, server.url())
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .find(|l| l.starts_with("OK") || l.starts_with("ERR"))
            .unwrap_or_default()
            .to_owned()
    };
    // The run fails: the build gets the run's own error, not an input error.
    let first = build(&server.api_key());
    assert!(
        first.starts_with("ERR auth=false run_failure=true input=false"),
        "{first}"
    );
    // A revoked key: an auth error.
    let revoked = build("not-the-key");
    assert!(revoked.starts_with("ERR auth=true"), "{revoked}");
    // The workflow is fixed on the pod: the next build tries the miss again (not the
    // failure the manifest recorded) and succeeds.
    server.register(
        MockWorkflow::new("flaky")
            .outputs(["image"])
            .queued_for(Duration::ZERO)
            .duration(Duration::from_millis(50)),
    );
    let fixed = build(&server.api_key());
    assert_eq!(fixed, "OK 1");
    assert_eq!(
        server.runs().len(),
        2,
        "one failed run, one that made the asset"
    );
}
