//! The `flowscale` binary, run for real against the simulator: every command, both output
//! modes, every exit code.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use flowscale::mock::{Fault, MockServer, MockWorkflow, Route, demo_workflows};
use serde_json::Value;

mod common;

use common::executes;

const SECRET: &str = "cli-secret-key-123";

/// A simulator with the demo workflows and a long one, expecting [`SECRET`].
fn simulator() -> MockServer {
    let server = MockServer::start();
    server.set_api_key(SECRET);
    for workflow in demo_workflows() {
        server.register(workflow);
    }
    server.register(MockWorkflow::new("slow").duration(Duration::from_secs(120)));
    server.register(
        MockWorkflow::new("quick")
            .outputs(["image", "preview"])
            .queued_for(Duration::ZERO)
            .duration(Duration::from_millis(100)),
    );
    server
}

/// The binary, configured for `server` through the environment, in `cwd`.
fn flowscale(server: &MockServer, cwd: &Path) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_flowscale"));
    cmd.current_dir(cwd)
        .env("FLOWSCALE_API_URL", server.url())
        .env("FLOWSCALE_API_KEY", SECRET)
        // Never the profiles of whoever runs the tests.
        .env("FLOWSCALE_CONFIG", cwd.join("no-profiles.toml"))
        .env_remove("FLOWSCALE_PROFILE");
    cmd
}

