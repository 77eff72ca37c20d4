//! Whole runs against the built-in simulator (`flowscale::mock`): every client method over
//! real lifecycles, the wait engine, downloads, and each kind of fault.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use super::{Client, case, maybe_async};
use crate::common::fixture;
use flowscale::mock::{Fault, MockServer, MockWorkflow, Route};
use flowscale::{Error, Inputs, RunEvent, RunStatus, RunsQuery, SortBy, SortOrder, WaitOptions};

#[allow(unused_imports)]
use futures_util::StreamExt;

fn client(server: &MockServer) -> Client {
    Client::new(server.api_key(), server.url()).unwrap()
}

/// A client that tries every single call once, so that each fault is seen as it is.
fn client_without_retries(server: &MockServer) -> Client {
    Client::builder()
        .api_key(server.api_key())
        .base_url(server.url())
        .retry(flowscale::RetryPolicy::none())
        .build()
        .unwrap()
}

fn quick() -> WaitOptions {
    WaitOptions::new()
        .poll_interval(Duration::from_millis(10))
        .timeout(Duration::from_secs(20))
}

/// A workflow whose runs are done as soon as they start.
fn instant(id: &str) -> MockWorkflow {
    MockWorkflow::new(id)
        .queued_for(Duration::ZERO)
        .duration(Duration::ZERO)
}

fn img2img() -> MockWorkflow {
    MockWorkflow::new("img2img")
        .required_input("text_1")
        .required_input("image_1")
        .outputs(["image", "mask"])
        .queued_for(Duration::from_millis(10))
        .duration(Duration::from_millis(60))
}

#[maybe_async]
#[case]
async fn a_whole_run_uploads_waits_and_downloads() {
    let server = MockServer::start();
    server.register(img2img());
    let client = client(&server);
    let events = Arc::new(Mutex::new(Vec::new()));
    let sink = events.clone();
    let options = quick().on_event(move |e| sink.lock().unwrap().push(e.clone()));
    let inputs = Inputs::new()
        .set("text_1", "a cat on a sofa")
        .set("image_1", fixture("cat.png"))
        .set("seed", 42);
    let result = client
        .execute_workflow_and_wait("img2img", inputs.group_id("batch_1"), &options)
        .await
        .unwrap();
    assert_eq!(result.workflow_id.as_deref(), Some("img2img"));
    let names: Vec<_> = result.outputs.iter().map(|o| o.name.as_str()).collect();
    assert_eq!(names.len(), 2);
    assert!(
        names[0].starts_with("image_") && names[1].starts_with("mask_"),
        "{names:?}"
    );

    // What the simulator stored.
    let stored = server.run(&result.run_id).unwrap();
    assert_eq!(stored.group_id.as_deref(), Some("batch_1"));
    assert_eq!(
        stored.fields,
        [
            ("text_1".to_string(), "a cat on a sofa".to_string()),
            ("seed".into(), "42".into())
        ]
    );
    assert_eq!(stored.files[0].filename, "cat.png");
    assert_eq!(stored.files[0].content_type.as_deref(), Some("image/png"));
    assert_eq!(stored.files[0].size, 3008);

    // The run as the API reports it.
    let run = client.run(&result.run_id).await.unwrap();
    assert_eq!(run.status, RunStatus::Completed);
    assert!(run.started_at.is_some() && run.completed_at.is_some());
    assert_eq!(run.outputs.len(), 2);
    assert_eq!(
        run.inputs
            .iter()
            .find(|i| i.path == "image_1")
            .unwrap()
            .value,
        "cat.png"
    );

    // Downloads: whole files, no key sent to the download host, no leftovers.
    let dir = std::env::temp_dir().join(format!("flowscale-test-{}", result.run_id));
    std::fs::create_dir_all(&dir).unwrap();
    for out in &result.outputs {
        let dest = dir.join(format!("{}.png", out.name));
        let n = client.download(&out.download_url, &dest).await.unwrap();
        let bytes = std::fs::read(&dest).unwrap();
        assert_eq!(n, bytes.len() as u64);
        assert!(bytes.starts_with(b"\x89PNG\r\n\x1a\n"));
    }
    let downloads: Vec<_> = server
        .requests()
        .into_iter()
        .filter(|r| r.path.starts_with("/files/"))
        .collect();
    assert_eq!(downloads.len(), 2);
    assert!(downloads.iter().all(|r| r.api_key.is_none()));
    assert_eq!(std::fs::read_dir(&dir).unwrap().count(), 2);
    std::fs::remove_dir_all(&dir).unwrap();

    let events = events.lock().unwrap();
    assert_eq!(
        events.first(),
        Some(&RunEvent::Submitted {
            run_id: result.run_id.clone()
        })
    );
    let statuses: Vec<_> = events
        .iter()
        .filter_map(|e| match e {
            RunEvent::StatusChanged { status, .. } => Some(status.clone()),
            _ => None,
        })
        .collect();
    assert_eq!(statuses.last(), Some(&RunStatus::Completed));
    assert!(matches!(
        events.last(),
        Some(RunEvent::Finished {
            status: RunStatus::Completed,
            ..
        })
    ));
}

