//! Downloads resumed where they stopped: a body cut short is asked for again from where the
//! file ends (`Range`, `If-Range`), a server that ignores ranges or whose file changed
//! starts the file over, and an expired link is replaced by a fresh one.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use super::{Client, case, maybe_async};
use crate::common::fresh_dir;
use flowscale::mock::{Fault, MockServer, MockWorkflow, RecordedRequest, Route};
use flowscale::{DownloadOptions, Progress, WaitOptions, WorkflowResult};

const SIZE: usize = 300_000;

/// A completed run of one output of `SIZE` bytes, and the client that ran it.
#[maybe_async]
async fn finished_run(server: &MockServer) -> (Client, WorkflowResult) {
    server.register(
        MockWorkflow::new("big")
            .outputs(["video"])
            .output_size(SIZE)
            .queued_for(Duration::ZERO)
            .duration(Duration::ZERO),
    );
    let client = Client::new(server.api_key(), server.url()).unwrap();
    let options = WaitOptions::new().poll_interval(Duration::from_millis(10));
    let result = client
        .execute_workflow_and_wait("big", [("seed", 1)], &options)
        .await
        .unwrap();
    (client, result)
}

fn downloads(server: &MockServer) -> Vec<RecordedRequest> {
    server
        .requests()
        .into_iter()
        .filter(|r| r.path.starts_with("/files/"))
        .collect()
}

/// A pseudo-random cut point, different from run to run, well inside the file.
fn cut_point() -> u64 {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .subsec_nanos() as u64;
    1 + nanos % (SIZE as u64 - 2)
}

/// Download options that record every progress report.
fn recording() -> (DownloadOptions, Arc<Mutex<Vec<Progress>>>) {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let sink = seen.clone();
    let options = DownloadOptions::new().on_progress(move |p| sink.lock().unwrap().push(p.clone()));
    (options, seen)
}

fn never_backwards(reports: &[Progress]) {
    assert!(
        reports.windows(2).all(|w| w[0].done <= w[1].done),
        "progress went backwards: {:?}",
        reports.iter().map(|p| p.done).collect::<Vec<_>>()
    );
    let last = reports.last().expect("reports");
    assert_eq!(last.done, SIZE as u64);
    assert_eq!(last.total, Some(SIZE as u64));
}

