//! A wait's deadline holds inside every request it sends, and a wait never spins.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use flowscale::mock::{Fault, MockServer, MockWorkflow, Route};
use flowscale::{Error, RunEvent, WaitOptions};

use super::{Client, case, maybe_async};
use crate::common::{KEY, raw_server};

/// Options with a 1 s deadline that record every event.
fn one_second(events: &Arc<Mutex<Vec<RunEvent>>>) -> WaitOptions {
    let events = events.clone();
    WaitOptions::new()
        .timeout(Duration::from_secs(1))
        .poll_interval(Duration::from_millis(100))
        .on_event(move |e| events.lock().unwrap().push(e.clone()))
}

fn client_of(server: &MockServer) -> Client {
    Client::new(server.api_key(), server.url()).unwrap()
}

/// Waits 1 s for a 60 s run whose first poll meets `fault`: the wait must end with
/// `Error::Timeout` well within 5 s, without announcing a retry the deadline never allows.
#[maybe_async]
async fn wait_through(fault: Fault) {
    let server = MockServer::start();
    server.register(MockWorkflow::new("wf").duration(Duration::from_secs(60)));
    let run = client_of(&server)
        .execute_workflow("wf", [("a", 1)])
        .await
        .unwrap();
    server.fail_next(Route::RunDetails, 1, fault);
    let events = Arc::new(Mutex::new(Vec::new()));
    let started = Instant::now();
    let err = client_of(&server)
        .wait_for_run(&run.run_id, &one_second(&events))
        .await
        .unwrap_err();
    let took = started.elapsed();
    assert!(matches!(err, Error::Timeout { .. }), "{err:?}");
    assert!(took < Duration::from_secs(5), "the wait took {took:?}");
    let events = events.lock().unwrap();
    assert!(
        !events
            .iter()
            .any(|e| matches!(e, RunEvent::Retrying { .. })),
        "{events:?}"
    );
}

#[maybe_async]
#[case]
async fn a_slow_poll_cannot_carry_a_wait_past_its_deadline() {
    // The first run poll is answered after 30 s.
    wait_through(Fault::Delay(Duration::from_secs(30))).await;
}

#[maybe_async]
#[case]
async fn a_retry_after_past_the_deadline_is_not_announced() {
    wait_through(Fault::TooManyRequests {
        retry_after_secs: 30,
    })
    .await;
}

#[maybe_async]
#[case]
async fn a_server_that_never_answers_ends_at_the_deadline() {
    let url = raw_server(Vec::new(), Duration::from_secs(30));
    let options = WaitOptions::new()
        .timeout(Duration::from_secs(1))
        .cancel_on_timeout(true);
    let started = Instant::now();
    let err = Client::new(KEY, url)
        .unwrap()
        .wait_for_run("run-1", &options)
        .await
        .unwrap_err();
    let took = started.elapsed();
    assert!(
        matches!(&err, Error::Timeout { run_id, last_status: None, .. } if run_id == "run-1"),
        "{err:?}"
    );
    // The cancel on timeout is bounded by the deadline too.
    assert!(took < Duration::from_secs(5), "the wait took {took:?}");
}

#[maybe_async]
#[case]
async fn a_zero_poll_interval_does_not_spin() {
    let server = MockServer::start();
    server.register(
        MockWorkflow::new("wf")
            .queued_for(Duration::ZERO)
            .duration(Duration::from_millis(500)),
    );
    let options = WaitOptions::new().poll_interval(Duration::ZERO);
    let result = client_of(&server)
        .execute_workflow_and_wait("wf", [("a", 1)], &options)
        .await
        .unwrap();
    assert_eq!(result.outputs.len(), 1);
    let polls = server
        .requests()
        .iter()
        .filter(|r| r.path.starts_with("/api/v1/runs/") && !r.path.ends_with("/output"))
        .count();
    // 500 ms at one poll per 50 ms is about 10; a busy loop makes hundreds.
    assert!((1..=25).contains(&polls), "{polls} run polls");
}

#[maybe_async]
#[case]
async fn the_last_status_is_typed() {
    let server = MockServer::start();
    server.register(MockWorkflow::new("wf").duration(Duration::from_secs(60)));
    let options = WaitOptions::new().timeout(Duration::from_secs(2));
    let err = client_of(&server)
        .execute_workflow_and_wait("wf", [("a", 1)], &options)
        .await
        .unwrap_err();
    match err {
        Error::Timeout { last_status, .. } => assert_eq!(
            last_status.map(|s| s.is_finished()),
            Some(false),
            "a run 60 s long is queued or running"
        ),
        other => panic!("{other:?}"),
    }
}