#[maybe_async]
#[case]
async fn health_and_queue_follow_the_runs() {
    let server = MockServer::start();
    server.set_containers(2);
    server.register(
        MockWorkflow::new("slow")
            .queued_for(Duration::ZERO)
            .duration(Duration::from_secs(30)),
    );
    server.register(MockWorkflow::new("waiting").queued_for(Duration::from_secs(30)));
    let client = client(&server);
    let health = client.health().await.unwrap();
    assert!(
        health
            .iter()
            .all(|c| c.status == flowscale::types::ContainerStatus::Idle)
    );
    let running = client
        .execute_workflow("slow", Inputs::new())
        .await
        .unwrap();
    let pending = client
        .execute_workflow("waiting", Inputs::new())
        .await
        .unwrap();
    let health = client.health().await.unwrap();
    let busy = health
        .iter()
        .filter(|c| c.status == flowscale::types::ContainerStatus::Running)
        .count();
    assert_eq!((health.len(), busy), (2, 1));
    let queue = client.queue().await.unwrap();
    let running_ids: Vec<_> = queue
        .iter()
        .flat_map(|c| c.queue.queue_running.iter().filter_map(|e| e.prompt_id()))
        .collect();
    let pending_ids: Vec<_> = queue
        .iter()
        .flat_map(|c| c.queue.queue_pending.iter().filter_map(|e| e.prompt_id()))
        .collect();
    assert_eq!(running_ids, [running.run_id.as_str()]);
    assert_eq!(pending_ids, [pending.run_id.as_str()]);
    // Cancelling frees the container.
    client.cancel_run(&running.run_id).await.unwrap();
    let run = client.run(&running.run_id).await.unwrap();
    assert_eq!(run.status, RunStatus::Cancelled);
    let health = client.health().await.unwrap();
    assert!(
        health
            .iter()
            .all(|c| c.status == flowscale::types::ContainerStatus::Idle)
    );
    // A finished run cannot be cancelled again.
    let err = client.cancel_run(&running.run_id).await.unwrap_err();
    assert_eq!(err.status(), Some(400));
}