/// A fresh directory for one test.
fn workdir(test: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("flowscale-cli-{test}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn run(cmd: &mut Command) -> (i32, String, String) {
    let Output {
        status,
        stdout,
        stderr,
    } = cmd.output().unwrap();
    let (out, err) = (
        String::from_utf8(stdout).unwrap(),
        String::from_utf8(stderr).unwrap(),
    );
    assert!(!out.contains(SECRET) && !err.contains(SECRET), "{out}{err}");
    assert!(!err.contains("panicked"), "{err}");
    (status.code().unwrap_or(-1), out, err)
}

/// Starts `cmd` with its output captured, for a test that acts while it runs.
fn spawned(cmd: &mut Command) -> std::process::Child {
    cmd.stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap()
}

fn json(out: &str) -> Value {
    serde_json::from_str(out).unwrap_or_else(|e| panic!("{e}: {out}"))
}

fn fixture(name: &str) -> String {
    format!("{}/tests/data/fixtures/{name}", env!("CARGO_MANIFEST_DIR"))
}

#[test]
fn health_and_queue_in_both_modes() {
    let server = simulator();
    let dir = workdir("health");
    // -q: only run ids and paths, and these have neither.
    for command in ["health", "queue"] {
        let (code, out, _) = run(flowscale(&server, &dir).args([command, "-q"]));
        assert_eq!((code, out.as_str()), (0, ""), "{command}");
    }
    let (code, out, _) = run(flowscale(&server, &dir).arg("health"));
    assert_eq!(code, 0);
    assert!(out.lines().count() >= 1 && out.contains("idle"), "{out}");
    let (code, out, _) = run(flowscale(&server, &dir).args(["health", "--json"]));
    assert_eq!(code, 0);
    assert_eq!(json(&out)["containers"][0]["status"], "idle");
    let (code, out, _) = run(flowscale(&server, &dir).args(["queue", "--json"]));
    assert_eq!(code, 0);
    assert!(
        json(&out)["containers"][0]["queue"]["queue_running"].is_array(),
        "{out}"
    );
    let (code, out, _) = run(flowscale(&server, &dir).arg("queue"));
    assert_eq!(code, 0);
    assert!(out.contains("0 running"), "{out}");
}

#[test]
fn run_uploads_waits_and_saves_in_every_mode() {
    let server = simulator();
    let dir = workdir("run");
    let image = format!("image_35728=@{}", fixture("cat.png"));
    let base = |cmd: &mut Command| {
        cmd.args(["run", "demo-img2img", "-i", "text_51536=a cat", "-i"])
            .arg(&image)
            .args(["--poll", "100ms"]);
    };

    // People: the run id first, then one line per saved file.
    let mut cmd = flowscale(&server, &dir);
    base(&mut cmd);
    let (code, out, err) = run(cmd.args(["-o", "human"]));
    assert_eq!(code, 0, "{err}");
    let lines: Vec<_> = out.lines().collect();
    assert!(lines[0].starts_with("run "), "{out}");
    assert_eq!(lines.len(), 3, "{out}");
    assert!(
        lines[1..].iter().all(|l| l.starts_with("saved human/")),
        "{out}"
    );

    // Scripts: one JSON document with the run id, status and saved paths.
    let mut cmd = flowscale(&server, &dir);
    base(&mut cmd);
    let (code, out, _) = run(cmd.args(["-o", "json-out", "--json"]));
    assert_eq!(code, 0);
    let doc = json(&out);
    assert_eq!(doc["status"], "completed");
    let run_id = doc["run_id"].as_str().unwrap();
    let stored = server.run(run_id).unwrap();
    assert_eq!(
        stored.fields,
        [("text_51536".to_string(), "a cat".to_string())]
    );
    assert_eq!(stored.files[0].filename, "cat.png");
    for out in doc["outputs"].as_array().unwrap() {
        let path = dir.join(out["path"].as_str().unwrap());
        assert!(path.starts_with(dir.join("json-out")), "{path:?}");
        assert_eq!(
            std::fs::metadata(&path).unwrap().len(),
            out["bytes"].as_u64().unwrap()
        );
        assert!(path.extension().is_some_and(|e| e == "png"));
    }

    // Quiet: the run id, then the paths.
    let mut cmd = flowscale(&server, &dir);
    base(&mut cmd);
    let (code, out, err) = run(cmd.args(["-o", "quiet", "--quiet"]));
    assert_eq!(code, 0);
    let lines: Vec<_> = out.lines().collect();
    assert_eq!(lines.len(), 3, "{out}");
    assert!(server.run(lines[0]).is_some(), "{out}");
    assert!(lines[1..].iter().all(|l| dir.join(l).is_file()), "{out}");
    assert!(err.is_empty(), "no bars off a terminal: {err}");
}

#[test]
fn a_run_started_without_waiting_is_waited_for_listed_and_fetched() {
    let server = simulator();
    let dir = workdir("nowait");
    let (code, out, _) =
        run(flowscale(&server, &dir).args(["run", "quick", "-i", "a=1", "--no-wait", "--json"]));
    assert_eq!(code, 0);
    let run_id = json(&out)["run_id"].as_str().unwrap().to_owned();

    let (code, out, _) = run(flowscale(&server, &dir).args([
        "wait",
        &run_id,
        "--poll",
        "100ms",
        "--no-download",
        "--json",
    ]));
    assert_eq!(code, 0);
    let doc = json(&out);
    assert_eq!(doc["run_id"], run_id.as_str());
    assert_eq!(doc["outputs"].as_array().unwrap().len(), 2);

    let (code, out, _) = run(flowscale(&server, &dir).args(["get", &run_id, "--json"]));
    assert_eq!(code, 0);
    let run_doc = json(&out);
    assert_eq!(run_doc["status"], "completed");
    // The one `outputs` shape: each output by name with its link; inputs by name.
    let first = &run_doc["outputs"][0];
    assert!(
        first["name"].as_str().is_some_and(|n| !n.contains('.')),
        "{run_doc}"
    );
    assert!(first["download_url"].is_string(), "{run_doc}");
    assert!(first.get("filename").is_none(), "{run_doc}");
    assert!(
        run_doc["inputs"]
            .as_array()
            .unwrap()
            .iter()
            .all(|i| i["name"].is_string()),
        "{run_doc}"
    );
    let (code, out, _) = run(flowscale(&server, &dir).args(["get", &run_id]));
    assert_eq!(code, 0);
    assert!(out.contains("status    completed"), "{out}");

    let name = run_doc["output_names"][0].as_str().unwrap();
    let (code, out, _) = run(flowscale(&server, &dir).args(["output", name]));
    assert_eq!(code, 0);
    assert!(out.trim().starts_with("http://"), "{out}");

    let (code, out, _) =
        run(flowscale(&server, &dir).args(["download", &run_id, "-o", "saved", "--quiet"]));
    assert_eq!(code, 0);
    assert_eq!(out.lines().count(), 2, "{out}");
    assert!(out.lines().all(|p| dir.join(p).is_file()), "{out}");

    let (code, out, _) = run(flowscale(&server, &dir).args(["runs"]));
    assert_eq!(code, 0);
    assert!(out.lines().next().unwrap().starts_with("RUN"), "{out}");
    assert!(out.contains(&run_id), "{out}");
    let (code, out, _) =
        run(flowscale(&server, &dir).args(["runs", "--all", "--page-size", "1", "--json"]));
    assert_eq!(code, 0);
    let ids: Vec<_> = json(&out)["runs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["run_id"].clone())
        .collect();
    assert!(ids.contains(&Value::from(run_id.as_str())), "{out}");
}

#[test]
fn run_group_files_the_run_and_runs_group_lists_only_the_group() {
    let server = simulator();
    let dir = workdir("group");
    let started = |args: &[&str]| {
        let (code, out, err) = run(flowscale(&server, &dir).args(args));
        assert_eq!(code, 0, "{err}");
        json(&out)["run_id"].as_str().unwrap().to_owned()
    };
    // Both paths of `run`: started only, and started then waited for.
    let alone = started(&[
        "run",
        "quick",
        "-i",
        "a=1",
        "--group",
        "g1",
        "--no-wait",
        "--json",
    ]);
    let waited = started(&["run", "quick", "-i", "a=1", "--group", "g1", "--json"]);
    let other = started(&["run", "quick", "-i", "a=1", "--no-wait", "--json"]);
    let (code, out, _) = run(flowscale(&server, &dir).args(["runs", "--group", "g1", "--json"]));
    assert_eq!(code, 0);
    let mut ids: Vec<_> = json(&out)["runs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["run_id"].as_str().unwrap().to_owned())
        .collect();
    ids.sort();
    let mut want = vec![alone, waited];
    want.sort();
    assert_eq!(ids, want, "{out}");
    assert!(!out.contains(&other), "{out}");
}

#[test]
fn cancel_stops_a_run() {
    let server = simulator();
    let dir = workdir("cancel");
    let (_, out, _) =
        run(flowscale(&server, &dir).args(["run", "slow", "-i", "a=1", "--no-wait", "--quiet"]));
    let run_id = out.trim().to_owned();
    let (code, out, _) = run(flowscale(&server, &dir).args(["cancel", &run_id]));
    assert_eq!(code, 0);
    assert!(out.contains("cancelled"), "{out}");
    assert_eq!(
        server.run(&run_id).unwrap().status,
        flowscale::RunStatus::Cancelled
    );
    // Twice: what the user wanted is so, said as such, exit 0 (the pod answers 400).
    let (code, out, err) = run(flowscale(&server, &dir).args(["cancel", &run_id, "--json"]));
    assert_eq!(code, 0, "{out}{err}");
    assert!(
        json(&out)["message"]
            .as_str()
            .unwrap()
            .contains("already cancelled"),
        "{out}"
    );
}

#[test]
fn exit_codes_tell_scripts_what_happened() {
    let server = simulator();
    let dir = workdir("codes");

    // 8: the run failed.
    let (code, _, err) =
        run(flowscale(&server, &dir).args(["run", "failing", "-i", "a=1", "--poll", "100ms"]));
    assert_eq!(code, 8, "{err}");
    assert!(
        err.contains("error: run ") && err.contains("failed"),
        "{err}"
    );

    // 3: the wait timed out, and says how to resume.
    let (code, out, err) = run(flowscale(&server, &dir).args([
        "run",
        "slow",
        "-i",
        "a=1",
        "--timeout",
        "1s",
        "--poll",
        "100ms",
        "--json",
    ]));
    assert_eq!(code, 3, "{err}");
    let doc = json(out.lines().last().unwrap());
    let run_id = doc["run_id"].as_str().unwrap();
    assert!(err.contains(&format!("flowscale wait {run_id}")), "{err}");

    // 2: usage errors, from clap and from the inputs.
    let (code, _, err) = run(flowscale(&server, &dir).args(["run"]));
    assert_eq!(code, 2, "{err}");
    let (code, _, err) = run(flowscale(&server, &dir).args(["run", "quick", "-i", "no-equals"]));
    assert_eq!(code, 2, "{err}");
    assert!(err.starts_with("error: input `no-equals`"), "{err}");
    // ... and before anything is paid for: a file that is missing or a folder, a page size
    // out of range (named as the flag, not the API's field).
    for bad in ["image_35728=@missing.png", "image_35728=@."] {
        let mut cmd = flowscale(&server, &dir);
        let (code, _, err) =
            run(cmd.args(["run", "demo-img2img", "-i", "text_51536=x", "-i", bad]));
        assert_eq!(code, 2, "{bad}: {err}");
        assert!(err.starts_with("error: input `image_35728`: "), "{err}");
    }
    let (code, _, err) = run(flowscale(&server, &dir).args(["runs", "--page-size", "0"]));
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains("--page-size") && !err.contains("page_size"),
        "{err}"
    );
    // An empty id (an unset `$RUN_ID` in a script) is a usage error too.
    for args in [
        &["get", ""][..],
        &["wait", ""],
        &["download", ""],
        &["cancel", ""],
        &["output", ""],
        &["run", ""],
        &["workflows", ""],
        // An empty group (an unset `$GROUP`), refused by the argument parser.
        &["run", "quick", "--group", ""],
        &["runs", "--group", ""],
        &["batch", "jobs.jsonl", "--group", ""],
        // Blank is empty too (`" "`: a script's quoting slip).
        &["get", " "],
        &["cancel", "  "],
    ] {
        let (code, _, err) = run(flowscale(&server, &dir).args(args));
        assert_eq!(code, 2, "{args:?}: {err}");
        assert!(err.contains("it is blank"), "{args:?}: {err}");
        assert!(
            !err.contains("invalid input"),
            "the tool's words: {args:?}: {err}"
        );
    }
    // A field to sort by, named in the tool's words.
    let (code, _, err) = run(flowscale(&server, &dir).args(["runs", "--sort", "foo"]));
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains("created_at, started_at or completed_at"),
        "{err}"
    );
    assert!(!err.contains("sort_by"), "{err}");
    assert_eq!(
        crate::common::executes(&server),
        2,
        "only the two runs above were sent"
    );

    // A wrong key: exit 6, one line, a hint, never the key.
    let (code, _, err) =
        run(flowscale(&server, &dir).args(["health", "--api-key", "wrong-key-456"]));
    assert_eq!(code, 6);
    assert!(err.starts_with("error: FlowScale API error 403"), "{err}");
    assert!(
        err.contains("hint: check the API key") && !err.contains("wrong-key-456"),
        "{err}"
    );

    // A URL copied with the API's path: the 404 says which part to drop. A run that is not
    // there is a 404 too, with no such hint.
    let (code, _, err) = run(flowscale(&server, &dir).args([
        "health",
        "--api-url",
        &format!("{}/api/v1/", server.url()),
    ]));
    assert_eq!(code, 7, "{err}");
    assert!(err.contains("hint: the API URL ends in `/api/v1`"), "{err}");
    let (code, _, err) = run(flowscale(&server, &dir).args(["get", "no-such-run"]));
    assert_eq!(code, 7, "{err}");
    assert!(
        err.contains("404") && !err.contains("hint: the API URL") && err.contains("flowscale runs"),
        "{err}"
    );
    // Waiting for a run that is not there: not found (7), not "the run goes on" (3).
    let (code, _, err) = run(flowscale(&server, &dir).args(["wait", "no-such-run"]));
    assert_eq!(code, 7, "{err}");
    assert!(err.contains("404") && !err.contains("goes on"), "{err}");

    // No key at all: a usage error naming where to set it.
    let (code, _, err) = run(flowscale(&server, &dir)
        .env_remove("FLOWSCALE_API_KEY")
        .arg("health"));
    assert_eq!(code, 2);
    assert!(err.contains("FLOWSCALE_API_KEY"), "{err}");

    // An unreachable URL.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    // (The key of the environment's pair goes to its own pod only: given alone here.)
    let (code, _, err) = run(flowscale(&server, &dir)
        .env_remove("FLOWSCALE_API_URL")
        .args(["health", "--api-url", &format!("http://127.0.0.1:{port}")]));
    assert_eq!(code, 1);
    assert!(
        err.contains("connection refused") && err.contains("hint: check the API URL"),
        "{err}"
    );
}

#[test]
fn a_dotenv_file_configures_the_tool() {
    let server = simulator();
    let dir = workdir("dotenv");
    std::fs::write(
        dir.join(".env"),
        format!(
            "FLOWSCALE_API_URL={}\nFLOWSCALE_API_KEY=\"{SECRET}\"\n",
            server.url()
        ),
    )
    .unwrap();
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_flowscale"));
    cmd.current_dir(&dir)
        .env_remove("FLOWSCALE_API_URL")
        .env_remove("FLOWSCALE_API_KEY")
        .args(["health", "--json"]);
    let (code, out, err) = run(&mut cmd);
    assert_eq!(code, 0, "{err}");
    assert!(json(&out)["containers"].is_array());
}

#[test]
fn ctrl_c_during_a_wait_leaves_the_run_and_says_how_to_resume() {
    let server = simulator();
    let dir = workdir("interrupt");
    let (_, out, _) =
        run(flowscale(&server, &dir).args(["run", "slow", "-i", "a=1", "--no-wait", "--quiet"]));
    let run_id = out.trim().to_owned();
    let child = spawned(flowscale(&server, &dir).args(["wait", &run_id, "--poll", "100ms"]));
    // Once it polls, its handler is in place.
    let polls = |server: &MockServer| {
        server
            .requests()
            .iter()
            .filter(|r| r.path.ends_with(&run_id))
            .count()
    };
    let start = Instant::now();
    while polls(&server) == 0 && start.elapsed() < Duration::from_secs(60) {
        std::thread::sleep(Duration::from_millis(20));
    }
    let status = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let output = child.wait_with_output().unwrap();
    let err = String::from_utf8(output.stderr).unwrap();
    assert_eq!(output.status.code(), Some(130), "{err}");
    assert!(err.contains(&format!("flowscale wait {run_id}")), "{err}");
    // The run goes on.
    assert!(!server.run(&run_id).unwrap().status.is_finished());
}

#[test]
fn a_file_can_come_from_stdin_and_a_literal_at_sign_from_a_double_one() {
    use std::io::Write;
    let server = simulator();
    let dir = workdir("stdin");
    let mut child = flowscale(&server, &dir)
        .args([
            "run",
            "quick",
            "-i",
            "image=@-",
            "-i",
            "handle=@@cat",
            "--no-wait",
            "--quiet",
        ])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let png = std::fs::read(fixture("cat.png")).unwrap();
    child.stdin.take().unwrap().write_all(&png).unwrap();
    let output = child.wait_with_output().unwrap();
    assert_eq!(output.status.code(), Some(0));
    let run_id = String::from_utf8(output.stdout).unwrap().trim().to_owned();
    let stored = server.run(&run_id).unwrap();
    assert_eq!(stored.files[0].name, "image");
    assert_eq!(stored.files[0].bytes, png);
    assert_eq!(stored.fields, [("handle".to_string(), "@cat".to_string())]);
}

#[test]
fn batch_over_a_folder_is_cut_short_then_resumed_without_paying_twice() {
    let server = simulator();
    server.register(
        MockWorkflow::new("per-file")
            .outputs(["image"])
            .queued_for(Duration::ZERO)
            // Far longer than the first run's waits, even when a busy disk makes each
            // synced manifest line slow to write.
            .duration(Duration::from_secs(3)),
    );
    let dir = workdir("batch");
    std::fs::create_dir_all(dir.join("photos")).unwrap();
    for i in 0..6 {
        std::fs::write(dir.join(format!("photos/p{i}.png")), format!("photo {i}")).unwrap();
    }
    let batch = |timeout: &str| {
        let mut cmd = flowscale(&server, &dir);
        cmd.args([
            "batch",
            "per-file",
            "--each",
            "image=photos/*.png",
            "-i",
            "text=a cat",
        ])
        .args([
            "--concurrency",
            "2",
            "--poll",
            "50ms",
            "--timeout",
            timeout,
            "-o",
            "out",
        ]);
        cmd
    };

    // Cut short: every wait ends before its run does.
    let (code, out, err) = run(batch("100ms").arg("--json"));
    assert_eq!(code, 3, "{out}{err}");
    assert!(
        err.contains("still running") && err.contains("run the same command again"),
        "{err}"
    );
    let first = json(
        out.lines()
            .take_while(|l| !l.starts_with("{\"error"))
            .collect::<Vec<_>>()
            .join("\n")
            .as_str(),
    );
    let statuses: Vec<_> = first["jobs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|j| j["status"].clone())
        .collect();
    assert_eq!(statuses, vec![Value::from("submitted"); 6], "{out}");
    assert_eq!(executes(&server), 6);

    // Re-run: attaches to the six runs, submits nothing.
    let (code, out, err) = run(&mut batch("60s"));
    assert_eq!(code, 0, "{out}{err}");
    assert_eq!(
        out.lines().filter(|l| l.contains("completed")).count(),
        6 + 1,
        "{out}"
    );
    assert_eq!(executes(&server), 6);

    // Again, as JSON: everything already done, no request sent.
    let (code, out, _) = run(batch("60s").arg("--json"));
    assert_eq!(code, 0);
    let report = json(&out);
    let jobs = report["jobs"].as_array().unwrap();
    assert_eq!(jobs.len(), 6);
    for job in jobs {
        assert_eq!(job["status"], "completed");
        assert_eq!(job["reused"], true);
        let path = job["outputs"][0]["path"].as_str().unwrap();
        assert!(dir.join(path).is_file(), "{path}");
    }
    assert_eq!(executes(&server), 6);
}

#[test]
fn batch_from_a_jobs_file_reports_a_failed_job() {
    let server = simulator();
    let dir = workdir("jobsfile");
    std::fs::copy(fixture("cat.png"), dir.join("cat.png")).unwrap();
    std::fs::write(
        dir.join("jobs.jsonl"),
        "{\"text_51536\": \"a cat\", \"image_35728\": \"@cat.png\"}\n{\"text_51536\": \"no image\"}\n",
    )
    .unwrap();
    let (code, out, err) = run(flowscale(&server, &dir).args([
        "batch",
        "demo-img2img",
        "--jobs",
        "jobs.jsonl",
        "--poll",
        "100ms",
        "--quiet",
    ]));
    assert_eq!(code, 8, "{out}{err}");
    assert!(err.starts_with("error: 1 of 2 jobs failed"), "{err}");
    assert!(err.contains("--retry-failed"), "{err}");
    // Quiet: run ids and saved paths, as everywhere: the completed job's run, then its
    // files (the refused job has neither).
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 3, "{out}");
    assert!(server.run(lines[0]).is_some(), "a run id first: {out}");
    assert!(lines[1..].iter().all(|p| dir.join(p).is_file()), "{out}");
    let uploaded = server
        .requests()
        .into_iter()
        .find(|r| !r.files.is_empty())
        .unwrap();
    assert_eq!(uploaded.files[0].filename, "cat.png");

    // The same command for people: a table within 100 columns, what went wrong below it.
    let (code, out, _) = run(flowscale(&server, &dir).args([
        "batch",
        "demo-img2img",
        "--jobs",
        "jobs.jsonl",
        "--poll",
        "100ms",
    ]));
    assert_eq!(code, 8);
    assert!(out.lines().all(|l| l.chars().count() <= 100), "{out}");
    let table: Vec<&str> = out.lines().collect();
    assert!(
        table[0].starts_with("JOB") && table[0].ends_with("FILES"),
        "{out}"
    );
    // Unnamed jobs are known by their inputs (`job-` and their hash), in file order.
    assert!(
        table[1].starts_with("job-") && table[1].ends_with("2 (already done)"),
        "{out}"
    );
    assert!(
        table[2].starts_with("job-") && table[2].ends_with("-"),
        "{out}"
    );
    let second = table[2].split_whitespace().next().unwrap();
    assert!(
        (table.iter()).any(|l| l.starts_with(&format!("{second}: ")) && l.contains("image_35728")),
        "{out}"
    );

    // A file with no job in it (blank lines only) is refused, as a folder with no files is.
    std::fs::write(dir.join("empty.jsonl"), "\n  \n").unwrap();
    let before = executes(&server);
    let (code, out, err) = run(flowscale(&server, &dir).args([
        "batch",
        "demo-img2img",
        "--jobs",
        "empty.jsonl",
        "-o",
        "none",
    ]));
    assert_eq!(code, 2, "{out}{err}");
    assert!(
        err.starts_with("error: the jobs file empty.jsonl holds no job"),
        "{err}"
    );
    assert!(out.is_empty() && !dir.join("none").exists(), "{out}");
    assert_eq!(executes(&server), before);
}

/// Sends SIGINT (Ctrl-C) to `child` once the simulator has seen `n` submissions start.
fn interrupt_after_submissions(server: &MockServer, child: &std::process::Child, n: usize) {
    let start = Instant::now();
    while executes(server) < n && start.elapsed() < Duration::from_secs(60) {
        std::thread::sleep(Duration::from_millis(5));
    }
    let status = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
}

/// Sends `signal` to `child`.
fn signal(child: &std::process::Child, signal: &str) {
    let status = Command::new("kill")
        .args([&format!("-{signal}"), &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
}

#[test]
fn a_signal_while_the_run_is_created_but_unanswered_prints_its_run_id_before_exiting() {
    let server = simulator();
    let dir = workdir("interrupt-submit");
    // The run is created, its answer held a while: the signal comes meanwhile. The body went
    // out whole, so the run may be paid for: its id is awaited and printed.
    for sig in ["INT", "TERM", "HUP"] {
        server.fail_next(
            Route::Execute,
            1,
            Fault::DelayAnswer(Duration::from_millis(700)),
        );
        let before = server.runs().len();
        let child = spawned(
            // Inputs of its own each time: a run of the same inputs a second earlier would
            // make the look for it a doubt (exit 5), as it should.
            flowscale(&server, &dir).args([
                "run",
                "slow",
                "-i",
                &format!("a={sig}"),
                "--poll",
                "100ms",
                "-o",
                "outs",
            ]),
        );
        let start = Instant::now();
        while server.runs().len() == before && start.elapsed() < Duration::from_secs(60) {
            std::thread::sleep(Duration::from_millis(5));
        }
        signal(&child, sig);
        let output = child.wait_with_output().unwrap();
        let err = String::from_utf8(output.stderr).unwrap();
        assert_eq!(output.status.code(), Some(130), "{sig}: {err}");
        let runs = server.runs();
        assert_eq!(runs.len(), before + 1, "{sig}: the submission went through");
        let id = &runs[before].id;
        // The line that resumes it keeps -o.
        assert!(
            err.contains(&format!("flowscale wait {id} -o outs")),
            "{sig}: {err}"
        );
        let out = String::from_utf8(output.stdout).unwrap();
        assert!(
            out.contains(id.as_str()),
            "{sig}: the run id is printed: {out}"
        );
    }
}

#[test]
fn a_signal_during_an_upload_stops_it_and_no_run_is_created() {
    let server = simulator();
    let dir = workdir("interrupt-upload");
    // 64 MiB the pod reads only after 3 s: the upload is still going out when the signal
    // comes.
    let big = dir.join("big.png");
    let mut png = b"\x89PNG\r\n\x1a\n".to_vec();
    png.resize(64 << 20, 0);
    std::fs::write(&big, png).unwrap();
    for sig in ["INT", "TERM"] {
        server.fail_next(Route::Execute, 1, Fault::Delay(Duration::from_secs(3)));
        let before = executes(&server);
        let mut cmd = flowscale(&server, &dir);
        cmd.args([
            "run",
            "demo-img2img",
            "-i",
            "text_51536=a cat",
            "--json",
            "-i",
        ])
        .arg(format!("image_35728=@{}", big.display()));
        let child = spawned(&mut cmd);
        let start = Instant::now();
        while executes(&server) == before && start.elapsed() < Duration::from_secs(60) {
            std::thread::sleep(Duration::from_millis(5));
        }
        signal(&child, sig);
        let output = child.wait_with_output().unwrap();
        let err = String::from_utf8(output.stderr).unwrap();
        assert_eq!(output.status.code(), Some(130), "{sig}: {err}");
        assert!(err.contains("no run was started"), "{sig}: {err}");
        let doc = json(String::from_utf8(output.stdout).unwrap().trim());
        assert_eq!(doc["run_id"], Value::Null, "{sig}");
        // Once the pod gets to read it, the cut-short body starts nothing.
        std::thread::sleep(Duration::from_secs(4));
        assert!(server.runs().is_empty(), "{sig}: a run was created");
    }
}

#[test]
fn sigterm_mid_wait_prints_the_json_document_with_the_run_id() {
    let server = simulator();
    let dir = workdir("sigterm-wait");
    for sig in ["TERM", "HUP"] {
        let child = spawned(
            flowscale(&server, &dir)
                .args(["run", "slow", "-i", "a=1", "--poll", "100ms", "--json"]),
        );
        let start = Instant::now();
        let before = server.runs().len();
        while server.runs().len() == before && start.elapsed() < Duration::from_secs(60) {
            std::thread::sleep(Duration::from_millis(5));
        }
        // Past the submission: into the wait.
        std::thread::sleep(Duration::from_millis(500));
        signal(&child, sig);
        let output = child.wait_with_output().unwrap();
        assert_eq!(output.status.code(), Some(130), "{sig}");
        let doc = json(String::from_utf8(output.stdout).unwrap().trim());
        assert_eq!(
            doc["run_id"],
            server.runs()[before].id.as_str(),
            "{sig}: {doc}"
        );
        assert_eq!(doc["exit_code"], 130);
        let err = String::from_utf8(output.stderr).unwrap();
        assert!(err.contains("flowscale cancel"), "{sig}: {err}");
    }
}

#[test]
fn ctrl_c_in_a_batch_records_what_was_sent_and_a_rerun_pays_nothing_twice() {
    let server = simulator();
    let dir = workdir("interrupt-batch");
    std::fs::write(
        dir.join("jobs.jsonl"),
        "{\"a\": 1}\n{\"a\": 2}\n{\"a\": 3}\n",
    )
    .unwrap();
    server.fail_next(Route::Execute, 1, Fault::Delay(Duration::from_millis(700)));
    let args = [
        "batch",
        "quick",
        "--jobs",
        "jobs.jsonl",
        "--concurrency",
        "1",
        "--poll",
        "100ms",
        "-o",
        "out",
    ];
    let child = spawned(flowscale(&server, &dir).args(args));
    interrupt_after_submissions(&server, &child, 1);
    let output = child.wait_with_output().unwrap();
    let err = String::from_utf8(output.stderr).unwrap();
    assert_eq!(output.status.code(), Some(130), "{err}");
    assert!(err.contains("run the same command again"), "{err}");
    assert_eq!(server.runs().len(), 1, "nothing submitted after Ctrl-C");
    let manifest =
        std::fs::read_to_string(dir.join("out").join(flowscale::constants::MANIFEST_FILE)).unwrap();
    assert!(
        manifest.contains(&server.runs()[0].id),
        "the run id is recorded: {manifest}"
    );

    let (code, out, err) = run(flowscale(&server, &dir).args(args));
    assert_eq!(code, 0, "{out}{err}");
    assert_eq!(server.runs().len(), 3, "each job paid for once");
}

#[test]
fn a_closed_stdout_ends_the_tool_quietly_as_unix_tools_do() {
    let server = simulator();
    let dir = workdir("closed-stdout");
    for _ in 0..3 {
        run(flowscale(&server, &dir).args(["run", "quick", "-i", "a=1", "--no-wait"]));
    }
    // `flowscale runs --all --json | head -c 1`
    let mut child =
        spawned(flowscale(&server, &dir).args(["runs", "--all", "--page-size", "1", "--json"]));
    let mut stdout = child.stdout.take().unwrap();
    let mut first = [0u8; 1];
    std::io::Read::read_exact(&mut stdout, &mut first).unwrap();
    drop(stdout);
    let output = child.wait_with_output().unwrap();
    let err = String::from_utf8(output.stderr).unwrap();
    assert!(err.is_empty(), "no message: {err}");
    assert!(
        matches!(output.status.code(), Some(0 | 141)),
        "{:?}",
        output.status
    );
}

#[test]
fn absurd_durations_are_no_crash() {
    let server = simulator();
    let dir = workdir("absurd");
    let (code, out, _) =
        run(flowscale(&server, &dir).args(["run", "quick", "-i", "a=1", "--no-wait", "--quiet"]));
    assert_eq!(code, 0);
    let run_id = out.trim().to_owned();
    let (code, _, err) = run(flowscale(&server, &dir).args([
        "wait",
        &run_id,
        "--timeout",
        "10000000000000000000s",
        "--poll",
        "100ms",
        "--no-download",
    ]));
    assert_eq!(code, 0, "{err}");
    let (code, _, err) =
        run(flowscale(&server, &dir).args(["wait", &run_id, "--timeout", "99999999999999999999"]));
    assert_eq!(code, 2, "a usage error: {err}");
}

#[test]
fn a_wait_that_gives_up_says_how_to_resume_and_exits_3() {
    let server = simulator();
    let dir = workdir("gives-up");
    let (_, out, _) =
        run(flowscale(&server, &dir).args(["run", "slow", "-i", "a=1", "--no-wait", "--quiet"]));
    let run_id = out.trim().to_owned();
    // The key is rotated while the tool waits: every poll is refused.
    let (code, out, err) = run(flowscale(&server, &dir)
        .env("FLOWSCALE_API_KEY", "revoked-key-789")
        .args(["wait", &run_id, "--poll", "100ms", "--json"]));
    assert_eq!(code, 6, "the key was refused: {err}");
    assert!(err.contains(&format!("flowscale wait {run_id}")), "{err}");
    assert!(
        err.contains("403") && err.contains("check the API key"),
        "{err}"
    );
    assert_eq!(json(&out)["run_id"], run_id.as_str());
}

#[test]
fn an_execute_answer_that_cannot_be_read_still_gives_the_run_id() {
    let server = simulator();
    let dir = workdir("unreadable");
    server.fail_next(Route::Execute, 1, Fault::UnknownShape);
    let (code, out, err) =
        run(flowscale(&server, &dir).args(["run", "quick", "-i", "a=1", "--json"]));
    assert_eq!(code, 1, "{err}");
    let run_id = server.runs()[0].id.clone();
    assert!(err.contains(&format!("flowscale wait {run_id}")), "{err}");
    assert_eq!(json(&out)["run_id"], run_id.as_str(), "{out}");
}

#[test]
fn workflows_lists_the_catalog_and_run_refuses_a_misspelt_input_before_paying() {
    let server = simulator();
    let dir = workdir("catalog");
    let (code, out, _) = run(flowscale(&server, &dir).arg("workflows"));
    assert_eq!(code, 0);
    let header = out.lines().next().unwrap();
    assert!(
        header.starts_with("ID") && header.ends_with("INPUTS"),
        "{out}"
    );
    let row = out.lines().find(|l| l.starts_with("demo-img2img")).unwrap();
    assert!(row.contains("Image to Image"), "{row}");
    assert!(
        row.contains("text_51536 (text), image_35728 (image)"),
        "{row}"
    );

    let (code, out, _) = run(flowscale(&server, &dir).args(["workflows", "bncu0a1kipv", "--json"]));
    assert_eq!(code, 0);
    let doc = json(&out);
    assert_eq!(doc["name"], "Text to Image");
    assert_eq!(doc["inputs"][0]["name"], "text_51536");
    assert_eq!(doc["inputs"][1]["kind"], "number");
    let (code, _, err) = run(flowscale(&server, &dir).args(["workflows", "nope"]));
    assert_eq!(code, 7, "not found: {err}");
    assert!(
        err.contains("its workflows: bncu0a1kipv, demo-img2img"),
        "{err}"
    );

    // A typo: exit 2 naming the input meant, nothing submitted.
    let (code, out, err) =
        run(flowscale(&server, &dir).args(["run", "bncu0a1kipv", "-i", "text_5153=x"]));
    assert_eq!(code, 2, "{err}");
    assert_eq!(out, "");
    assert!(
        err.starts_with(
            "error: invalid input `text_5153`: not an input of `Text to Image`; did you mean `text_51536`?\n"
        ),
        "{err}"
    );
    assert!(err.contains("--no-check"), "{err}");
    // Text where an image file goes, in a batch: refused before any job is sent.
    let jobs = dir.join("jobs.jsonl");
    std::fs::write(
        &jobs,
        format!(
            "{{\"text_51536\": \"a\", \"image_35728\": \"@{}\"}}\n{{\"text_51536\": \"b\", \"image_35728\": \"cat.png\"}}\n",
            fixture("cat.png")
        ),
    )
    .unwrap();
    let (code, _, err) = run(flowscale(&server, &dir)
        .args(["batch", "demo-img2img", "--jobs"])
        .arg(&jobs));
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains("`: invalid input `image_35728`: takes an image file, not text"),
        "{err}"
    );
    assert_eq!(executes(&server), 0);

    // --no-check sends it as it is; FlowScale ignores the unknown field.
    let (code, out, err) = run(flowscale(&server, &dir).args([
        "run",
        "bncu0a1kipv",
        "-i",
        "text_5153=x",
        "--no-check",
        "--no-wait",
        "-q",
    ]));
    assert_eq!(code, 0, "{err}");
    assert!(!out.trim().is_empty());
    assert_eq!(executes(&server), 1);
}

#[test]
fn a_pod_without_a_catalog_runs_unchecked() {
    let server = simulator();
    server.serve_shapes(flowscale::mock::Shapes::Spec);
    let dir = workdir("no-catalog");
    let (code, _, err) = run(flowscale(&server, &dir).arg("workflows"));
    assert_eq!(code, 1);
    assert!(err.contains("this pod has no workflow catalog"), "{err}");
    let (code, out, err) = run(flowscale(&server, &dir).args([
        "run",
        "bncu0a1kipv",
        "-i",
        "text_5153=x",
        "--no-wait",
        "-q",
    ]));
    assert_eq!(code, 0, "{err}");
    assert!(!out.trim().is_empty());
    assert_eq!(err, "");
    assert_eq!(executes(&server), 1);
}

#[test]
fn bash_completes_commands_from_the_generated_script() {
    let dir = workdir("completions");
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_flowscale"));
    let (code, script, _) = run(cmd.args(["completions", "bash"]).current_dir(&dir));
    assert_eq!(code, 0);
    let file = dir.join("flowscale.bash");
    std::fs::write(&file, script).unwrap();
    // A real bash loads it and completes `flowscale ru` as a user pressing Tab would.
    let out = Command::new("bash")
        .arg("-c")
        .arg(format!(
            "source '{}'; COMP_WORDS=(flowscale ru); COMP_CWORD=1; COMP_LINE='flowscale ru'; \
             COMP_POINT=12; _flowscale flowscale ru flowscale; echo \"${{COMPREPLY[@]}}\"",
            file.display()
        ))
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "run runs");
    for shell in ["zsh", "fish", "powershell", "elvish"] {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_flowscale"));
        let (code, script, _) = run(cmd.args(["completions", shell]));
        assert_eq!(code, 0, "{shell}");
        assert!(script.contains("workflows"), "{shell}: {script}");
    }
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_flowscale"));
    let (code, page, _) = run(cmd.arg("man"));
    assert_eq!(code, 0);
    assert!(
        page.contains(".TH flowscale 1") && page.contains("completions"),
        "{page}"
    );
}

#[test]
fn the_key_can_come_from_a_private_file_never_from_one_others_read() {
    let server = simulator();
    let dir = workdir("key-file");
    let file = dir.join("key");
    std::fs::write(&file, format!("{SECRET}\n")).unwrap();
    let mut private = std::fs::metadata(&file).unwrap().permissions();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        private.set_mode(0o600);
    }
    std::fs::set_permissions(&file, private).unwrap();
    let tool = |args: &[&str]| {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_flowscale"));
        cmd.current_dir(&dir)
            .env_remove("FLOWSCALE_API_KEY")
            .env("FLOWSCALE_API_URL", server.url())
            .args(args);
        cmd
    };
    let (code, out, err) = run(tool(&["health", "--api-key-file"]).arg(&file));
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("idle"), "{out}");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mut shared = std::fs::metadata(&file).unwrap().permissions();
        shared.set_mode(0o644);
        std::fs::set_permissions(&file, shared).unwrap();
        let (code, _, err) = run(tool(&["health", "--api-key-file"]).arg(&file));
        assert_eq!(code, 2);
        assert!(
            err.contains("may be read by other users (mode 644): refused"),
            "{err}"
        );
        assert!(err.contains("chmod 600"), "{err}");
    }
    let (code, _, err) = run(tool(&["health", "--api-key-file"]).arg(dir.join("none")));
    assert_eq!(code, 2, "{err}");
    let mut both = tool(&["health", "--api-key", "x", "--api-key-file"]);
    let (code, _, _) = run(both.arg(&file));
    assert_eq!(code, 2, "--api-key and --api-key-file conflict");
}