#[maybe_async]
#[case]
async fn a_body_cut_short_is_resumed_with_one_ranged_request() {
    let server = MockServer::start();
    let (client, result) = finished_run(&server).await;
    let cut = cut_point();
    server.fail_next(Route::Download, 1, Fault::CutBodyAfter(cut));
    let dir = fresh_dir("resume-cut");
    let (options, reports) = recording();
    let saved = client
        .download_outputs(&result, &dir, &options)
        .await
        .unwrap();
    let name = &result.outputs[0].name;
    let bytes = std::fs::read(&saved[0].path).unwrap();
    assert!(
        bytes == server.output_bytes(name).unwrap(),
        "not the served bytes (cut at {cut})"
    );
    assert_eq!(saved[0].bytes, SIZE as u64);
    let fetched = downloads(&server);
    assert_eq!(fetched.len(), 2, "{fetched:?}");
    assert_eq!(fetched[0].range, None);
    assert_eq!(
        fetched[1].range.as_deref(),
        Some(format!("bytes={cut}-").as_str())
    );
    never_backwards(&reports.lock().unwrap());
    let left: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(left.len(), 1, "nothing beside the file: {left:?}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[maybe_async]
#[case]
async fn a_server_that_ignores_range_starts_the_file_over() {
    let server = MockServer::start();
    let (client, result) = finished_run(&server).await;
    server.fail_next(Route::Download, 1, Fault::CutBodyAfter(SIZE as u64 / 2));
    server.fail_next(Route::Download, 1, Fault::IgnoreRange);
    let dir = fresh_dir("resume-ignored");
    let (options, reports) = recording();
    let saved = client
        .download_outputs(&result, &dir, &options)
        .await
        .unwrap();
    let served = server.output_bytes(&result.outputs[0].name).unwrap();
    assert!(std::fs::read(&saved[0].path).unwrap() == served);
    let fetched = downloads(&server);
    assert_eq!(fetched.len(), 2);
    assert!(
        fetched[1].range.is_some(),
        "asked for the rest, got all of it"
    );
    never_backwards(&reports.lock().unwrap());
    let _ = std::fs::remove_dir_all(&dir);
}

#[maybe_async]
#[case]
async fn a_file_changed_between_attempts_is_fetched_whole_never_mixed() {
    let server = MockServer::start();
    let (client, result) = finished_run(&server).await;
    let cut = SIZE as u64 / 3;
    server.fail_next(Route::Download, 1, Fault::CutBodyAfter(cut));
    server.fail_next(Route::Download, 1, Fault::ChangedContent);
    let dir = fresh_dir("resume-changed");
    let saved = client
        .download_outputs(&result, &dir, &DownloadOptions::new())
        .await
        .unwrap();
    let old = server.output_bytes(&result.outputs[0].name).unwrap();
    let bytes = std::fs::read(&saved[0].path).unwrap();
    assert_eq!(bytes.len(), SIZE);
    // The If-Range named the old ETag: the server sent the new file whole, from byte 0.
    assert!(
        bytes[..cut as usize] != old[..cut as usize],
        "the old bytes were kept"
    );
    assert!(bytes[cut as usize..] != old[cut as usize..]);
    assert_eq!(downloads(&server).len(), 2);
    let _ = std::fs::remove_dir_all(&dir);
}

#[maybe_async]
#[case]
async fn an_expired_link_is_replaced_by_a_fresh_one_and_resumed() {
    let server = MockServer::start();
    let (client, result) = finished_run(&server).await;
    let cut = SIZE as u64 / 2;
    server.fail_next(Route::Download, 1, Fault::CutBodyAfter(cut));
    server.fail_next(Route::Download, 1, Fault::Status(403));
    let before = server.requests().len();
    let dir = fresh_dir("resume-expired");
    let saved = client
        .download_outputs(&result, &dir, &DownloadOptions::new())
        .await
        .unwrap();
    let served = server.output_bytes(&result.outputs[0].name).unwrap();
    assert!(std::fs::read(&saved[0].path).unwrap() == served);
    let paths: Vec<_> = server.requests()[before..]
        .iter()
        .map(|r| (r.path.clone(), r.range.clone()))
        .collect();
    let resumed = Some(format!("bytes={cut}-"));
    assert_eq!(paths.len(), 4, "{paths:?}");
    assert!(paths[0].0.starts_with("/files/") && paths[0].1.is_none());
    assert!(
        paths[1].0.starts_with("/files/") && paths[1].1 == resumed,
        "403: {paths:?}"
    );
    assert_eq!(paths[2].0, "/api/v1/runs/output", "a fresh link: {paths:?}");
    assert!(paths[3].0.starts_with("/files/") && paths[3].1 == resumed);
    let _ = std::fs::remove_dir_all(&dir);
}

#[maybe_async]
#[case]
async fn a_link_to_a_path_is_resumed_too_and_gives_up_after_the_policy() {
    let server = MockServer::start();
    let (client, result) = finished_run(&server).await;
    let url = &result.outputs[0].download_url;
    let dir = fresh_dir("resume-path");
    let dest = dir.join("clip.bin");
    server.fail_next(Route::Download, 2, Fault::CutBodyAfter(1000));
    let written = client.download(url, &dest).await.unwrap();
    assert_eq!(written, SIZE as u64);
    assert!(std::fs::read(&dest).unwrap() == server.output_bytes(&result.outputs[0].name).unwrap());
    let ranges: Vec<_> = downloads(&server).into_iter().map(|r| r.range).collect();
    assert_eq!(
        ranges,
        [None, Some("bytes=1000-".into()), Some("bytes=2000-".into())]
    );

    // Cut after 10 bytes, then on every attempt before a byte came (the policy's 3 in all
    // without progress): an error that says the bytes are kept, and they are.
    server.fail_next(Route::Download, 1, Fault::CutBodyAfter(10));
    server.fail_next(Route::Download, 3, Fault::CutBodyAfter(0));
    let again = dir.join("again.bin");
    let err = client.download(url, &again).await.unwrap_err();
    let flowscale::Error::Incomplete { partial, have, .. } = &err else {
        panic!("{err:?}")
    };
    assert_eq!(*have, 10, "{err}");
    assert!(
        err.to_string()
            .contains("the next download of it resumes them"),
        "{err}"
    );
    assert!(err.is_retryable());
    assert_eq!(std::fs::metadata(partial).unwrap().len(), 10);
    assert!(!again.exists());
    // The next call resumes them with one ranged request.
    let before = downloads(&server).len();
    let written = client.download(url, &again).await.unwrap();
    assert_eq!(written, SIZE as u64);
    let after: Vec<_> = downloads(&server)
        .into_iter()
        .skip(before)
        .map(|r| r.range)
        .collect();
    assert_eq!(after, [Some("bytes=10-".to_owned())]);
    assert!(
        std::fs::read(&again).unwrap() == server.output_bytes(&result.outputs[0].name).unwrap()
    );
    let mut left: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    left.sort();
    assert_eq!(
        left,
        ["again.bin", "clip.bin"].map(std::ffi::OsString::from)
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[maybe_async]
#[case]
async fn a_download_cut_again_and_again_finishes_while_it_makes_progress() {
    let server = MockServer::start();
    let (client, result) = finished_run(&server).await;
    let url = &result.outputs[0].download_url;
    let dir = fresh_dir("resume-progress");
    // Ten cuts, each after a few more bytes: far past the policy's 3 attempts, and past
    // `max_total` of a policy that allows 1 ms in all, since every cut made progress.
    server.fail_next(Route::Download, 10, Fault::CutBodyAfter(1000));
    let strict = Client::builder()
        .api_key(server.api_key())
        .base_url(server.url())
        .retry(flowscale::RetryPolicy::new().max_total(Duration::from_millis(1)))
        .build()
        .unwrap();
    drop(client);
    let dest = dir.join("long.bin");
    let written = strict.download(url, &dest).await.unwrap();
    assert_eq!(written, SIZE as u64);
    assert!(std::fs::read(&dest).unwrap() == server.output_bytes(&result.outputs[0].name).unwrap());
    assert_eq!(downloads(&server).len(), 11);
    let _ = std::fs::remove_dir_all(&dir);
}

#[maybe_async]
#[case]
async fn a_server_without_a_validator_is_resumed_when_the_length_holds() {
    // No ETag, no Last-Modified: the first answer breaks after 4 of 10 bytes, the second is
    // the rest as a 206 whose length is the one recorded.
    let cut = b"HTTP/1.1 200 OK\r\nconnection: close\r\ncontent-length: 10\r\n\r\n0123".to_vec();
    let rest = crate::common::http_reply(
        "206 Partial Content",
        &[("content-range", "bytes 4-9/10")],
        b"456789",
    );
    let url = crate::common::scripted_server(vec![cut, rest], Duration::from_secs(30));
    let client = Client::new(crate::common::KEY, "http://127.0.0.1:9").unwrap();
    let dir = fresh_dir("resume-no-validator");
    let dest = dir.join("out.bin");
    let written = client
        .download(&format!("{url}/out.bin"), &dest)
        .await
        .unwrap();
    assert_eq!(written, 10);
    assert_eq!(std::fs::read(&dest).unwrap(), b"0123456789");
    let _ = std::fs::remove_dir_all(&dir);
}
