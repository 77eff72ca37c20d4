//! Single calls survive a flaky network: safe calls are retried by the client's
//! `RetryPolicy`, starting a run never is, and every misbehaving server ends in a typed
//! error within a bound.

use std::time::{Duration, Instant};

use flowscale::mock::{Fault, MockServer, MockWorkflow, Route};
use flowscale::{Error, RetryPolicy, TransportErrorKind};

use super::{Client, case, maybe_async};
use crate::common::{
    KEY, drip_server, http_date_in, http_reply, raw_server, scripted_server, slow_sink,
};

use crate::common::count;

fn client_with(server: &MockServer, policy: RetryPolicy) -> Client {
    Client::builder()
        .api_key(server.api_key())
        .base_url(server.url())
        .retry(policy)
        .build()
        .unwrap()
}

#[maybe_async]
#[case]
async fn a_get_that_meets_a_502_succeeds_on_the_retry() {
    let server = MockServer::start();
    server.fail_next(Route::Health, 1, Fault::BadGatewayHtml);
    let health = client_with(&server, RetryPolicy::new()).health().await;
    assert!(health.is_ok(), "{health:?}");
    assert_eq!(count(&server, "GET", "/api/v1/comfy/health"), 2);
}

#[maybe_async]
#[case]
async fn retries_stop_at_the_policy_and_can_be_turned_off() {
    let server = MockServer::start();
    server.fail_next(Route::Queue, 10, Fault::Status(503));
    let quick = RetryPolicy::new().base_delay(Duration::from_millis(10));
    let err = client_with(&server, quick).queue().await.unwrap_err();
    assert_eq!(err.status(), Some(503));
    assert_eq!(
        count(&server, "GET", "/api/v1/comfy/queue"),
        3,
        "3 attempts in all"
    );

    let err = client_with(&server, RetryPolicy::none())
        .queue()
        .await
        .unwrap_err();
    assert_eq!(err.status(), Some(503));
    assert_eq!(
        count(&server, "GET", "/api/v1/comfy/queue"),
        4,
        "one more, no retry"
    );
}

#[maybe_async]
#[case]
async fn retry_after_is_honoured_in_seconds() {
    let server = MockServer::start();
    server.fail_next(
        Route::Health,
        1,
        Fault::TooManyRequests {
            retry_after_secs: 1,
        },
    );
    let started = Instant::now();
    let health = client_with(&server, RetryPolicy::new()).health().await;
    assert!(health.is_ok(), "{health:?}");
    assert!(
        started.elapsed() >= Duration::from_millis(900),
        "{:?}",
        started.elapsed()
    );
}

#[maybe_async]
#[case]
async fn retry_after_is_honoured_as_an_http_date() {
    let date = http_date_in(2);
    let ok = br#"{"status":"success","data":[{"container":"c1","status":"idle"}]}"#;
    let url = scripted_server(
        vec![
            http_reply("429 Too Many Requests", &[("retry-after", &date)], b"{}"),
            http_reply("200 OK", &[("content-type", "application/json")], ok),
        ],
        Duration::from_secs(30),
    );
    let started = Instant::now();
    let health = Client::new(KEY, url).unwrap().health().await;
    assert_eq!(health.unwrap().len(), 1);
    // Second-granular dates: 2 s ahead is more than 1 s away.
    assert!(
        started.elapsed() >= Duration::from_millis(900),
        "{:?}",
        started.elapsed()
    );
}

#[maybe_async]
#[case]
async fn starting_a_run_is_never_sent_twice() {
    let server = MockServer::start();
    server.register(MockWorkflow::new("wf"));
    server.fail_next(Route::Execute, 1, Fault::Status(500));
    let err = client_with(&server, RetryPolicy::new())
        .execute_workflow("wf", [("a", 1)])
        .await
        .unwrap_err();
    assert_eq!(err.status(), Some(500));
    assert_eq!(count(&server, "POST", "/api/v1/runs"), 1);
}