#[test]
fn an_output_not_ready_is_no_result_and_a_run_without_outputs_says_why() {
    let server = simulator();
    let dir = workdir("not-ready");
    let (code, out, _) = run(flowscale(&server, &dir).args(["run", "slow", "--no-wait", "--json"]));
    assert_eq!(code, 0);
    let run_id = json(&out)["run_id"].as_str().unwrap().to_owned();
    let (_, out, _) = run(flowscale(&server, &dir).args(["get", &run_id, "--json"]));
    let name = json(&out)["output_names"][0].as_str().unwrap().to_owned();

    let (code, out, err) = run(flowscale(&server, &dir).args(["output", &name]));
    assert_eq!(code, 4, "{err}");
    assert_eq!(out, "", "nothing a script could take for a link");
    assert!(
        err.starts_with(&format!("error: output {name} is not ready yet")),
        "{err}"
    );
    let (code, out, _) = run(flowscale(&server, &dir).args(["output", &name, "--json"]));
    assert_eq!(code, 4);
    let doc = json(&out);
    assert_eq!(doc["ready"], false);
    assert!(doc["download_url"].is_null(), "{doc}");
    assert_eq!(out.matches("\"ready\"").count(), 1, "one document: {out}");

    let (code, _, err) = run(flowscale(&server, &dir).args(["download", &run_id]));
    assert_eq!(code, 1);
    assert!(
        err.contains("not completed yet: wait for it to complete first"),
        "{err}"
    );
    assert!(!err.contains("wait_for_run"), "{err}");
    let (_, out, _) = run(flowscale(&server, &dir).args(["run", "failing", "--no-wait", "-q"]));
    let failed = out.trim().to_owned();
    let (code, _, _) = run(flowscale(&server, &dir).args(["wait", &failed, "--poll", "100ms"]));
    assert_eq!(code, 8, "the run failed");
    let (code, _, err) = run(flowscale(&server, &dir).args(["download", &failed]));
    assert_eq!(code, 1);
    assert!(
        err.contains("is failed: it has no outputs to download"),
        "{err}"
    );
}

