//! One behaviour in both clients: for each misbehaviour of a server (redirects of every
//! kind, timeouts at every stage, a connection cut mid-body, TLS where there is none, bad
//! URLs), the same `Error` variant, kind and message. Each case is compiled once per
//! client and asserts the exact outcome, so both clients meet the same expectations.

use std::time::Duration;

use flowscale::{Error, TransportErrorKind};

use super::{Client, case, maybe_async};
use crate::common::{KEY, http_reply, raw_server, scripted_server};

const LIFE: Duration = Duration::from_secs(30);

/// A client whose response timeout is short, so timeouts show quickly.
fn quick(url: &str) -> Client {
    Client::builder()
        .api_key(KEY)
        .base_url(url)
        .response_timeout(Duration::from_millis(500))
        .connect_timeout(Duration::from_millis(500))
        .retry(flowscale::RetryPolicy::none())
        .build()
        .unwrap()
}

/// The kind of a transport error, and its message.
fn transport(err: &Error) -> (TransportErrorKind, String) {
    match err {
        Error::Transport { kind, .. } => (kind.clone(), err.to_string()),
        other => panic!("not a transport error: {other:?}"),
    }
}

#[maybe_async]
#[case]
async fn redirects_are_followed_as_ureq_follows_them() {
    // The five redirect statuses are followed, to the same host or another.
    let target = scripted_server(vec![http_reply("200 OK", &[], b"the bytes")], LIFE);
    for status in [
        "301 Moved Permanently",
        "302 Found",
        "303 See Other",
        "307 Temporary Redirect",
        "308 Permanent Redirect",
    ] {
        let location = format!("{target}/file.png");
        let hop = scripted_server(
            vec![http_reply(status, &[("location", &location)], b"")],
            LIFE,
        );
        let bytes = quick(&hop)
            .download_bytes(&format!("{hop}/start.png"), 1 << 20)
            .await
            .unwrap_or_else(|e| panic!("{status}: {e:?}"));
        assert_eq!(bytes, b"the bytes", "{status}");
    }
    // 300 and 304 are answers, not redirects.
    for (status, code) in [("300 Multiple Choices", 300), ("304 Not Modified", 304)] {
        let location = format!("{target}/file.png");
        let hop = scripted_server(
            vec![http_reply(status, &[("location", &location)], b"")],
            LIFE,
        );
        let err = quick(&hop)
            .download_bytes(&format!("{hop}/start.png"), 1 << 20)
            .await
            .unwrap_err();
        assert!(
            matches!(err, Error::Api { status, .. } if status == code),
            "{err:?}"
        );
        assert_eq!(
            err.to_string(),
            format!(
                "FlowScale API error {code}: Redirect not followed (API requests carry the key \
                 and follow none; download links follow 301, 302, 303, 307 and 308)"
            )
        );
    }
}

#[maybe_async]
#[case]
async fn a_redirect_loop_is_too_many_redirects() {
    let looping = scripted_server(
        vec![http_reply("302 Found", &[("location", "/again.png")], b"")],
        LIFE,
    );
    let url = format!("{looping}/start.png");
    let err = quick(&looping)
        .download_bytes(&url, 1 << 20)
        .await
        .unwrap_err();
    let (kind, message) = transport(&err);
    assert_eq!(kind, TransportErrorKind::TooManyRedirects);
    assert_eq!(
        message,
        format!("request to {url} failed: too many redirects")
    );
    assert!(!err.is_retryable());
}

#[maybe_async]
#[case]
async fn no_answer_is_a_timeout_waiting_for_the_response() {
    // Accepts, reads the request, never answers.
    let silent = raw_server(Vec::new(), LIFE);
    let err = quick(&silent).run("r1").await.unwrap_err();
    let (kind, message) = transport(&err);
    assert_eq!(kind, TransportErrorKind::Timeout);
    assert_eq!(
        message,
        format!("request to {silent}/api/v1/runs/r1 failed: timed out waiting for the response")
    );
    assert!(err.is_retryable());
}

