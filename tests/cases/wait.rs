//! The wait loop against scripted servers: mockito mocks for one route are used in order
//! of creation until each has had its expected hits, then the last one keeps answering.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::{Value, json};

use super::{Client, case, maybe_async, server};
use crate::common::{KEY, ok};
use flowscale::{Error, Inputs, RunEvent, RunStatus, WaitOptions};

const RUN: &str = "run-1";
const RUN_PATH: &str = "/api/v1/runs/run-1";

fn run(status: &str, names: &[&str]) -> String {
    ok(json!({"_id": RUN, "workflow_id": "wf1", "status": status, "output_names": names}))
}

fn ready(name: &str) -> String {
    ok(
        json!({"download_url": format!("https://s3.example/{name}.png"), "generation_status": "success"}),
    )
}

/// Fast polling, and a log of every event.
fn fast() -> (WaitOptions, Arc<Mutex<Vec<RunEvent>>>) {
    let events = Arc::new(Mutex::new(Vec::new()));
    let sink = events.clone();
    let options = WaitOptions::new()
        .poll_interval(Duration::from_millis(5))
        .timeout(Duration::from_secs(20))
        .on_event(move |e| sink.lock().unwrap().push(e.clone()));
    (options, events)
}

fn output_query(name: &str) -> mockito::Matcher {
    mockito::Matcher::UrlEncoded("filename".into(), name.into())
}

/// The run answers `status` and `names` for `hits` polls (`None`: from then on).
fn run_poll(
    server: &mut mockito::ServerGuard,
    status: &str,
    names: &[&str],
    hits: Option<usize>,
) -> mockito::Mock {
    let mock = server.mock("GET", RUN_PATH).with_body(run(status, names));
    match hits {
        Some(n) => mock.expect(n).create(),
        None => mock.create(),
    }
}

/// Output `name` answers `status` (200: ready, with a link) for `hits` requests.
fn output_poll(
    server: &mut mockito::ServerGuard,
    name: &str,
    status: usize,
    hits: Option<usize>,
) -> mockito::Mock {
    let mock = server
        .mock("GET", "/api/v1/runs/output")
        .match_query(output_query(name))
        .with_status(status);
    let mock = if status == 200 {
        mock.with_body(ready(name))
    } else {
        mock
    };
    match hits {
        Some(n) => mock.expect(n).create(),
        None => mock.create(),
    }
}

fn execute_answer(server: &mut mockito::ServerGuard, data: Value) -> mockito::Mock {
    server
        .mock("POST", "/api/v1/runs")
        .match_query(mockito::Matcher::UrlEncoded(
            "workflow_id".into(),
            "wf1".into(),
        ))
        .match_header("x-api-key", KEY)
        .with_body(ok(data))
        .expect(1)
        .create()
}

#[maybe_async]
#[case]
async fn one_output_with_every_event_in_order() {
    let mut server = server().await;
    let exec = execute_answer(&mut server, json!({"run_id": RUN, "workflow_id": "wf1"}));
    let queued = run_poll(&mut server, "queued", &[], Some(1));
    let running = run_poll(&mut server, "running", &["out_1"], Some(2));
    let done = run_poll(&mut server, "completed", &["out_1"], Some(1));
    let not_yet = output_poll(&mut server, "out_1", 204, Some(2));
    let out = output_poll(&mut server, "out_1", 200, Some(1));
    let (options, events) = fast();
    let client = Client::new(KEY, server.url()).unwrap();
    let result = client
        .execute_workflow_and_wait("wf1", Inputs::new().set("text_1", "hi"), &options)
        .await
        .unwrap();
    for m in [exec, queued, running, done, not_yet, out] {
        m.assert();
    }
    assert_eq!(result.run_id, RUN);
    assert_eq!(result.workflow_id.as_deref(), Some("wf1"));
    assert_eq!(result.outputs.len(), 1);
    assert_eq!(result.outputs[0].name, "out_1");
    assert_eq!(
        result.outputs[0].download_url,
        "https://s3.example/out_1.png"
    );
    let run_id = RUN.to_string();
    assert_eq!(
        *events.lock().unwrap(),
        vec![
            RunEvent::Submitted {
                run_id: run_id.clone()
            },
            RunEvent::StatusChanged {
                run_id: run_id.clone(),
                status: RunStatus::Queued
            },
            RunEvent::StatusChanged {
                run_id: run_id.clone(),
                status: RunStatus::Running
            },
            RunEvent::OutputNamesKnown {
                run_id: run_id.clone(),
                names: vec!["out_1".into()]
            },
            RunEvent::StatusChanged {
                run_id: run_id.clone(),
                status: RunStatus::Completed
            },
            RunEvent::OutputReady {
                run_id: run_id.clone(),
                name: "out_1".into(),
                download_url: "https://s3.example/out_1.png".into()
            },
            RunEvent::Finished {
                run_id,
                status: RunStatus::Completed
            },
        ]
    );
}