#[test]
fn what_would_fail_after_a_paid_run_is_refused_before_it() {
    let server = simulator();
    let dir = workdir("before-paying");
    std::fs::write(dir.join("afile"), "not a directory").unwrap();
    let (code, _, err) =
        run(flowscale(&server, &dir).args(["run", "quick", "-i", "a=1", "-o", "afile"]));
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains("cannot save into afile: it is a file"),
        "{err}"
    );
    for flag in ["--timeout", "--poll"] {
        let (code, _, err) =
            run(flowscale(&server, &dir).args(["run", "quick", "-i", "a=1", flag, "0s"]));
        assert_eq!(code, 2, "{flag}: {err}");
    }
    assert_eq!(executes(&server), 0, "nothing was paid for");

    // A missing input FlowScale refuses (422) is answered with the -i that adds it.
    let (code, _, err) =
        run(flowscale(&server, &dir).args(["run", "demo-img2img", "-i", "text_51536=x"]));
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("body.image_35728: Field required"), "{err}");
    assert!(
        err.contains("hint: the workflow needs image_35728: add -i image_35728="),
        "{err}"
    );
}

#[test]
fn every_json_document_carries_its_version_and_names_runs_alike() {
    let server = simulator();
    let dir = workdir("versions");
    let doc = |args: &[&str]| {
        let (_, out, err) = run(flowscale(&server, &dir).args(args).arg("--json"));
        // One pretty document, or an error document on one line.
        let doc: Value = serde_json::from_str(&out).unwrap_or_else(|_| {
            let last = out.lines().last().unwrap_or_default();
            serde_json::from_str(last).unwrap_or_else(|e| panic!("{args:?}: {e}: {out}{err}"))
        });
        assert_eq!(doc["version"], 1, "{args:?}: {doc}");
        doc
    };
    doc(&["health"]);
    doc(&["queue"]);
    doc(&["workflows"]);
    doc(&["workflows", "wf1"]);
    let started = doc(&["run", "quick", "-i", "a=1", "--no-wait"]);
    let run_id = started["run_id"].as_str().unwrap().to_owned();
    let waited = doc(&["wait", &run_id, "--poll", "100ms", "-o", "w"]);
    assert_eq!(waited["run_id"], run_id.as_str());
    let got = doc(&["get", &run_id]);
    assert_eq!(got["run_id"], run_id.as_str(), "{got}");
    assert!(got.get("_id").is_none(), "{got}");
    let listed = doc(&["runs"]);
    assert!(
        listed["runs"]
            .as_array()
            .unwrap()
            .iter()
            .all(|r| r["run_id"].is_string())
    );
    let name = got["output_names"][0].as_str().unwrap().to_owned();
    doc(&["output", &name]);
    let saved = doc(&["download", &run_id, "-o", "d"]);
    assert_eq!(saved["run_id"], run_id.as_str());
    doc(&["cancel", &run_id]);
    // An error is a document too, and names the run it is about.
    let failed = doc(&["download", "no-such-run"]);
    assert!(
        failed["error"].is_string() && failed["exit_code"] == 7,
        "{failed}"
    );
}

#[test]
fn events_follow_a_run_line_by_line_and_end_with_its_outcome() {
    let server = simulator();
    let dir = workdir("events");
    let parse = |out: &str| -> Vec<Value> {
        out.lines()
            .map(|line| {
                let event = json(line);
                assert_eq!(event["version"], 1, "{line}");
                let time = event["time"].as_str().unwrap();
                assert!(
                    time.len() == 24 && time.ends_with('Z'),
                    "RFC 3339, UTC: {time}"
                );
                event
            })
            .collect()
    };
    let (code, out, err) = run(flowscale(&server, &dir).args([
        "run", "quick", "-i", "a=1", "--poll", "100ms", "-o", "out", "--events",
    ]));
    assert_eq!(code, 0, "{err}");
    let events = parse(&out);
    let kinds: Vec<&str> = events
        .iter()
        .map(|e| e["event"].as_str().unwrap())
        .collect();
    assert_eq!(kinds[0], "submitted", "{kinds:?}");
    assert!(
        kinds.contains(&"status") && kinds.contains(&"output_ready"),
        "{kinds:?}"
    );
    assert!(kinds.contains(&"download_progress"), "{kinds:?}");
    assert_eq!(
        kinds.iter().filter(|k| **k == "saved").count(),
        2,
        "{kinds:?}"
    );
    assert_eq!(*kinds.last().unwrap(), "finished");
    let run_id = events[0]["run_id"].as_str().unwrap();
    assert!(
        events[..events.len() - 1]
            .iter()
            .all(|e| e["run_id"] == run_id),
        "every event names the run: {out}"
    );
    let last = events.last().unwrap();
    assert_eq!(last["exit_code"], 0);
    assert_eq!(last["result"]["run_id"], run_id);
    for saved in events.iter().filter(|e| e["event"] == "saved") {
        assert!(
            dir.join(saved["path"].as_str().unwrap()).is_file(),
            "{saved}"
        );
    }
    assert!(err.is_empty(), "no bars with --events: {err}");

    // A failed run ends with a `failed` event carrying the exit code.
    let (code, out, _) = run(flowscale(&server, &dir)
        .args(["run", "failing", "-i", "a=1", "--poll", "100ms", "--events"]));
    assert_eq!(code, 8);
    let events = parse(&out);
    let last = events.last().unwrap();
    assert_eq!(
        (last["event"].as_str(), last["exit_code"].as_i64()),
        (Some("failed"), Some(8))
    );

    // A batch names its jobs.
    std::fs::write(dir.join("jobs.jsonl"), "{\"a\": 1, \"name\": \"one\"}\n").unwrap();
    let (code, out, err) = run(flowscale(&server, &dir).args([
        "batch",
        "quick",
        "--jobs",
        "jobs.jsonl",
        "--poll",
        "100ms",
        "-o",
        "b",
        "--events",
    ]));
    assert_eq!(code, 0, "{err}");
    let events = parse(&out);
    // First what the batch will do (one new job), then its submission.
    assert_eq!(events[0]["event"], "planned");
    assert_eq!(events[0]["new"], 1);
    assert_eq!(events[1]["event"], "submitted");
    assert_eq!(events[1]["job"], "one");
    let done = events
        .iter()
        .find(|e| e["event"] == "job_finished")
        .unwrap();
    assert_eq!(done["status"], "completed");
    assert_eq!(events.last().unwrap()["event"], "finished");
    // And --events is for the commands that follow something.
    let (code, _, _) = run(flowscale(&server, &dir).args(["run", "quick", "--events", "--json"]));
    assert_eq!(code, 2);
}

#[test]
fn saving_a_run_twice_can_skip_or_replace_what_is_there() {
    let server = simulator();
    let dir = workdir("skip-existing");
    let (_, out, _) = run(flowscale(&server, &dir).args(["run", "quick", "--no-wait", "-q"]));
    let run_id = out.trim().to_owned();
    let save = |extra: &[&str]| {
        let mut cmd = flowscale(&server, &dir);
        let (code, out, err) = run(cmd
            .args(["wait", &run_id, "--poll", "100ms", "-o", "d", "-q"])
            .args(extra));
        assert_eq!(code, 0, "{err}");
        let mut paths: Vec<String> = out.lines().map(str::to_owned).collect();
        paths.sort();
        paths
    };
    let first = save(&[]);
    assert_eq!(save(&["--skip-existing"]), first, "kept, not saved again");
    assert_eq!(save(&["--overwrite"]), first, "replaced in place");
    assert!(
        save(&[]).iter().all(|p| p.contains("-1.")),
        "numbered copies by default"
    );
    assert_eq!(std::fs::read_dir(dir.join("d")).unwrap().count(), 4);
    let (code, _, _) =
        run(flowscale(&server, &dir).args(["download", &run_id, "--skip-existing", "--overwrite"]));
    assert_eq!(code, 2, "the two conflict");
}

/// `flowscale mock` with `args` on a free port, its URL once it serves; killed on drop. Its
/// stdout stays open (a closed one would end it, as any Unix tool).
struct Simulator(
    std::process::Child,
    String,
    #[allow(dead_code)] std::io::BufReader<std::process::ChildStdout>,
);

impl Simulator {
    fn start(args: &[&str]) -> Simulator {
        use std::io::BufRead;
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port()
            .to_string();
        let mut child = Command::new(env!("CARGO_BIN_EXE_flowscale"))
            .args(["mock", "--port", &port])
            .args(args)
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        let mut first = String::new();
        let mut stdout = std::io::BufReader::new(child.stdout.take().unwrap());
        stdout.read_line(&mut first).unwrap();
        let url = first.trim().rsplit('=').next().unwrap().to_owned();
        assert!(url.starts_with("http://127.0.0.1:"), "{first}");
        Simulator(child, url, stdout)
    }
}

impl Drop for Simulator {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn the_simulator_takes_its_own_run_time_output_size_and_failure_rate() {
    let dir = workdir("mock-options");
    let on = |sim: &Simulator, args: &[&str]| {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_flowscale"));
        cmd.current_dir(&dir)
            .env("FLOWSCALE_API_URL", &sim.1)
            .env("FLOWSCALE_API_KEY", flowscale::mock::DEFAULT_API_KEY)
            .args(args);
        let output = cmd.output().unwrap();
        (
            output.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&output.stdout).into_owned(),
        )
    };
    let sized = Simulator::start(&["--run-time", "100ms", "--output-size", "5000"]);
    let (code, out) = on(
        &sized,
        &["run", "bncu0a1kipv", "--poll", "50ms", "-o", "o", "--json"],
    );
    assert_eq!(code, 0, "{out}");
    let doc = json(&out);
    assert_eq!(doc["outputs"][0]["bytes"], 5000, "{doc}");
    let failing = Simulator::start(&["--failure-rate", "1"]);
    let (code, _) = on(&failing, &["run", "wf1", "--poll", "50ms", "--no-download"]);
    assert_eq!(code, 8, "every run fails");
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_flowscale"));
    let (code, _, err) = run(cmd.args(["mock", "--failure-rate", "2"]));
    assert_eq!(code, 2, "{err}");
    // The pod's options mean nothing to the simulator: refused, not ignored.
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_flowscale"));
    let (code, _, err) = run(cmd.args(["mock", "--api-key", "x"]));
    assert_eq!(code, 2);
    assert!(
        err.contains("takes only its own options, not --api-key"),
        "{err}"
    );
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_flowscale"));
    let (code, help, _) = run(cmd.args(["mock", "--help"]));
    assert_eq!(code, 0);
    assert!(
        help.contains("--run-time") && help.contains("--failure-rate"),
        "{help}"
    );
    for not_offered in ["--api-key", "--api-url", "--profile", "--json", "--quiet"] {
        assert!(!help.contains(not_offered), "{not_offered} offered: {help}");
    }
}

#[test]
fn login_saves_a_private_profile_that_a_named_run_uses_whole() {
    use std::io::Write;
    let server = simulator();
    let dir = workdir("profiles");
    let config = dir.join("conf").join("config.toml");
    let tool = |args: &[&str]| {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_flowscale"));
        cmd.current_dir(&dir)
            .env_remove("FLOWSCALE_API_KEY")
            .env_remove("FLOWSCALE_API_URL")
            .env_remove("FLOWSCALE_PROFILE")
            .env("FLOWSCALE_CONFIG", &config)
            .args(args);
        cmd
    };
    let login = |profile: &str, key: &str| {
        let mut child = tool(&["login", "--profile", profile, "--api-url", server.url()])
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        writeln!(child.stdin.take().unwrap(), "{key}").unwrap();
        let out = child.wait_with_output().unwrap();
        let text = String::from_utf8_lossy(&out.stdout).into_owned()
            + &String::from_utf8_lossy(&out.stderr);
        assert!(!text.contains(SECRET), "{text}");
        (out.status.code().unwrap_or(-1), text)
    };

    // A key the pod refuses is never stored.
    let (code, text) = login("staging", "not-the-key");
    assert_eq!(code, 6, "{text}");
    assert!(text.contains("the pod refused the key"), "{text}");
    assert!(!config.exists());

    let (code, text) = login("staging", SECRET);
    assert_eq!(code, 0, "{text}");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&config).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
    }
    assert!(std::fs::read_to_string(&config).unwrap().contains(SECRET));
    let (code, out, _) = run(&mut tool(&["profiles"]));
    assert_eq!(code, 0);
    assert_eq!(
        out.lines().next(),
        Some(format!("staging\t{}", server.url()).as_str())
    );

    // A run through the profile, by flag or environment; none named and no `default`: no key.
    let (code, out, err) = run(&mut tool(&["--profile", "staging", "health"]));
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("idle"));
    let (code, _, err) = run(tool(&["health"]).env("FLOWSCALE_PROFILE", "staging"));
    assert_eq!(code, 0, "{err}");
    let (code, _, err) = run(&mut tool(&["health"]));
    assert_eq!(code, 2, "{err}");
    let (code, _, err) = run(&mut tool(&["--profile", "prod", "health"]));
    assert_eq!(code, 2);
    assert!(err.contains("no profile `prod`"), "{err}");

    // Precedence: a named profile wins over a key in the environment or .env (the pair
    // comes from one place); a URL elsewhere is refused (tests/credentials.rs has them all).
    let (code, _, err) =
        run(tool(&["--profile", "staging", "health"]).env("FLOWSCALE_API_KEY", "env-loses"));
    assert_eq!(code, 0, "the environment's key was used: {err}");
    std::fs::write(dir.join(".env"), "FLOWSCALE_API_KEY=dotenv-loses\n").unwrap();
    let (code, _, err) = run(&mut tool(&["--profile", "staging", "health"]));
    assert_eq!(code, 0, ".env's key was used: {err}");
    std::fs::remove_file(dir.join(".env")).unwrap();

    // A file others may read is refused, as ssh refuses such a key.
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&config, std::fs::Permissions::from_mode(0o644)).unwrap();
        let (code, _, err) = run(&mut tool(&["--profile", "staging", "health"]));
        assert_eq!(code, 2);
        assert!(
            err.contains("may be read by other users") && err.contains("chmod 600"),
            "{err}"
        );
        std::fs::set_permissions(&config, std::fs::Permissions::from_mode(0o600)).unwrap();
    }
    let (code, _, err) = run(&mut tool(&["logout", "--profile", "staging"]));
    assert_eq!(code, 0, "{err}");
    let (code, out, _) = run(&mut tool(&["profiles", "-q"]));
    assert_eq!((code, out.as_str()), (0, ""));
}

