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