#[maybe_async]
#[case]
async fn old_style_execute_names_several_outputs_each_fetched_until_ready_only() {
    let mut server = server().await;
    let _exec = execute_answer(
        &mut server,
        json!({"run_id": RUN, "number": 3, "node_errors": {}, "output_names": ["b_out", "a_out"]}),
    );
    // The run never lists its outputs: the execute response's names are used.
    let runs = run_poll(&mut server, "running", &[], Some(3));
    let a = output_poll(&mut server, "a_out", 200, Some(1));
    let b_wait = output_poll(&mut server, "b_out", 204, Some(2));
    let b = output_poll(&mut server, "b_out", 200, Some(1));
    let (options, _) = fast();
    let result = Client::new(KEY, server.url())
        .unwrap()
        .execute_workflow_and_wait("wf1", Inputs::new(), &options)
        .await
        .unwrap();
    let names: Vec<_> = result.outputs.iter().map(|o| o.name.as_str()).collect();
    assert_eq!(
        names,
        ["b_out", "a_out"],
        "outputs come in output-name order"
    );
    for m in [runs, a, b_wait, b] {
        m.assert();
    }
}

#[maybe_async]
#[case]
async fn outputs_appearing_late_are_all_waited_for() {
    let mut server = server().await;
    let _r1 = run_poll(&mut server, "running", &[], Some(1));
    let _r2 = run_poll(&mut server, "running", &["x"], Some(1));
    let _r3 = run_poll(&mut server, "completed", &["x", "y"], None);
    let x = output_poll(&mut server, "x", 200, Some(1));
    let y = output_poll(&mut server, "y", 200, Some(1));
    let (options, events) = fast();
    let result = Client::new(KEY, server.url())
        .unwrap()
        .wait_for_run(RUN, &options)
        .await
        .unwrap();
    let names: Vec<_> = result.outputs.iter().map(|o| o.name.clone()).collect();
    assert_eq!(names, ["x", "y"]);
    assert_eq!(result.workflow_id.as_deref(), Some("wf1"));
    x.assert();
    y.assert();
    let known: Vec<_> = events
        .lock()
        .unwrap()
        .iter()
        .filter_map(|e| match e {
            RunEvent::OutputNamesKnown { names, .. } => Some(names.clone()),
            _ => None,
        })
        .collect();
    assert_eq!(
        known,
        vec![vec!["x".to_string()], vec!["x".into(), "y".into()]]
    );
}

#[maybe_async]
#[case]
async fn a_failed_run_returns_at_the_next_poll() {
    let mut server = server().await;
    let _r1 = run_poll(&mut server, "running", &["o"], Some(1));
    let failed = run_poll(&mut server, "failed", &["o"], Some(1));
    let outputs = output_poll(&mut server, "o", 204, Some(1));
    let (options, events) = fast();
    let options = options.timeout(Duration::from_secs(600));
    let err = Client::new(KEY, server.url())
        .unwrap()
        .wait_for_run(RUN, &options)
        .await
        .unwrap_err();
    assert!(
        matches!(&err, Error::RunFailed { run_id, status, .. } if run_id == RUN && *status == RunStatus::Failed),
        "{err:?}"
    );
    assert_eq!(err.run_id(), Some(RUN));
    failed.assert();
    outputs.assert();
    assert_eq!(
        events.lock().unwrap().last(),
        Some(&RunEvent::Finished {
            run_id: RUN.into(),
            status: RunStatus::Failed
        })
    );
}

#[maybe_async]
#[case]
async fn an_output_408_is_a_run_timeout() {
    let mut server = server().await;
    let _r = run_poll(&mut server, "running", &["o"], None);
    let _o = output_poll(&mut server, "o", 408, None);
    let (options, _) = fast();
    let err = Client::new(KEY, server.url())
        .unwrap()
        .wait_for_run(RUN, &options)
        .await
        .unwrap_err();
    assert!(
        matches!(&err, Error::RunTimedOut { output, run_id: Some(r), .. } if output == "o" && r == RUN),
        "{err:?}"
    );
}