#[test]
fn two_batches_started_together_on_one_directory_pay_once_per_job() {
    let server = simulator();
    server.register(
        MockWorkflow::new("pair")
            .outputs(["image"])
            .queued_for(Duration::ZERO)
            .duration(Duration::from_millis(400)),
    );
    let dir = workdir("two-batches");
    std::fs::create_dir_all(dir.join("photos")).unwrap();
    for i in 0..6 {
        std::fs::write(dir.join(format!("photos/p{i}.png")), format!("photo {i}")).unwrap();
    }
    let batch = || {
        let mut cmd = flowscale(&server, &dir);
        cmd.args(["batch", "pair", "--each", "image=photos/", "-o", "out"])
            .args(["--concurrency", "3", "--poll", "50ms", "--json"]);
        cmd
    };
    // Both wait for the directory: the second takes it when the first is done, and finds
    // every job completed.
    let (first, second) = (
        spawned(batch().arg("--wait")),
        spawned(batch().arg("--wait")),
    );
    for child in [first, second] {
        let out = child.wait_with_output().unwrap();
        let text = String::from_utf8_lossy(&out.stdout);
        assert_eq!(
            out.status.code(),
            Some(0),
            "{text}{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let report = json(&text);
        assert_eq!(report["jobs"].as_array().unwrap().len(), 6);
    }
    assert_eq!(executes(&server), 6, "two processes paid twice");

    // Without --wait, the second is refused while the first runs, naming it.
    std::fs::remove_dir_all(dir.join("out")).unwrap();
    let first = spawned(&mut batch());
    let manifest = dir.join("out").join(flowscale::constants::MANIFEST_FILE);
    let end = Instant::now() + Duration::from_secs(60);
    while !std::fs::read_to_string(&manifest).is_ok_and(|m| !m.is_empty()) {
        assert!(
            Instant::now() < end,
            "the first batch never wrote its manifest"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
    let (code, _, err) = run(&mut batch());
    assert_eq!(code, 5, "{err}");
    assert!(
        err.contains("is in use by another process (process ")
            && err.contains("flowscale")
            && err.contains("--wait"),
        "{err}"
    );
    let out = first.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(executes(&server), 12);
}

#[test]
fn a_submission_whose_answer_never_comes_is_found_or_named_never_paid_twice() {
    let server = simulator();
    let dir = workdir("lost-answer");
    let submit = |extra: &[&str]| {
        let mut cmd = flowscale(&server, &dir);
        cmd.args([
            "run",
            "quick",
            "-i",
            "text=a fox",
            "--poll",
            "50ms",
            "-o",
            "out",
        ])
        .args(["--response-timeout", "1s"])
        .args(extra);
        cmd
    };
    // The run is created, its answer held back past the timeout: found among the pod's
    // runs (same workflow and inputs, created since), and waited for.
    server.fail_next(
        Route::Execute,
        1,
        Fault::DelayAnswer(Duration::from_secs(20)),
    );
    let (code, out, err) = run(&mut submit(&["--json"]));
    assert_eq!(code, 0, "{out}{err}");
    let doc = json(&out);
    assert_eq!(doc["run_id"], server.runs()[0].id.as_str(), "{doc}");
    assert_eq!(executes(&server), 1);

    // The same, and the pod's runs cannot be listed either: exit 5, a message that says a
    // run may exist and how to look for it, one execute and no more.
    server.fail_next(
        Route::Execute,
        1,
        Fault::DelayAnswer(Duration::from_secs(20)),
    );
    server.fail_next(Route::RunList, 100, Fault::Status(503));
    let (code, out, err) = run(&mut submit(&["--json"]));
    assert_eq!(code, 5, "{out}{err}");
    assert!(
        err.contains("a run may have started and be paid for")
            && err.contains("flowscale runs --since"),
        "{err}"
    );
    assert_eq!(json(&out)["exit_code"], 5);
    assert_eq!(executes(&server), 2);
}

#[test]
fn runs_since_lists_only_runs_created_since() {
    let server = simulator();
    let dir = workdir("runs-since");
    let (code, _, err) =
        run(flowscale(&server, &dir).args(["run", "quick", "--no-wait", "-i", "text=x"]));
    assert_eq!(code, 0, "{err}");
    let (code, out, _) = run(flowscale(&server, &dir).args(["runs", "--since", "10m", "-q"]));
    assert_eq!((code, out.lines().count()), (0, 1), "{out}");
    let (code, out, _) =
        run(flowscale(&server, &dir).args(["runs", "--since", "2999-01-01T00:00:00Z", "-q"]));
    assert_eq!((code, out.as_str()), (0, ""));
    let (code, _, err) = run(flowscale(&server, &dir).args(["runs", "--since", "yesterday"]));
    assert_eq!(code, 2, "{err}");
}

#[test]
fn a_closed_stdout_never_abandons_a_paid_run() {
    let server = simulator();
    let dir = workdir("closed-stdout-run");
    // `flowscale run ... -o out | true`: the reader is gone before the run id is printed.
    let mut cmd = flowscale(&server, &dir);
    cmd.args([
        "run", "quick", "-i", "text=x", "--poll", "50ms", "-o", "out",
    ])
    .stdout(std::process::Stdio::piped())
    .stderr(std::process::Stdio::piped());
    let mut child = cmd.spawn().unwrap();
    drop(child.stdout.take());
    let output = child.wait_with_output().unwrap();
    let err = String::from_utf8(output.stderr).unwrap();
    assert_eq!(output.status.code(), Some(141), "{err}");
    let run = &server.runs()[0].id;
    // The outputs are saved, and the results went to stderr instead.
    let saved: Vec<_> = std::fs::read_dir(dir.join("out")).unwrap().collect();
    assert_eq!(saved.len(), 2, "{err}");
    assert!(
        err.contains(run.as_str()) && err.contains("saved out/"),
        "{err}"
    );
    // A listing still stops at once, as `| head` expects.
    let mut cmd = flowscale(&server, &dir);
    cmd.args(["runs", "--all"])
        .stdout(std::process::Stdio::piped());
    let mut child = cmd.spawn().unwrap();
    drop(child.stdout.take());
    assert_eq!(child.wait().unwrap().code(), Some(141));
}

#[test]
fn a_run_whose_outputs_cannot_be_saved_is_named_with_the_line_that_saves_them() {
    let server = simulator();
    let dir = workdir("save-fails");
    // Every download of the outputs fails: the run is paid for and complete.
    server.fail_next(Route::Download, 1000, Fault::Status(500));
    let (code, out, err) = run(flowscale(&server, &dir).args([
        "run", "quick", "-i", "text=x", "--poll", "50ms", "-o", "my out", "--json",
    ]));
    assert_eq!(code, 1, "{err}");
    let run_id = server.runs()[0].id.clone();
    let doc = json(out.trim());
    assert_eq!(doc["run_id"], run_id.as_str(), "{doc}");
    assert!(
        err.contains(&format!(
            "flowscale download {run_id} -o 'my out' --skip-existing"
        )),
        "{err}"
    );
    assert!(!err.contains("RUN_ID"), "{err}");
}

#[test]
fn inputs_of_the_wrong_kind_are_refused_before_paying() {
    let server = simulator();
    let dir = workdir("wrong-kind");
    std::fs::create_dir_all(dir.join("photos")).unwrap();
    std::fs::copy(fixture("cat.png"), dir.join("photos/cat.png")).unwrap();
    std::fs::write(dir.join("photos/readme.txt"), "not a photo").unwrap();
    std::fs::write(dir.join("empty.png"), "").unwrap();
    let img2img = |extra: &[&str]| {
        let mut cmd = flowscale(&server, &dir);
        cmd.args(["run", "demo-img2img", "-i", "text_51536=a cat", "--no-wait"])
            .args(extra);
        cmd
    };
    // An empty file, text where an image goes, and nothing on stdin: exit 2, nothing sent.
    for extra in [
        vec!["-i", "image_35728=@empty.png"],
        vec!["-i", "image_35728=@photos/readme.txt"],
    ] {
        let (code, _, err) = run(&mut img2img(&extra));
        assert_eq!(code, 2, "{extra:?}: {err}");
        assert!(err.contains("image_35728"), "{err}");
    }
    let (code, _, err) = run(img2img(&["-i", "image_35728=@-"]).stdin(std::process::Stdio::null()));
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("standard input is empty"), "{err}");
    // The same input twice: which one would count? A usage error.
    let (code, _, err) = run(&mut img2img(&[
        "-i",
        "image_35728=@photos/cat.png",
        "-i",
        "text_51536=a dog",
    ]));
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("`text_51536` is given twice"), "{err}");
    assert_eq!(executes(&server), 0);

    // --each takes only the folder's images, and says what it skipped.
    let (code, out, err) = run(flowscale(&server, &dir).args([
        "batch",
        "demo-img2img",
        "--each",
        "image_35728=photos/",
        "-i",
        "text_51536=a cat",
        "--poll",
        "100ms",
        "-o",
        "b",
        "--json",
    ]));
    assert_eq!(code, 0, "{err}");
    assert!(
        err.contains("skipped: photos/readme.txt is not an image"),
        "{err}"
    );
    assert_eq!(json(&out)["jobs"].as_array().unwrap().len(), 1);
    assert_eq!(executes(&server), 1);
}

#[test]
fn the_manual_has_a_page_per_command_with_its_options() {
    let server = simulator();
    let dir = workdir("man");
    let (code, out, _) = run(flowscale(&server, &dir).arg("man"));
    assert_eq!(code, 0);
    assert!(
        out.contains(r"\-\-each") && out.contains(r"\-\-resubmit\-unknown"),
        "batch's options"
    );
    assert!(out.contains(".TH flowscale-run"), "run's page");
    let (code, _, err) = run(flowscale(&server, &dir).args(["man", "--dir", "pages"]));
    assert_eq!(code, 0, "{err}");
    for page in [
        "flowscale.1",
        "flowscale-run.1",
        "flowscale-batch.1",
        "flowscale-login.1",
    ] {
        let text = std::fs::read_to_string(dir.join("pages").join(page)).unwrap();
        assert!(text.contains("Exit codes"), "{page}");
    }
    // A command's help keeps the global options under a heading of their own.
    let (_, help, _) = run(flowscale(&server, &dir).args(["wait", "--help"]));
    let (own, global) = help.split_once("Global options:").unwrap();
    assert!(
        own.contains("--output-dir") && !own.contains("--api-key"),
        "{help}"
    );
    assert!(global.contains("--api-key"), "{help}");
}

#[test]
fn the_tool_speaks_one_json_vocabulary_and_reports_files_as_they_land() {
    let server = simulator();
    let dir = workdir("vocabulary");
    let (_, out, _) =
        run(flowscale(&server, &dir).args(["run", "quick", "-i", "a=1", "--no-wait", "-q"]));
    let run_id = out.trim().to_owned();
    let (code, out, err) = run(
        flowscale(&server, &dir).args(["wait", &run_id, "--poll", "50ms", "-o", "w", "--json"])
    );
    assert_eq!(code, 0, "{err}");
    let waited = json(&out);
    let (code, out, err) =
        run(flowscale(&server, &dir).args(["download", &run_id, "-o", "d", "--json"]));
    assert_eq!(code, 0, "{err}");
    let downloaded = json(&out);
    // The same keys for an output in both documents.
    let keys = |doc: &Value| -> Vec<String> {
        let mut keys: Vec<String> = doc["outputs"][0]
            .as_object()
            .unwrap()
            .keys()
            .cloned()
            .collect();
        keys.sort();
        keys
    };
    assert_eq!(keys(&waited), ["bytes", "download_url", "name", "path"]);
    assert_eq!(keys(&waited), keys(&downloaded));
    assert_eq!(downloaded["version"], 1);
    // The manifest says `version`, as the documents do.
    std::fs::create_dir_all(dir.join("p")).unwrap();
    std::fs::write(dir.join("p/one.png"), b"\x89PNG\r\n\x1a\n....").unwrap();
    let (code, out, err) = run(flowscale(&server, &dir).args([
        "batch", "quick", "--each", "image=p/", "--poll", "50ms", "-o", "b", "--events",
    ]));
    assert_eq!(code, 0, "{err}");
    let manifest =
        std::fs::read_to_string(dir.join("b").join(flowscale::constants::MANIFEST_FILE)).unwrap();
    assert!(
        manifest.lines().all(|l| json(l)["version"] == 1),
        "{manifest}"
    );
    // Batch events carry each file as it lands, with its progress before.
    let events: Vec<Value> = out.lines().map(json).collect();
    let kinds: Vec<&str> = events
        .iter()
        .map(|e| e["event"].as_str().unwrap())
        .collect();
    let saved = kinds
        .iter()
        .position(|k| *k == "saved")
        .expect("a saved event");
    let progress = kinds
        .iter()
        .position(|k| *k == "download_progress")
        .expect("progress");
    let finished = kinds.iter().position(|k| *k == "job_finished").unwrap();
    assert!(progress < saved && saved < finished, "{kinds:?}");
    assert_eq!(events[finished]["outputs"][0]["bytes"].as_u64(), Some(166));
}

#[test]
fn a_misspelt_workflow_id_is_named_and_errors_are_coloured_only_when_asked() {
    let server = simulator();
    let dir = workdir("did-you-mean");
    let (code, _, err) = run(flowscale(&server, &dir).args(["run", "demo-img2ing", "-i", "a=1"]));
    assert_eq!(code, 7, "an unknown workflow is not found: {err}");
    assert!(err.contains("did you mean `demo-img2img`?"), "{err}");
    assert!(!err.contains('\x1b'), "no colour in a pipe: {err}");
    assert_eq!(executes(&server), 0);
    // CLICOLOR_FORCE asks for colour in a pipe; NO_COLOR always wins.
    let (_, _, err) = run(flowscale(&server, &dir).env("CLICOLOR_FORCE", "1").args([
        "run",
        "demo-img2ing",
        "-i",
        "a=1",
    ]));
    assert!(err.contains("\x1b[1;31merror:\x1b[0m"), "{err:?}");
    let (_, _, err) = run(flowscale(&server, &dir)
        .env("CLICOLOR_FORCE", "1")
        .env("NO_COLOR", "1")
        .args(["run", "demo-img2ing", "-i", "a=1"]));
    assert!(!err.contains('\x1b'), "{err:?}");
}

/// The tool on a terminal of `columns` columns (a pseudo-terminal, through python3's `pty`):
/// everything it drew there, control codes taken out, one piece per line or redraw.
/// What the tool wrote to a pseudo-terminal of `columns` columns, as it came (escape codes
/// and all), with `env` set.
fn terminal_raw(
    server: &MockServer,
    dir: &Path,
    columns: u16,
    args: &[&str],
    env: &[(&str, &str)],
) -> String {
    let script = format!("{}/tests/support/pty_run.py", env!("CARGO_MANIFEST_DIR"));
    let out = Command::new("python3")
        .arg(script)
        .arg(columns.to_string())
        .arg(env!("CARGO_BIN_EXE_flowscale"))
        .args(args)
        .current_dir(dir)
        .env("FLOWSCALE_API_URL", server.url())
        .env("FLOWSCALE_API_KEY", SECRET)
        .env("FLOWSCALE_CONFIG", dir.join("no-profiles.toml"))
        .env_remove("NO_COLOR")
        .envs(env.iter().copied())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn on_a_terminal(server: &MockServer, dir: &Path, columns: u16, args: &[&str]) -> Vec<String> {
    let text = terminal_raw(server, dir, columns, args, &[]);
    let mut plain = String::new();
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '\x1b' {
            // A CSI sequence: ESC [ params letter.
            if chars.peek() == Some(&'[') {
                chars.next();
                for c in chars.by_ref() {
                    if c.is_ascii_alphabetic() {
                        break;
                    }
                }
            }
            plain.push('\n');
        } else {
            plain.push(c);
        }
    }
    plain
        .split(['\r', '\n'])
        .filter(|piece| !piece.trim().is_empty())
        .map(str::to_owned)
        .collect()
}

#[test]
fn bars_fit_the_terminal_and_a_finished_one_keeps_its_rate() {
    let server = simulator();
    server.register(
        MockWorkflow::new("big")
            .outputs(["image"])
            .queued_for(Duration::ZERO)
            .duration(Duration::from_millis(300))
            .output_size(8 << 20),
    );
    server.throttle_downloads(Some((256 * 1024, Duration::from_millis(5))));
    let dir = workdir("terminal");
    std::fs::write(dir.join("in.png"), {
        let mut png = b"\x89PNG\r\n\x1a\n".to_vec();
        png.resize(4 << 20, 1);
        png
    })
    .unwrap();
    let args = |out: &'static str| {
        [
            "run",
            "big",
            "-i",
            "image=@in.png",
            "--poll",
            "100ms",
            "-o",
            out,
            "--no-check",
        ]
    };
    // 40 columns: every bar on one line of the terminal.
    let drawn = on_a_terminal(&server, &dir, 40, &args("narrow"));
    let bars: Vec<&String> = drawn.iter().filter(|p| p.contains("] ")).collect();
    assert!(!bars.is_empty(), "{drawn:?}");
    for bar in &bars {
        // A bar as wide as the terminal leaves the cursor in its last column: the next
        // result line starts on a line of its own there, but is joined to it here.
        let bar = bar.split("saved ").next().unwrap_or(bar);
        assert!(bar.chars().count() <= 40, "{bar:?} passes 40 columns");
    }
    // 120 columns: the bytes and the rate; once complete, the rate is the download's own
    // and stays as it was (it does not fall while the tool goes on).
    let drawn: Vec<String> = on_a_terminal(&server, &dir, 120, &args("wide"))
        .into_iter()
        .map(|p| p.split("saved ").next().unwrap_or(&p).to_owned())
        .collect();
    let done: Vec<&String> = drawn
        .iter()
        .filter(|p| p.contains("8.00 MiB/8.00 MiB"))
        .collect();
    assert!(done.len() >= 2, "{drawn:?}");
    // The first complete frame may be drawn live; every one after is the frozen bar.
    let rates: std::collections::HashSet<&str> = done[1..]
        .iter()
        .filter_map(|p| p.trim_end().rsplit(' ').next())
        .collect();
    assert_eq!(rates.len(), 1, "a finished bar's rate changed: {done:?}");
    assert!(drawn.iter().all(|p| p.chars().count() <= 120), "{drawn:?}");
    // While nothing moves, the spinner says what the tool waits for.
    assert!(
        drawn
            .iter()
            .any(|p| p.contains("waiting for the pod to accept the run")),
        "{drawn:?}"
    );
}