#[maybe_async]
#[case]
async fn runs_are_listed_sorted_filtered_and_paged() {
    let server = MockServer::start();
    server.register(instant("wf"));
    let client = client(&server);
    let mut ids = vec![];
    for i in 0..7 {
        let inputs = if i % 2 == 0 {
            Inputs::new().group_id("even")
        } else {
            Inputs::new()
        };
        ids.push(client.execute_workflow("wf", inputs).await.unwrap().run_id);
        std::thread::sleep(Duration::from_millis(2));
    }
    let page = client
        .runs_page(&RunsQuery::new().page_size(3).page(2))
        .await
        .unwrap();
    let meta = page.meta.clone().unwrap();
    assert_eq!(
        (meta.total_count, meta.total_pages, meta.page),
        (Some(7), Some(3), Some(2))
    );
    let got: Vec<_> = page.runs.iter().map(|r| r.id.clone().unwrap()).collect();
    assert_eq!(
        got,
        [ids[3].clone(), ids[2].clone(), ids[1].clone()],
        "newest first"
    );

    let asc = client
        .runs_page(
            &RunsQuery::new()
                .sort_by(SortBy::CompletedAt)
                .sort_order(SortOrder::Asc)
                .group_id("even"),
        )
        .await
        .unwrap();
    let got: Vec<_> = asc.runs.iter().map(|r| r.id.clone().unwrap()).collect();
    assert_eq!(
        got,
        [
            ids[0].clone(),
            ids[2].clone(),
            ids[4].clone(),
            ids[6].clone()
        ]
    );

    let all = client
        .runs(RunsQuery::new().page_size(2).sort_order(SortOrder::Asc))
        .collect::<Vec<_>>()
        .await;
    let all: Vec<_> = all.into_iter().map(|r| r.unwrap().id.unwrap()).collect();
    assert_eq!(all, ids);

    server.serve_legacy_shapes(true);
    let legacy = client
        .runs_page(&RunsQuery::new().group_id("even"))
        .await
        .unwrap();
    assert_eq!(legacy.runs.len(), 4);
    assert_eq!(legacy.meta.unwrap().total_count, Some(4));
    let walked = client
        .runs(RunsQuery::new().page_size(3))
        .collect::<Vec<_>>()
        .await;
    assert_eq!(
        walked.len(),
        7,
        "short-page detection walks the old shape too"
    );
}

#[maybe_async]
#[case]
async fn legacy_shapes_still_wait_and_decode() {
    let server = MockServer::start();
    server.serve_legacy_shapes(true);
    server.register(
        MockWorkflow::new("wf")
            .outputs(["a", "b"])
            .duration(Duration::from_millis(30)),
    );
    let client = client(&server);
    let exec = client.execute_workflow("wf", Inputs::new()).await.unwrap();
    assert_eq!(exec.output_names.len(), 2);
    assert!(exec.workflow_id.is_none());
    let health = client.health().await.unwrap();
    assert_eq!(health[0].container, "container #1");
    let result = client.wait_for_run(&exec.run_id, &quick()).await.unwrap();
    assert_eq!(result.outputs.len(), 2);
}

#[maybe_async]
#[case]
async fn failures_are_reported_at_once() {
    let server = MockServer::start();
    server.register(
        MockWorkflow::new("broken")
            .fails()
            .duration(Duration::from_millis(20)),
    );
    server.register(
        MockWorkflow::new("stuck")
            .times_out()
            .duration(Duration::from_millis(20)),
    );
    server.register(MockWorkflow::new("long").duration(Duration::from_secs(60)));
    let client = client(&server);
    let options = quick().timeout(Duration::from_secs(60));

    let err = client
        .execute_workflow_and_wait("broken", Inputs::new(), &options)
        .await
        .unwrap_err();
    assert!(
        matches!(&err, Error::RunFailed { status, .. } if *status == RunStatus::Failed),
        "{err:?}"
    );

    let err = client
        .execute_workflow_and_wait("stuck", Inputs::new(), &options)
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            Error::RunTimedOut {
                run_id: Some(_),
                ..
            }
        ),
        "{err:?}"
    );

    let exec = client
        .execute_workflow("long", Inputs::new())
        .await
        .unwrap();
    client.cancel_run(&exec.run_id).await.unwrap();
    let err = client
        .wait_for_run(&exec.run_id, &options)
        .await
        .unwrap_err();
    assert!(
        matches!(&err, Error::RunFailed { status, .. } if *status == RunStatus::Cancelled),
        "{err:?}"
    );

    // Our own deadline: the run is cancelled on the way out when asked. The cancel has a
    // tenth of the deadline to go out in: 300 ms, which no busy machine takes on loopback
    // (100 ms left it 10 ms, and a loaded machine missed it).
    let exec = client
        .execute_workflow("long", Inputs::new())
        .await
        .unwrap();
    let short = quick()
        .timeout(Duration::from_secs(3))
        .cancel_on_timeout(true);
    let err = client.wait_for_run(&exec.run_id, &short).await.unwrap_err();
    assert!(matches!(err, Error::Timeout { .. }), "{err:?}");
    assert_eq!(
        server.run(&exec.run_id).unwrap().status,
        RunStatus::Cancelled
    );
}