#[maybe_async]
#[case]
async fn a_body_that_stalls_is_a_timeout() {
    let mut reply = b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 100\r\n\r\n{\"status\":".to_vec();
    reply.truncate(reply.len());
    let stalling = raw_server(reply, LIFE);
    let err = quick(&stalling).run("r1").await.unwrap_err();
    let (kind, message) = transport(&err);
    assert_eq!(kind, TransportErrorKind::Timeout);
    assert_eq!(
        message,
        format!("request to {stalling}/api/v1/runs/r1 failed: timed out waiting for the response")
    );
}

#[maybe_async]
#[case]
async fn a_connection_closed_mid_body_is_said_so() {
    let mut reply =
        b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 100\r\n\r\n"
            .to_vec();
    reply.extend_from_slice(b"{\"status\":");
    // The script closes the connection after its reply.
    let cut = scripted_server(vec![reply], LIFE);
    let err = quick(&cut).run("r1").await.unwrap_err();
    let (kind, message) = transport(&err);
    assert_eq!(kind, TransportErrorKind::ConnectionClosed);
    assert_eq!(
        message,
        format!(
            "request to {cut}/api/v1/runs/r1 failed: connection closed before the answer was complete"
        )
    );
}

#[maybe_async]
#[case]
async fn an_upload_the_server_stops_reading_is_a_timeout() {
    let (dir, file) = {
        let dir = crate::common::fresh_dir("stalled-upload");
        let file = dir.join("big.bin");
        // Far more than the socket buffers hold.
        std::fs::write(&file, vec![0u8; 64 << 20]).unwrap();
        (dir, file)
    };
    // Reads the request head, then nothing more.
    let deaf = raw_server(Vec::new(), LIFE);
    let start = std::time::Instant::now();
    let inputs = flowscale::Inputs::new().set("image_1", file.as_path());
    let err = quick(&deaf)
        .execute_workflow("wf", inputs)
        .await
        .unwrap_err();
    let (kind, _) = transport(&err);
    assert_eq!(kind, TransportErrorKind::Timeout, "{err:?}");
    assert!(
        start.elapsed() < Duration::from_secs(20),
        "{:?}",
        start.elapsed()
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[maybe_async]
#[case]
async fn tls_to_a_server_without_it_fails_the_handshake() {
    let plain = raw_server(http_reply("200 OK", &[], b"{}"), LIFE);
    let https = plain.replacen("http://", "https://", 1);
    let err = quick(&https).run("r1").await.unwrap_err();
    let (kind, message) = transport(&err);
    assert!(matches!(kind, TransportErrorKind::Tls { .. }), "{kind:?}");
    assert_eq!(
        message,
        format!("request to {https}/api/v1/runs/r1 failed: TLS: handshake failed")
    );
    assert!(!err.is_retryable());
}

#[maybe_async]
#[case]
async fn bad_urls_are_refused_before_anything_is_sent() {
    for bad in [
        "http://1.2.3.256",
        "http://10.1",
        "ftp://host",
        "http://[::1",
    ] {
        let err = Client::new(KEY, bad).unwrap_err();
        assert!(matches!(err, Error::Config { .. }), "{bad}: {err:?}");
    }
    let client = quick("http://127.0.0.1:9");
    for bad in ["not a url", "file:///etc/passwd", "ftp://host/x.png"] {
        let err = client.download_bytes(bad, 10).await.unwrap_err();
        assert!(
            matches!(&err, Error::Input { field, .. } if field == "url"),
            "{bad}: {err:?}"
        );
    }
}

/// A loopback port whose accept queue is full: a new connection is never completed (the
/// kernel drops its SYN), as with a host that does not answer. Holds what it needs open.
#[cfg(target_os = "linux")]
fn unanswered_port() -> (String, Vec<std::net::TcpStream>, std::net::TcpListener) {
    use std::os::fd::AsRawFd;
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    // SAFETY: listen() on a socket we own, to shrink its accept queue.
    assert_eq!(unsafe { libc::listen(listener.as_raw_fd(), 0) }, 0);
    let addr = listener.local_addr().unwrap();
    let mut queued = Vec::new();
    // Fill the queue until a connection no longer completes.
    for _ in 0..16 {
        match std::net::TcpStream::connect_timeout(&addr, Duration::from_millis(300)) {
            Ok(stream) => queued.push(stream),
            Err(_) => break,
        }
    }
    (format!("http://{addr}"), queued, listener)
}

#[cfg(target_os = "linux")]
#[maybe_async]
#[case]
async fn a_connection_never_completed_is_a_connect_timeout() {
    let (url, _queued, _listener) = unanswered_port();
    // The response timeout longer than the connect timeout: `AsyncClient` counts the
    // connection in a bodiless request's response timeout (see `response_timeout`).
    let client = Client::builder()
        .api_key(KEY)
        .base_url(&url)
        .connect_timeout(Duration::from_millis(300))
        .response_timeout(Duration::from_secs(5))
        .retry(flowscale::RetryPolicy::none())
        .build()
        .unwrap();
    let err = client.run("r1").await.unwrap_err();
    let (kind, message) = transport(&err);
    assert_eq!(kind, TransportErrorKind::ConnectTimeout);
    assert_eq!(
        message,
        format!("request to {url}/api/v1/runs/r1 failed: timed out connecting")
    );
    assert!(err.is_retryable());
}