#[test]
fn a_batch_table_fits_a_narrow_terminal() {
    let server = simulator();
    let dir = workdir("narrow-table");
    std::fs::create_dir_all(dir.join("photos")).unwrap();
    for i in 0..3 {
        std::fs::copy(
            fixture("cat.png"),
            dir.join(format!("photos/a-long-photo-name-{i}.png")),
        )
        .unwrap();
    }
    let args = [
        "batch",
        "demo-img2img",
        "--each",
        "image_35728=photos/",
        "-i",
        "text_51536=a cat",
        "--poll",
        "100ms",
        "-o",
        "out",
    ];
    let drawn = on_a_terminal(&server, &dir, 40, &args);
    let table: Vec<&String> = drawn
        .iter()
        .filter(|p| p.starts_with("JOB") || p.starts_with("a-long"))
        .collect();
    assert_eq!(table.len(), 4, "{drawn:?}");
    for row in table {
        assert!(
            row.trim_end().chars().count() <= 40,
            "{row:?} passes 40 columns"
        );
    }
}

/// `PUT` (with a JSON body) or `DELETE` on the simulator's own catalog route.
fn edit_catalog(server: &MockServer, method: &str, id: &str, body: &str) {
    let url = format!("{}/_mock/workflows/{id}", server.url());
    let answer = match method {
        "PUT" => ureq::put(&url)
            .header("content-type", "application/json")
            .send(body),
        _ => ureq::delete(&url).call(),
    };
    assert_eq!(answer.unwrap().status(), 200);
}

#[test]
fn lock_writes_what_the_pod_runs_and_check_names_every_change_to_its_catalog() {
    let server = simulator();
    let dir = workdir("lock");
    let (code, out, err) = run(flowscale(&server, &dir).args(["lock"]));
    assert_eq!(code, 0, "{err}");
    assert!(
        out.starts_with("wrote flowscale.lock: 6 workflow(s)"),
        "{out}"
    );
    let lock = std::fs::read_to_string(dir.join("flowscale.lock")).unwrap();
    assert!(lock.contains("version = 1\n"), "{lock}");
    assert!(
        lock.contains("{ name = \"image_35728\", kind = \"image\" },"),
        "{lock}"
    );
    let (code, out, err) = run(flowscale(&server, &dir).args(["lock", "--check"]));
    assert_eq!(
        (code, out.trim()),
        (0, "the pod matches flowscale.lock"),
        "{err}"
    );

    // A redeploy: the image node renumbered, the seed made text, a workflow dropped.
    edit_catalog(
        &server,
        "PUT",
        "demo-img2img",
        r#"{"name": "Image to Image", "inputs": {"text_51536": "string", "image_40112": "image"},
            "outputs": ["filename_prefix", "preview"]}"#,
    );
    edit_catalog(
        &server,
        "PUT",
        "bncu0a1kipv",
        r#"{"name": "Text to Image", "description": "Renders an image from a prompt.",
            "inputs": {"text_51536": "string", "seed_3": "string"}, "outputs": ["filename_prefix"]}"#,
    );
    edit_catalog(&server, "DELETE", "failing", "");
    let (code, out, err) = run(flowscale(&server, &dir).args(["lock", "--check"]));
    assert_eq!(code, 9, "{out}{err}");
    assert_eq!(
        out.lines().collect::<Vec<_>>(),
        [
            "bncu0a1kipv: input `seed_3` changed kind from number to text",
            "demo-img2img: input `image_35728` (image) renamed `image_40112` (a guess: `image_35728` removed, `image_40112` added)",
            "failing: workflow gone from the pod",
        ]
    );
    assert!(
        err.contains("the pod differs from flowscale.lock in 3 way(s)"),
        "{err}"
    );
    let (code, out, _) = run(flowscale(&server, &dir).args(["lock", "--check", "--json"]));
    assert_eq!(code, 9);
    let doc = json(&out);
    assert_eq!(doc["matches"], false);
    assert_eq!(doc["changes"][1]["change"], "input_renamed");
    assert_eq!(doc["changes"][1]["from"], "image_35728");
    assert_eq!(doc["changes"][1]["to"], "image_40112");
    assert_eq!(doc["changes"].as_array().unwrap().len(), 3);

    // Checked for some workflows only: the others' changes are not theirs.
    let (code, out, err) = run(flowscale(&server, &dir).args(["lock", "--check", "wf1", "quick"]));
    assert_eq!(
        (code, out.trim()),
        (0, "the pod matches flowscale.lock"),
        "{err}"
    );
    // A lock of some workflows, in a file of its own; a workflow the pod lacks is refused.
    let (code, _, err) =
        run(flowscale(&server, &dir).args(["lock", "wf1", "--file", "sub/wf1.lock"]));
    assert_eq!(code, 0, "{err}");
    let sub = std::fs::read_to_string(dir.join("sub/wf1.lock")).unwrap();
    assert!(
        sub.contains("complete = false") && !sub.contains("bncu0a1kipv"),
        "{sub}"
    );
    let (code, _, err) = run(flowscale(&server, &dir).args(["lock", "no-such-workflow"]));
    assert_eq!(code, 7, "{err}");
    let (code, _, err) =
        run(flowscale(&server, &dir).args(["lock", "--check", "--file", "none.lock"]));
    assert_eq!(code, 2, "no lock to check: a usage error: {err}");
    assert!(
        err.contains("write it first with `flowscale lock`"),
        "{err}"
    );
}

/// Issue 42's bar, through the simulator holding back the submission's answer past the
/// tool's response timeout: an earlier run with more inputs, or (no inputs) an earlier run
/// of the workflow, is never taken for the lost answer's; the tool's own run is, and it
/// says so on stderr and in `--json`.
#[test]
fn a_lost_answer_is_never_taken_for_an_earlier_run() {
    let server = simulator();
    let dir = workdir("lost-not-earlier");
    let run_with = |inputs: &[&str]| {
        let mut cmd = flowscale(&server, &dir);
        cmd.args([
            "run",
            "bncu0a1kipv",
            "--no-download",
            "--poll",
            "50ms",
            "--json",
        ]);
        for input in inputs {
            cmd.args(["-i", input]);
        }
        cmd.args(["--response-timeout", "1s"]);
        cmd
    };
    // An earlier run with one input more (a seed), answered as usual.
    let (code, out, err) = run(&mut run_with(&["text_51536=a fox", "seed_3=1"]));
    assert_eq!(code, 0, "{out}{err}");
    let earlier = json(&out)["run_id"].as_str().unwrap().to_owned();
    // The same without the seed, its answer lost: its own run is found, not the earlier.
    server.fail_next(
        Route::Execute,
        1,
        Fault::DelayAnswer(Duration::from_secs(20)),
    );
    let (code, out, err) = run(&mut run_with(&["text_51536=a fox"]));
    assert_eq!(code, 0, "{out}{err}");
    let doc = json(&out);
    let runs = server.runs();
    assert_eq!(runs.len(), 2);
    assert_ne!(doc["run_id"], earlier.as_str(), "{doc}");
    assert_eq!(doc["run_id"], runs[1].id.as_str(), "{doc}");
    assert!(
        doc["recovered"]
            .as_str()
            .unwrap()
            .contains("exactly the 1 field(s) sent"),
        "{doc}"
    );
    assert!(
        err.contains(&format!("run {} was found as its run", runs[1].id)),
        "the recovery is said: {err}"
    );

    // With --events, the recovery is an event of its own, before `submitted`.
    server.fail_next(
        Route::Execute,
        1,
        Fault::DelayAnswer(Duration::from_secs(20)),
    );
    let (code, out, err) = run(flowscale(&server, &dir).args([
        "run",
        "bncu0a1kipv",
        "-i",
        "text_51536=an owl",
        "--no-download",
        "--poll",
        "50ms",
        "--events",
        "--response-timeout",
        "1s",
    ]));
    assert_eq!(code, 0, "{out}{err}");
    let recovered = out
        .lines()
        .map(json)
        .find(|e| e["event"] == "recovered")
        .unwrap_or_else(|| panic!("no recovered event: {out}"));
    assert_eq!(
        recovered["run_id"],
        server.runs().last().unwrap().id.as_str()
    );
    assert!(
        recovered["why"].as_str().unwrap().contains("created at"),
        "{recovered}"
    );

    // A workflow without inputs: an earlier run of it (two seconds before) is not ours.
    let no_inputs = |extra: &[&str]| {
        let mut cmd = flowscale(&server, &dir);
        cmd.args(["run", "wf1", "--no-download", "--poll", "50ms", "--json"])
            .args(["--response-timeout", "1s"])
            .args(extra);
        cmd
    };
    let (code, out, err) = run(&mut no_inputs(&[]));
    assert_eq!(code, 0, "{out}{err}");
    let earlier = json(&out)["run_id"].as_str().unwrap().to_owned();
    std::thread::sleep(Duration::from_millis(2100));
    server.fail_next(
        Route::Execute,
        1,
        Fault::DelayAnswer(Duration::from_secs(20)),
    );
    let (code, out, err) = run(&mut no_inputs(&[]));
    assert_eq!(code, 0, "{out}{err}");
    let found = json(&out)["run_id"].as_str().unwrap().to_owned();
    assert_ne!(found, earlier);
    assert_eq!(found, server.runs().last().unwrap().id);

    // Its answer lost and its run not listed yet (the list fails): exit 5, never the
    // earlier run, and the look is said.
    std::thread::sleep(Duration::from_millis(2100));
    server.fail_next(
        Route::Execute,
        1,
        Fault::DelayAnswer(Duration::from_secs(20)),
    );
    server.fail_next(Route::RunList, 100, Fault::Status(503));
    let (code, out, err) = run(&mut no_inputs(&[]));
    assert_eq!(code, 5, "{out}{err}");
    assert!(
        !out.contains(&earlier) && !err.contains(&earlier),
        "{out}{err}"
    );
}