#[maybe_async]
#[case]
async fn a_dead_server_fails_after_the_retry_bound() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let (options, events) = fast();
    let options = options.max_poll_failures(2);
    let err = Client::new(KEY, format!("http://127.0.0.1:{port}"))
        .unwrap()
        .wait_for_run(RUN, &options)
        .await
        .unwrap_err();
    // The wait gives up with the run id, so that the caller can resume.
    match &err {
        Error::WaitFailed { run_id, cause, .. } => {
            assert_eq!(run_id, RUN);
            assert!(matches!(**cause, Error::Transport { .. }), "{cause:?}");
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(err.run_id(), Some(RUN));
    let attempts: Vec<_> = events
        .lock()
        .unwrap()
        .iter()
        .map(|e| match e {
            RunEvent::Retrying { attempt, .. } => *attempt,
            other => panic!("unexpected event {other:?}"),
        })
        .collect();
    assert_eq!(attempts, [1, 2]);
}

#[maybe_async]
#[case]
async fn a_5xx_blip_is_retried() {
    let mut server = server().await;
    let blip = server
        .mock("GET", RUN_PATH)
        .with_status(502)
        .with_body("<html>Bad Gateway</html>")
        .expect(1)
        .create();
    let _ok = run_poll(&mut server, "completed", &["o"], None);
    let _o = output_poll(&mut server, "o", 200, None);
    let (options, events) = fast();
    let result = Client::new(KEY, server.url())
        .unwrap()
        .wait_for_run(RUN, &options)
        .await
        .unwrap();
    assert_eq!(result.outputs.len(), 1);
    blip.assert();
    let retries = events
        .lock()
        .unwrap()
        .iter()
        .filter(|e| matches!(e, RunEvent::Retrying { attempt: 1, .. }))
        .count();
    assert_eq!(retries, 1);
}

#[maybe_async]
#[case]
async fn a_4xx_returns_at_once() {
    let mut server = server().await;
    let m = server
        .mock("GET", RUN_PATH)
        .with_status(404)
        .with_body(r#"{"status":"error","errors":"Run not found"}"#)
        .expect(1)
        .create();
    let (options, events) = fast();
    let err = Client::new(KEY, server.url())
        .unwrap()
        .wait_for_run(RUN, &options)
        .await
        .unwrap_err();
    assert_eq!(err.status(), Some(404));
    m.assert();
    assert!(events.lock().unwrap().is_empty());
}

#[maybe_async]
async fn time_out(cancel: bool) {
    let mut server = server().await;
    let _r = run_poll(&mut server, "running", &["o"], None);
    let _o = output_poll(&mut server, "o", 204, None);
    let cancelled = server
        .mock("POST", "/api/v1/runs/run-1/cancel")
        .with_body(ok(json!("Run cancelled successfully")))
        .expect(usize::from(cancel))
        .create();
    let options = WaitOptions::new()
        .poll_interval(Duration::from_millis(50))
        // Long enough that the tenth kept for the cancel (150 ms) fits on a busy machine.
        .timeout(Duration::from_millis(1500))
        .cancel_on_timeout(cancel);
    let err = Client::new(KEY, server.url())
        .unwrap()
        .wait_for_run(RUN, &options)
        .await
        .unwrap_err();
    match &err {
        Error::Timeout {
            run_id,
            elapsed,
            last_status,
            ..
        } => {
            assert_eq!(run_id, RUN);
            // With a cancel to send, the last tenth of the deadline is kept for it.
            let polling = if cancel { 1350 } else { 1500 };
            assert!(*elapsed >= Duration::from_millis(polling), "{elapsed:?}");
            assert_eq!(*last_status, Some(RunStatus::Running));
        }
        other => panic!("{other:?}"),
    }
    // Says the run goes on and can be waited for again (in words the CLI can show too).
    assert!(err.to_string().contains("the run goes on"), "{err}");
    cancelled.assert();
}

#[maybe_async]
#[case]
async fn timeout_without_cancel_leaves_the_run_alone() {
    time_out(false).await;
}

#[maybe_async]
#[case]
async fn timeout_with_cancel_cancels_the_run() {
    time_out(true).await;
}

#[maybe_async]
#[case]
async fn waiting_needs_a_run_id() {
    let err = Client::new(KEY, "http://127.0.0.1:9")
        .unwrap()
        .wait_for_run("", &WaitOptions::new())
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Input { .. }));
}

#[maybe_async]
#[case]
async fn a_429_waits_as_long_as_retry_after_says() {
    let mut server = server().await;
    let busy = server
        .mock("GET", RUN_PATH)
        .with_status(429)
        .with_header("retry-after", "1")
        .with_body(r#"{"status":"error","errors":"slow down"}"#)
        .expect(1)
        .create();
    let _ok = run_poll(&mut server, "completed", &[], None);
    let (options, events) = fast();
    let result = Client::new(KEY, server.url())
        .unwrap()
        .wait_for_run(RUN, &options)
        .await
        .unwrap();
    assert!(
        result.outputs.is_empty(),
        "a run that completes with no outputs is done"
    );
    busy.assert();
    let delays: Vec<_> = events
        .lock()
        .unwrap()
        .iter()
        .filter_map(|e| match e {
            RunEvent::Retrying { delay, error, .. } => Some((*delay, error.clone())),
            _ => None,
        })
        .collect();
    assert_eq!(delays.len(), 1);
    assert_eq!(delays[0].0, Duration::from_secs(1));
    assert!(delays[0].1.contains("slow down"), "{}", delays[0].1);
}