#[maybe_async]
#[case]
async fn the_server_checks_key_workflow_and_inputs() {
    let server = MockServer::start();
    server.register(img2img());
    let wrong = Client::new("wrong-key", server.url()).unwrap();
    let err = wrong.health().await.unwrap_err();
    assert_eq!(err.status(), Some(403));
    assert!(err.to_string().contains("Invalid API key"));

    let client = client(&server);
    let err = client
        .execute_workflow("nope", Inputs::new())
        .await
        .unwrap_err();
    assert_eq!(err.status(), Some(404));

    let err = client
        .execute_workflow("img2img", Inputs::new().set("text_1", "x"))
        .await
        .unwrap_err();
    assert_eq!(err.status(), Some(422));
    assert_eq!(
        err.to_string(),
        "FlowScale API error 422: body.image_1: Field required"
    );
}

#[maybe_async]
#[case]
async fn faults_are_retried_or_reported() {
    let server = MockServer::start();
    server.register(MockWorkflow::new("wf").duration(Duration::from_millis(30)));
    let client = client_without_retries(&server);

    // A 502 page and a dropped connection while polling: retried, the run completes.
    server
        .fail_next(Route::RunDetails, 1, Fault::BadGatewayHtml)
        .fail_next(Route::Output, 1, Fault::DropConnection);
    let retries = Arc::new(Mutex::new(0));
    let counter = retries.clone();
    let options = quick().on_event(move |e| {
        if matches!(e, RunEvent::Retrying { .. }) {
            *counter.lock().unwrap() += 1;
        }
    });
    let result = client
        .execute_workflow_and_wait("wf", Inputs::new(), &options)
        .await
        .unwrap();
    assert_eq!(*retries.lock().unwrap(), 2);

    // Too many failures in a row: the last one is returned.
    server.fail_next(Route::RunDetails, 3, Fault::Status(500));
    let err = client
        .wait_for_run(&result.run_id, &quick().max_poll_failures(2))
        .await
        .unwrap_err();
    assert_eq!(err.status(), Some(500));
    // 429 carries Retry-After.
    server.fail_next(
        Route::Execute,
        1,
        Fault::TooManyRequests {
            retry_after_secs: 7,
        },
    );
    let err = client
        .execute_workflow("wf", Inputs::new())
        .await
        .unwrap_err();
    assert_eq!(
        (err.status(), err.retry_after()),
        (Some(429), Some(Duration::from_secs(7)))
    );

    // A dropped connection on a plain call is a transport error.
    server.fail_next(Route::Health, 1, Fault::DropConnection);
    let err = client.health().await.unwrap_err();
    assert!(matches!(err, Error::Transport { .. }), "{err:?}");

    // Latency slows answers down but changes nothing else.
    server.fail_next(Route::Queue, 1, Fault::Delay(Duration::from_millis(30)));
    let queue = client.queue().await.unwrap();
    assert_eq!(queue.len(), 2);

    // A truncated download leaves no file behind.
    server.fail_next(Route::Download, 1, Fault::TruncateBody);
    let dest = std::env::temp_dir().join(format!("flowscale-trunc-{}.png", result.run_id));
    let err = client
        .download(&result.outputs[0].download_url, &dest)
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Transport { .. }), "{err:?}");
    assert!(!dest.exists());
    assert!(
        !dest
            .with_file_name(format!("flowscale-trunc-{}.png.part", result.run_id))
            .exists()
    );
    // The next try works.
    let n = client
        .download(&result.outputs[0].download_url, &dest)
        .await
        .unwrap();
    assert!(n > 0);
    std::fs::remove_file(&dest).unwrap();
}