/// Issue 42's bar: Ctrl-C after the whole body went out, to a pod that does not answer,
/// never says "nothing is paid for": the tool looks for the run and names it (exit 130 with
/// the line that resumes it), or, when it cannot be found for certain, says a run may exist
/// and how to look (exit 5, in `--json` too).
#[test]
fn ctrl_c_after_the_body_went_out_names_the_possible_run() {
    let server = simulator();
    let dir = workdir("interrupt-whole");
    // `run slow -i a=VALUE`, its answer held back: Ctrl-C once the pod has its run.
    let interrupted = |value: &str, json_mode: bool| {
        server.fail_next(
            Route::Execute,
            1,
            Fault::DelayAnswer(Duration::from_secs(60)),
        );
        let before = server.runs().len();
        let mut cmd = flowscale(&server, &dir);
        cmd.args([
            "run",
            "slow",
            "-i",
            &format!("a={value}"),
            "--poll",
            "100ms",
        ]);
        if json_mode {
            cmd.arg("--json");
        }
        let child = spawned(&mut cmd);
        let start = Instant::now();
        while server.runs().len() == before && start.elapsed() < Duration::from_secs(60) {
            std::thread::sleep(Duration::from_millis(5));
        }
        signal(&child, "INT");
        let output = child.wait_with_output().unwrap();
        let err = String::from_utf8(output.stderr).unwrap();
        assert!(!err.contains("nothing is paid"), "{err}");
        let id = server.runs()[before].id.clone();
        (
            output.status.code(),
            String::from_utf8(output.stdout).unwrap(),
            err,
            id,
        )
    };
    // The pod never answers: after a moment for the answer, the run that matches is named
    // as the one it may be (the answer not come, it cannot be certain), exit 5.
    for (n, json_mode) in [(0, false), (1, true)] {
        let (code, out, err, id) = interrupted(&format!("never-{n}"), json_mode);
        assert_eq!(code, Some(5), "{err}");
        assert!(err.contains("a run may exist"), "{err}");
        assert!(
            err.contains(&format!("it may be {id}")),
            "the run is named: {err}"
        );
        if json_mode {
            let doc = json(out.trim());
            assert_eq!(doc["candidates"][0], id.as_str(), "{doc}");
        }
    }

    // The runs cannot be listed either: a run may exist, exit 5, with the line to look.
    for json_mode in [false, true] {
        server.fail_next(Route::RunList, 100, Fault::Status(503));
        let (code, out, err, _) = interrupted("unlisted", json_mode);
        assert_eq!(code, Some(5), "{err}");
        assert!(err.contains("a run may exist"), "{err}");
        assert!(err.contains("flowscale runs --since"), "{err}");
        if json_mode {
            let doc = json(out.trim());
            assert_eq!(doc["exit_code"], 5, "{doc}");
            assert!(doc["since"].is_string(), "{doc}");
        }
    }
}

/// Issue 42's bar: a batch interrupted while three large uploads are going out stops every
/// one of them: no body arrives whole, no run is created, the jobs stay not started, and
/// the same command run again submits them.
#[test]
fn a_batch_interrupted_mid_upload_stops_every_upload() {
    let server = simulator();
    let dir = workdir("batch-interrupt-upload");
    let mut png = b"\x89PNG\r\n\x1a\n".to_vec();
    png.resize(25 << 20, 0);
    let mut jobs = String::new();
    for i in 0..3 {
        std::fs::write(dir.join(format!("in{i}.png")), &png).unwrap();
        jobs.push_str(&format!(
            "{{\"name\": \"j{i}\", \"text_51536\": \"a\", \"image_35728\": \"@in{i}.png\"}}\n"
        ));
    }
    std::fs::write(dir.join("jobs.jsonl"), jobs).unwrap();
    // The pod reads each body only after 5 s: the uploads are still going out at the signal.
    server.fail_next(Route::Execute, 3, Fault::Delay(Duration::from_secs(5)));
    let args = [
        "batch",
        "demo-img2img",
        "--jobs",
        "jobs.jsonl",
        "--concurrency",
        "3",
        "-o",
        "out",
        "--poll",
        "100ms",
    ];
    let child = spawned(flowscale(&server, &dir).args(args));
    interrupt_after_submissions(&server, &child, 3);
    let output = child.wait_with_output().unwrap();
    let err = String::from_utf8(output.stderr).unwrap();
    assert_eq!(output.status.code(), Some(130), "{err}");
    // Past the pod's delay: a body cut short starts nothing.
    std::thread::sleep(Duration::from_secs(6));
    assert!(
        server.runs().is_empty(),
        "a stopped upload became a run: {err}"
    );
    assert!(
        server.requests().iter().all(|r| r.files.is_empty()),
        "no upload arrived whole"
    );
    let (code, out, err) = run(flowscale(&server, &dir).args(args));
    assert_eq!(code, 0, "{out}{err}");
    assert_eq!(
        server.runs().len(),
        3,
        "each job paid once, on the second run"
    );
}

/// Issue 42's bar: a batch on a workflow the pod does not have is not "failed on
/// FlowScale": nothing is paid (the catalog says so first, or, unchecked, the first 404
/// stops the batch with its jobs not started), and once the workflow exists the same
/// command completes it.
#[test]
fn a_batch_on_an_unknown_workflow_pays_nothing_and_runs_once_it_exists() {
    let server = simulator();
    let dir = workdir("batch-unknown-workflow");
    std::fs::write(
        dir.join("jobs.jsonl"),
        "{\"a\": 1}\n{\"a\": 2}\n{\"a\": 3}\n",
    )
    .unwrap();
    let args = [
        "batch",
        "later",
        "--jobs",
        "jobs.jsonl",
        "-o",
        "out",
        "--poll",
        "50ms",
    ];
    let (code, out, err) = run(flowscale(&server, &dir).args(args));
    assert_eq!(code, 7, "{out}{err}");
    assert!(
        !err.contains("failed on FlowScale") && !err.contains("--retry-failed"),
        "{err}"
    );
    assert_eq!(executes(&server), 0, "the catalog said it first");
    // Unchecked, the pod's 404 for the first job stops the batch: the jobs stay not started.
    let (code, out, err) =
        run(flowscale(&server, &dir)
            .args(args)
            .args(["--no-check", "--concurrency", "1"]));
    assert_eq!(code, 7, "{out}{err}");
    assert!(
        !err.contains("failed on FlowScale") && !err.contains("--retry-failed"),
        "{err}"
    );
    assert_eq!(
        executes(&server),
        1,
        "one submission, then the batch stopped"
    );
    assert!(server.runs().is_empty());
    server.register(MockWorkflow::new("later").duration(Duration::from_millis(50)));
    let (code, out, err) = run(flowscale(&server, &dir).args(args));
    assert_eq!(code, 0, "{out}{err}");
    assert_eq!(server.runs().len(), 3);
}

/// Issue 42's bar: a catalog that never answers is followed by no submission; the run is
/// refused before anything is sent, and running it again is safe.
#[test]
fn a_catalog_that_never_answers_is_followed_by_no_submission() {
    let server = simulator();
    let dir = workdir("catalog-hangs");
    server.fail_next(Route::Workflows, 100, Fault::Delay(Duration::from_secs(30)));
    let (code, out, err) = run(flowscale(&server, &dir).args([
        "run",
        "bncu0a1kipv",
        "-i",
        "text_51536=a cat",
        "--response-timeout",
        "1s",
    ]));
    assert_ne!(code, 0, "{out}{err}");
    assert!(
        err.contains("catalog could not be read, so nothing was sent"),
        "{err}"
    );
    assert!(err.contains("safe"), "{err}");
    assert_eq!(executes(&server), 0);
}

/// Standard input for an image input is checked by its first bytes as a file is: text is
/// refused (exit 2) before anything is sent.
#[test]
fn standard_input_of_the_wrong_kind_is_refused_before_paying() {
    let server = simulator();
    let dir = workdir("stdin-kind");
    let mut child = flowscale(&server, &dir)
        .args([
            "run",
            "demo-img2img",
            "-i",
            "text_51536=a cat",
            "-i",
            "image_35728=@-",
        ])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    use std::io::Write;
    child
        .stdin
        .take()
        .unwrap()
        .write_all(b"just some text, not a picture")
        .unwrap();
    let output = child.wait_with_output().unwrap();
    let err = String::from_utf8(output.stderr).unwrap();
    assert_eq!(output.status.code(), Some(2), "{err}");
    assert!(err.contains("standard input is not an image"), "{err}");
    assert_eq!(executes(&server), 0);
    assert!(server.runs().is_empty());
}

/// Issue 42: a batch run again with another `--group` (or changed inputs) says, before
/// paying, how many jobs are new and how many recorded ones no longer match.
#[test]
fn a_batch_whose_group_changed_says_how_many_jobs_are_new_before_paying() {
    let server = simulator();
    let dir = workdir("batch-group-changed");
    std::fs::write(dir.join("jobs.jsonl"), "{\"a\": 1}\n{\"a\": 2}\n").unwrap();
    let batch = |group: &str| {
        let mut cmd = flowscale(&server, &dir);
        cmd.args([
            "batch",
            "quick",
            "--jobs",
            "jobs.jsonl",
            "-o",
            "out",
            "--poll",
            "50ms",
        ])
        .args(["--group", group]);
        cmd
    };
    let (code, out, err) = run(&mut batch("first"));
    assert_eq!(code, 0, "{out}{err}");
    assert!(!err.contains("match no job"), "{err}");
    let (code, out, err) = run(&mut batch("second"));
    assert_eq!(code, 0, "{out}{err}");
    assert!(
        err.contains("2 new job(s) to submit") && err.contains("2 recorded job(s) match no job"),
        "{err}"
    );
    assert_eq!(server.runs().len(), 4);
}

/// Issue 42: no manifest content panics the batch: a submission recorded as sent past the
/// year 9999 is a run to look for, said as such (exit 5), never exit 101.
#[test]
fn a_manifest_time_past_the_year_9999_is_no_crash() {
    let server = simulator();
    let dir = workdir("manifest-far-future");
    std::fs::write(dir.join("jobs.jsonl"), "{\"name\": \"one\", \"a\": 1}\n").unwrap();
    let args = [
        "batch",
        "quick",
        "--jobs",
        "jobs.jsonl",
        "-o",
        "out",
        "--poll",
        "50ms",
    ];
    let (code, out, err) = run(flowscale(&server, &dir).args(args));
    assert_eq!(code, 0, "{out}{err}");
    // The job's line again, as a submission sent at an absurd time whose answer was lost.
    let manifest = dir.join("out").join(flowscale::constants::MANIFEST_FILE);
    let text = std::fs::read_to_string(&manifest).unwrap();
    let mut line: Value = serde_json::from_str(text.lines().last().unwrap()).unwrap();
    line["status"] = "submitted".into();
    line["run_id"] = Value::Null;
    line["saved"] = serde_json::json!([]);
    line["sent_at"] = serde_json::json!(u64::MAX / 2);
    std::fs::write(&manifest, format!("{text}{line}\n")).unwrap();
    let (code, out, err) = run(flowscale(&server, &dir).args(args));
    assert_eq!(code, 5, "{out}{err}");
    assert!((out.clone() + &err).contains("9999-12-31"), "{out}{err}");
    assert_eq!(server.runs().len(), 1, "nothing paid again");
}

/// Issue 42: the manifest records each run's pod; a recorded run another pod does not know
/// is said to be the first pod's (exit 5), not left "submitted" for ever, and is paid for
/// again only when asked.
#[test]
fn a_recorded_run_another_pod_does_not_know_is_said_to_be_its_pods() {
    let first = simulator();
    let second = simulator();
    let dir = workdir("batch-other-pod");
    std::fs::write(dir.join("jobs.jsonl"), "{\"name\": \"one\", \"a\": 1}\n").unwrap();
    let args = [
        "batch",
        "slow",
        "--jobs",
        "jobs.jsonl",
        "-o",
        "out",
        "--poll",
        "50ms",
    ];
    // Submitted on the first pod, not waited for to the end.
    let (code, out, err) = run(flowscale(&first, &dir).args(args).args(["--timeout", "1s"]));
    assert_eq!(code, 3, "{out}{err}");
    let manifest =
        std::fs::read_to_string(dir.join("out").join(flowscale::constants::MANIFEST_FILE)).unwrap();
    assert!(
        manifest.contains(&format!("\"pod\":\"{}\"", first.url())),
        "{manifest}"
    );
    let (code, out, err) = run(flowscale(&second, &dir)
        .args(args)
        .args(["--timeout", "1s"]));
    assert_eq!(code, 5, "{out}{err}");
    assert!(
        (out.clone() + &err).contains(&format!("recorded for the pod at {}", first.url())),
        "{out}{err}"
    );
    assert!(second.runs().is_empty(), "nothing paid on the second pod");
    let (code, out, err) =
        run(flowscale(&second, &dir)
            .args(args)
            .args(["--timeout", "1s", "--resubmit-unknown"]));
    assert_eq!(code, 3, "{out}{err}");
    assert_eq!(second.runs().len(), 1, "submitted again when asked");
}