#[maybe_async]
#[case]
async fn a_server_that_never_answers_times_out_within_the_bound() {
    let url = raw_server(Vec::new(), Duration::from_secs(30));
    let client = Client::builder()
        .api_key(KEY)
        .base_url(url)
        .response_timeout(Duration::from_millis(300))
        .build()
        .unwrap();
    let started = Instant::now();
    let err = client.run("r1").await.unwrap_err();
    assert!(
        matches!(
            &err,
            Error::Transport {
                kind: TransportErrorKind::Timeout,
                ..
            }
        ),
        "{err:?}"
    );
    // 3 attempts of 300 ms and two short backoffs.
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "{:?}",
        started.elapsed()
    );
}

#[maybe_async]
#[case]
async fn a_server_that_drips_one_byte_a_second_times_out() {
    let url = drip_server(
        br#"{"status":"success","data":[]}"#,
        Duration::from_secs(30),
    );
    let client = Client::builder()
        .api_key(KEY)
        .base_url(url)
        .response_timeout(Duration::from_millis(400))
        .retry(RetryPolicy::none())
        .build()
        .unwrap();
    let started = Instant::now();
    let err = client.health().await.unwrap_err();
    assert!(
        matches!(
            &err,
            Error::Transport {
                kind: TransportErrorKind::Timeout,
                ..
            }
        ),
        "{err:?}"
    );
    assert!(started.elapsed() < Duration::from_secs(10));
}

#[maybe_async]
#[case]
async fn a_body_cut_off_mid_json_is_retried_then_reported() {
    let server = MockServer::start();
    server.register(MockWorkflow::new("wf").duration(Duration::from_secs(60)));
    let run = client_with(&server, RetryPolicy::new())
        .execute_workflow("wf", [("a", 1)])
        .await
        .unwrap();
    let path = format!("/api/v1/runs/{}", run.run_id);
    server.fail_next(Route::RunDetails, 1, Fault::TruncateBody);
    let fetched = client_with(&server, RetryPolicy::new())
        .run(&run.run_id)
        .await;
    let seen = count(&server, "GET", &path);
    assert!(fetched.is_ok(), "{fetched:?} after {seen} requests");
    assert_eq!(seen, 2);

    server.fail_next(Route::RunDetails, 1, Fault::TruncateBody);
    let err = client_with(&server, RetryPolicy::none())
        .run(&run.run_id)
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Transport { .. }), "{err:?}");
}

#[maybe_async]
#[case]
async fn invalid_utf8_in_an_error_body_is_still_a_readable_error() {
    let url = scripted_server(
        vec![http_reply(
            "400 Bad Request",
            &[],
            b"\xff\xfe bad \xc3\x28 bytes",
        )],
        Duration::from_secs(30),
    );
    let err = Client::new(KEY, url).unwrap().health().await.unwrap_err();
    assert_eq!(err.status(), Some(400));
    assert!(err.to_string().contains("bad"), "{err}");
}

/// A reader that yields `chunk` bytes every `gap`: bytes that flow slowly, as over a slow
/// link (a slow server would hide the pace behind the kernel's socket buffers).
struct Trickle {
    left: usize,
    chunk: usize,
    gap: Duration,
}

impl std::io::Read for Trickle {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        if self.left == 0 {
            return Ok(0);
        }
        std::thread::sleep(self.gap);
        let n = buf.len().min(self.chunk).min(self.left);
        buf[..n].fill(7);
        self.left -= n;
        Ok(n)
    }
}

#[maybe_async]
#[case]
async fn an_upload_over_a_slow_link_does_not_time_out_while_bytes_flow() {
    // 1 MiB at 64 KiB every 150 ms: about 2.4 s in all, far longer than the 500 ms
    // response timeout, which bounds only the wait for the answer and each pause.
    let url = slow_sink(256 * 1024, Duration::ZERO, Duration::from_secs(60));
    let client = Client::builder()
        .api_key(KEY)
        .base_url(url)
        .response_timeout(Duration::from_millis(500))
        .build()
        .unwrap();
    let size = 1 << 20;
    let trickle = Trickle {
        left: size,
        chunk: 64 * 1024,
        gap: Duration::from_millis(150),
    };
    let video = flowscale::Reader::new(trickle, "clip.mp4").with_length(size as u64);
    let started = Instant::now();
    let exec = client
        .execute_workflow("wf", flowscale::Inputs::new().set("video", video))
        .await
        .unwrap();
    assert_eq!(exec.run_id, "slow-1");
    assert!(
        started.elapsed() > Duration::from_secs(2),
        "{:?}",
        started.elapsed()
    );
}