#[maybe_async]
#[case]
async fn a_request_with_a_wrong_key_leaves_the_fault_for_the_next() {
    let server = MockServer::start();
    server.fail_next(Route::Health, 1, Fault::Status(503));
    let stranger = Client::new("not-the-key", server.url()).unwrap();
    let err = stranger.health().await.unwrap_err();
    assert_eq!(err.status(), Some(403), "{err}");
    // The scheduled fault reaches the next request that would have succeeded.
    let err = client_without_retries(&server).health().await.unwrap_err();
    assert_eq!(err.status(), Some(503), "{err}");
    let healthy = client(&server).health().await;
    assert!(healthy.is_ok(), "{healthy:?}");
}

#[maybe_async]
#[case]
async fn queued_for_keeps_a_custom_status_script() {
    let server = MockServer::start();
    server.register(
        MockWorkflow::new("scripted")
            .statuses([
                (RunStatus::Running, Duration::from_millis(300)),
                (RunStatus::Completed, Duration::ZERO),
            ])
            .queued_for(Duration::from_secs(60)),
    );
    let run = client(&server)
        .execute_workflow("scripted", [("a", 1)])
        .await
        .unwrap();
    // The script has no queued phase, and queued_for did not add one.
    let first = client(&server).run(&run.run_id).await.unwrap();
    assert_ne!(first.status, RunStatus::Queued);
    let result = client(&server)
        .wait_for_run(&run.run_id, &quick())
        .await
        .unwrap();
    assert_eq!(result.outputs.len(), 1);
}

#[maybe_async]
#[case]
async fn a_simulator_that_cannot_start_says_so() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap().to_string();
    assert!(MockServer::start_on(&addr).is_err());
}

/// Events with when they came, from the start of the wait.
type TimedEvents = Arc<Mutex<Vec<(Duration, RunEvent)>>>;

/// When each event of a wait came, from the wait's start.
fn timed_events(options: WaitOptions) -> (WaitOptions, TimedEvents) {
    let events = Arc::new(Mutex::new(Vec::new()));
    let sink = events.clone();
    let start = std::time::Instant::now();
    let options =
        options.on_event(move |e| sink.lock().unwrap().push((start.elapsed(), e.clone())));
    (options, events)
}

#[maybe_async]
#[case]
async fn a_fresh_run_is_first_polled_one_interval_after_it_was_submitted() {
    let server = MockServer::start();
    server.register(instant("instant"));
    let client = client(&server);
    let interval = Duration::from_millis(400);
    let (options, events) = timed_events(
        WaitOptions::new()
            .poll_interval(interval)
            .timeout(Duration::from_secs(60)),
    );
    client
        .execute_workflow_and_wait("instant", Inputs::new(), &options)
        .await
        .unwrap();
    let events = events.lock().unwrap();
    let submitted = events
        .iter()
        .find(|(_, e)| matches!(e, RunEvent::Submitted { .. }))
        .unwrap()
        .0;
    // The first status can only come from a poll.
    let first_status = events
        .iter()
        .find(|(_, e)| matches!(e, RunEvent::StatusChanged { .. }))
        .unwrap()
        .0;
    assert!(
        first_status - submitted >= interval,
        "first poll {:?} after the submission",
        first_status - submitted
    );
    let polls = server
        .requests()
        .iter()
        .filter(|r| r.method == "GET" && r.path.starts_with("/api/v1/runs/"))
        .filter(|r| r.path != "/api/v1/runs/output")
        .count();
    assert_eq!(polls, 1, "the run was done by the first poll");
}

#[maybe_async]
#[case]
async fn a_wait_asked_to_poll_at_once_does_not_sleep_first() {
    let server = MockServer::start();
    server.register(instant("instant"));
    let client = client(&server);
    // Polls a minute apart: only a first poll at once can finish this wait soon.
    let options = WaitOptions::new()
        .poll_interval(Duration::from_secs(60))
        .first_poll_after(Duration::ZERO)
        .timeout(Duration::from_secs(300));
    let started = std::time::Instant::now();
    client
        .execute_workflow_and_wait("instant", Inputs::new(), &options)
        .await
        .unwrap();
    assert!(started.elapsed() < Duration::from_secs(30));
}