/// Issue 43's bar, on the real binary: `-i 'NAME=<file'` sends a file's text; a dumb
/// terminal gets no escape codes; `lock --check` passes when a workflow was only added
/// (and fails with --strict); a batch's `saved` events name their job and run; `runs`
/// against a pod that lists runs only by group says how to ask it.
#[test]
fn daily_driver_inputs_terminals_locks_and_events() {
    let server = simulator();
    let dir = workdir("daily-driver");
    // A long prompt from a file; `<<` for a literal `<`.
    std::fs::write(
        dir.join("prompt.txt"),
        "a lighthouse at dusk,\nwatercolor\n",
    )
    .unwrap();
    let (code, out, err) = run(flowscale(&server, &dir).args([
        "run",
        "bncu0a1kipv",
        "-i",
        "text_51536=<prompt.txt",
        "-i",
        "seed_3=<<7",
        "--no-wait",
        "--no-check",
    ]));
    assert_eq!(code, 0, "{out}{err}");
    let fields = &server.runs()[0].fields;
    assert!(
        fields.contains(&(
            "text_51536".to_owned(),
            "a lighthouse at dusk,\nwatercolor".to_owned()
        )),
        "{fields:?}"
    );
    assert!(
        fields.contains(&("seed_3".to_owned(), "<7".to_owned())),
        "{fields:?}"
    );
    let (code, _, err) =
        run(flowscale(&server, &dir).args(["run", "bncu0a1kipv", "-i", "text_51536=<missing.txt"]));
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("missing.txt"), "{err}");

    // TERM=dumb: bars, spinner and colour off; the results still there.
    let raw = terminal_raw(
        &server,
        &dir,
        80,
        &["run", "quick", "-i", "a=1", "--poll", "50ms", "-o", "dumb"],
        &[("TERM", "dumb")],
    );
    assert!(
        !raw.contains('\x1b'),
        "escape codes on a dumb terminal: {raw:?}"
    );
    assert!(raw.contains("saved"), "{raw}");

    // A workflow only added to the pod: reported, passes; --strict fails.
    let (code, out, err) = run(flowscale(&server, &dir).args(["lock"]));
    assert_eq!(code, 0, "{out}{err}");
    server.register(MockWorkflow::new("added-later"));
    let (code, out, err) = run(flowscale(&server, &dir).args(["lock", "--check"]));
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("added-later"), "{out}");
    let (code, out, err) = run(flowscale(&server, &dir).args(["lock", "--check", "--strict"]));
    assert_eq!(code, 9, "{out}{err}");

    // A batch's files as they land, each named with its job and run.
    std::fs::write(dir.join("jobs.jsonl"), "{\"name\": \"one\", \"a\": 1}\n").unwrap();
    let (code, out, err) = run(flowscale(&server, &dir).args([
        "batch",
        "quick",
        "--jobs",
        "jobs.jsonl",
        "-o",
        "b",
        "--poll",
        "50ms",
        "--events",
    ]));
    assert_eq!(code, 0, "{out}{err}");
    let saved: Vec<Value> = out
        .lines()
        .map(json)
        .filter(|e| e["event"] == "saved")
        .collect();
    assert_eq!(saved.len(), 2, "{out}");
    for event in &saved {
        assert_eq!(event["job"], "one", "{event}");
        assert!(event["run_id"].is_string(), "{event}");
    }

    // The error document: the exit code by number and name, the run's status, the hint.
    let (code, out, _) =
        run(flowscale(&server, &dir)
            .args(["run", "failing", "-i", "a=1", "--poll", "50ms", "--json"]));
    assert_eq!(code, 8);
    let doc = json(out.lines().last().unwrap());
    assert_eq!(doc["code"], "run_failed", "{doc}");
    assert_eq!(doc["status"], "failed", "{doc}");
    assert!(doc.get("hint").is_some(), "{doc}");

    // Runs since a date; a page past the last is a mistake; --all has no page meta.
    let (code, out, err) =
        run(flowscale(&server, &dir).args(["runs", "--since", "2020-01-01", "--json"]));
    assert_eq!(code, 0, "{out}{err}");
    assert!(!json(&out)["runs"].as_array().unwrap().is_empty(), "{out}");
    let (code, _, err) = run(flowscale(&server, &dir).args(["runs", "--page", "9999"]));
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("past the last page"), "{err}");
    let (code, out, _) = run(flowscale(&server, &dir).args(["runs", "--all", "--json"]));
    assert_eq!(code, 0);
    assert!(json(&out).get("meta").is_none(), "{out}");

    // The manual: examples and exit codes line for line, --json a document, --dir makes
    // only the folder itself.
    let (code, out, _) = run(flowscale(&server, &dir).args(["man"]));
    assert_eq!(code, 0);
    assert!(
        out.contains(".nf\nExample:\n  flowscale health\n"),
        "{}",
        &out[..out.len().min(2000)]
    );
    let (code, out, _) = run(flowscale(&server, &dir).args(["man", "--json"]));
    assert_eq!(code, 0);
    let pages = json(&out)["pages"].as_array().unwrap().len();
    assert!(pages > 10, "{pages}");
    let (code, _, err) = run(flowscale(&server, &dir).args(["man", "--dir", "no/such/folder"]));
    assert_ne!(code, 0, "{err}");
    assert!(!dir.join("no").exists(), "a tree of folders was made");

    // A pod chosen by ./.env is said.
    let env_dir = dir.join("with-dotenv");
    std::fs::create_dir_all(&env_dir).unwrap();
    std::fs::write(
        env_dir.join(".env"),
        format!(
            "FLOWSCALE_API_URL={}\nFLOWSCALE_API_KEY={SECRET}\n",
            server.url()
        ),
    )
    .unwrap();
    let (code, _, err) = run(flowscale(&server, &env_dir)
        .env_remove("FLOWSCALE_API_URL")
        .env_remove("FLOWSCALE_API_KEY")
        .args(["health"]));
    assert_eq!(code, 0, "{err}");
    assert!(
        err.contains(&format!("using the pod {} from ./.env", server.url())),
        "{err}"
    );

    // A refused run leaves no -o folder; an input the catalog requires and the run leaves
    // out is refused before the upload (no "not given" note on every run).
    let (code, _, err) = run(flowscale(&server, &dir).args([
        "run",
        "bncu0a1kipv",
        "-i",
        "text_5153=typo",
        "-o",
        "never-made",
    ]));
    assert_eq!(code, 2, "{err}");
    assert!(
        !dir.join("never-made").exists(),
        "a refused run made its -o folder"
    );
    let (code, _, err) = run(flowscale(&server, &dir).args([
        "run",
        "bncu0a1kipv",
        "-i",
        "text_51536=x",
        "--no-wait",
    ]));
    assert_eq!(code, 0, "{err}");
    assert!(!err.contains("not given"), "{err}");

    // The JSON Schema of the documents and events (CI checks them against it).
    let (code, out, _) = run(flowscale(&server, &dir).arg("schema"));
    assert_eq!(code, 0);
    let schema = json(&out);
    assert!(schema["$defs"]["event"].is_object() && schema["$defs"]["document"].is_object());

    // --version names the features built in; a request with no answer in time hints the URL.
    let (_, out, _) = run(flowscale(&server, &dir).arg("--version"));
    assert!(out.contains("features: cli, mock"), "{out}");
    server.fail_next(Route::Health, 100, Fault::Delay(Duration::from_secs(10)));
    let (code, _, err) =
        run(flowscale(&server, &dir).args(["health", "--response-timeout", "300ms"]));
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("check the API URL"), "{err}");

    // --no-wait saves nothing and waits for nothing: -o, --timeout with it are refused.
    for extra in [&["-o", "x"][..], &["--timeout", "5m"]] {
        let (code, _, err) = run(flowscale(&server, &dir)
            .args(["run", "quick", "-i", "a=1", "--no-wait"])
            .args(extra));
        assert_eq!(code, 2, "{extra:?}: {err}");
        assert!(err.contains("cannot be used with"), "{err}");
    }
    // A form of text gets no upload bar on a terminal.
    let raw = terminal_raw(
        &server,
        &dir,
        100,
        &[
            "run", "quick", "-i", "a=1", "--poll", "50ms", "-o", "textonly",
        ],
        &[],
    );
    assert!(
        !raw.contains("upload"),
        "an upload bar for a few bytes: {raw:?}"
    );

    // Off a terminal (a CI log), a batch for people says each job's changes as lines, with
    // the time since the start; so does a run.
    std::fs::write(dir.join("jobs2.jsonl"), "{\"name\": \"two\", \"a\": 2}\n").unwrap();
    let (code, out, err) = run(flowscale(&server, &dir).args([
        "batch",
        "quick",
        "--jobs",
        "jobs2.jsonl",
        "-o",
        "lines",
        "--poll",
        "50ms",
    ]));
    assert_eq!(code, 0, "{out}{err}");
    assert!(err.contains("] two: submitted run "), "{err}");
    assert!(err.contains("] two: completed"), "{err}");
    let (code, out, err) = run(flowscale(&server, &dir)
        .args(["run", "quick", "-i", "a=3", "--poll", "50ms", "-o", "lines"]));
    assert_eq!(code, 0, "{out}{err}");
    assert!(
        err.contains("[00:0") && err.contains("finished: completed"),
        "{err}"
    );

    // Tables are measured in terminal cells: a CJK name keeps the columns aligned.
    edit_catalog(
        &server,
        "PUT",
        "cjk",
        r#"{"name": "猫の画像", "inputs": {"text_1": "string"}, "outputs": ["image"]}"#,
    );
    let (code, out, _) = run(flowscale(&server, &dir).args(["workflows"]));
    assert_eq!(code, 0);
    let column = |line: &str, at: &str| {
        let start = line.find(at).unwrap_or_else(|| panic!("{at} in {line}"));
        unicode_width::UnicodeWidthStr::width(&line[..start])
    };
    let header = out.lines().next().unwrap();
    let row = out.lines().find(|l| l.starts_with("cjk")).unwrap();
    assert_eq!(column(header, "INPUTS"), column(row, "text_1"), "{out}");

    // A pod that follows the OpenAPI file to the letter lists runs only by group.
    server.serve_shapes(flowscale::mock::Shapes::Spec);
    let (code, _, err) = run(flowscale(&server, &dir).args(["runs", "--since", "1h"]));
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("--group"), "{err}");
}

/// `flowscale mock` with `args` on a free port, in `dir`, once it accepts connections: the
/// process (kill it when done) and its URL.
fn mock_process(dir: &Path, args: &[&str]) -> (std::process::Child, String) {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut child = Command::new(env!("CARGO_BIN_EXE_flowscale"))
        .args(["mock", "--port", &port.to_string()])
        .args(args)
        .current_dir(dir)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let start = Instant::now();
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        if let Ok(Some(status)) = child.try_wait() {
            let out = child.wait_with_output().unwrap();
            panic!(
                "the simulator exited ({status}): {}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "the simulator did not come up"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    (child, format!("http://127.0.0.1:{port}"))
}

/// Issue 43's bar: `flowscale mock` takes a latency and sizes with units, and zero run time.
#[test]
fn the_simulator_takes_latency_sizes_with_units_and_zero_run_time() {
    let dir = workdir("mock-flags");
    let (mut child, url) = mock_process(
        &dir,
        &[
            "--latency",
            "200ms",
            "--output-size",
            "2GB",
            "--run-time",
            "0s",
        ],
    );
    // Every answer waits at least the latency.
    let asked = Instant::now();
    let health = ureq::get(&format!("{url}/api/v1/comfy/health"))
        .header("X-API-KEY", "mock-api-key")
        .call();
    assert!(asked.elapsed() >= Duration::from_millis(200));
    let _ = health;
    let _ = child.kill();
    let _ = child.wait();
    let (code, _, err) = run(Command::new(env!("CARGO_BIN_EXE_flowscale"))
        .current_dir(&dir)
        .args(["mock", "--output-size", "lots"]));
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("not a size like"), "{err}");
}

/// `flowscale mock --hold-answers` loses every submission's answer while its run exists:
/// the tool finds the run for certain, says so, and pays once.
#[test]
fn a_simulator_that_holds_answers_shows_a_recovery_from_the_shell() {
    let dir = workdir("mock-hold-answers");
    let (mut child, url) = mock_process(&dir, &["--hold-answers", "20s"]);
    let (code, out, err) = run(Command::new(env!("CARGO_BIN_EXE_flowscale"))
        .current_dir(&dir)
        .env("FLOWSCALE_API_URL", &url)
        .env("FLOWSCALE_API_KEY", "mock-api-key")
        .env("FLOWSCALE_CONFIG", dir.join("none.toml"))
        .args(["run", "wf1", "--no-download", "--poll", "50ms", "--json"])
        .args(["--response-timeout", "2s"]));
    let listed: Value = json(
        &ureq::get(&format!("{url}/api/v1/runs?page_size=100"))
            .header("X-API-KEY", "mock-api-key")
            .call()
            .unwrap()
            .body_mut()
            .read_to_string()
            .unwrap(),
    );
    let _ = child.kill();
    let _ = child.wait();
    assert_eq!(code, 0, "{out}{err}");
    assert!(err.contains("was found as its run"), "{err}");
    let runs = listed["data"]["runs"].as_array().unwrap();
    assert_eq!(runs.len(), 1, "paid once: {listed}");
    assert_eq!(json(&out)["run_id"], runs[0]["_id"], "{out}");
}

/// `flowscale mock --fault`: a status on a chosen route, 429 with Retry-After for a few
/// requests, a slow upload; bad specs refused.
#[test]
fn the_simulator_takes_faults_from_the_shell() {
    let dir = workdir("mock-faults");
    let (mut child, url) =
        mock_process(&dir, &["--fault", "health=503", "--fault", "runs=429:1*1"]);
    let tool = |args: &[&str]| {
        run(Command::new(env!("CARGO_BIN_EXE_flowscale"))
            .current_dir(&dir)
            .env("FLOWSCALE_API_URL", &url)
            .env("FLOWSCALE_API_KEY", "mock-api-key")
            .env("FLOWSCALE_CONFIG", dir.join("none.toml"))
            .args(args))
    };
    let (code, _, err) = tool(&["health"]);
    let (runs_code, runs_out, runs_err) = tool(&["runs", "--json"]);
    let _ = child.kill();
    let _ = child.wait();
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("503"), "{err}");
    // One 429 with Retry-After: 1, then the list.
    assert_eq!(runs_code, 0, "{runs_out}{runs_err}");
    for bad in ["nowhere=500", "health=teapot", "execute=500*x", "health"] {
        let (code, _, err) = run(Command::new(env!("CARGO_BIN_EXE_flowscale"))
            .current_dir(&dir)
            .args(["mock", "--fault", bad]));
        assert_eq!(code, 2, "{bad}: {err}");
    }
}

/// An interrupted `download` says how to resume it, and names its run in `--json`.
#[test]
fn an_interrupted_download_says_how_to_resume() {
    let server = simulator();
    let dir = workdir("download-interrupted");
    let (code, out, err) = run(flowscale(&server, &dir).args([
        "run",
        "quick",
        "-i",
        "a=1",
        "--no-download",
        "--poll",
        "50ms",
        "--json",
    ]));
    assert_eq!(code, 0, "{out}{err}");
    let run_id = json(&out)["run_id"].as_str().unwrap().to_owned();
    server.fail_next(Route::Download, 10, Fault::Delay(Duration::from_secs(30)));
    let child = spawned(flowscale(&server, &dir).args(["download", &run_id, "-o", "d", "--json"]));
    std::thread::sleep(Duration::from_millis(1000));
    signal(&child, "INT");
    let output = child.wait_with_output().unwrap();
    let err = String::from_utf8(output.stderr).unwrap();
    assert_eq!(output.status.code(), Some(130), "{err}");
    assert!(
        err.contains(&format!(
            "resume with: flowscale download {run_id} -o d --skip-existing"
        )),
        "{err}"
    );
    let doc = json(String::from_utf8(output.stdout).unwrap().trim());
    assert_eq!(doc["run_id"], run_id.as_str(), "{doc}");
}
