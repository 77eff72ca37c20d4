//! Error paths: what the caller gets for each kind of failure, and that the key never leaks.

use std::time::Duration;

use serde_json::json;

use super::{Client, case, maybe_async, server};
use crate::common::{KEY, Recorder};
use flowscale::Error;

#[maybe_async]
#[case]
async fn auth_errors_carry_status_and_message() {
    let mut server = server().await;
    let _m = server
        .mock("GET", "/api/v1/comfy/health")
        .with_status(401)
        .with_body(r#"{"status":"error","errors":"Invalid API key"}"#)
        .create();
    let err = Client::new(KEY, server.url())
        .unwrap()
        .health()
        .await
        .unwrap_err();
    match &err {
        Error::Api {
            status, message, ..
        } => {
            assert_eq!(*status, 401);
            assert_eq!(message, "Invalid API key");
        }
        other => panic!("{other:?}"),
    }
    assert!(!err.is_retryable());
    assert_eq!(err.to_string(), "FlowScale API error 401: Invalid API key");
}

#[maybe_async]
#[case]
async fn fastapi_422_shows_its_detail() {
    let mut server = server().await;
    let _m = server
        .mock("POST", "/api/v1/runs")
        .match_query(mockito::Matcher::Any)
        .with_status(422)
        .with_body(
            json!({"detail": [
                {"loc": ["body", "text_51536"], "msg": "Field required", "type": "missing"},
                {"loc": ["query", "page_size"], "msg": "Input should be less than or equal to 100", "type": "x"}
            ]})
            .to_string(),
        )
        .create();
    let err = Client::new(KEY, server.url())
        .unwrap()
        .execute_workflow("wf1", [("x", "y")])
        .await
        .unwrap_err();
    assert_eq!(err.status(), Some(422));
    assert_eq!(
        err.to_string(),
        "FlowScale API error 422: body.text_51536: Field required; \
         query.page_size: Input should be less than or equal to 100"
    );
}

#[maybe_async]
#[case]
async fn html_502_shows_status_and_snippet() {
    let mut server = server().await;
    let _m = server
        .mock("GET", "/api/v1/comfy/queue")
        .with_status(502)
        .with_header("content-type", "text/html")
        .with_body("<html><head><title>502 Bad Gateway</title></head>\n<body>nginx</body></html>")
        .create();
    let err = Client::new(KEY, server.url())
        .unwrap()
        .queue()
        .await
        .unwrap_err();
    assert_eq!(err.status(), Some(502));
    assert!(err.is_retryable());
    let text = err.to_string();
    assert!(
        text.contains("502") && text.contains("Bad Gateway"),
        "{text}"
    );
    assert!(text.contains("<title>502 Bad Gateway</title>"), "{text}");
}

#[maybe_async]
#[case]
async fn undecodable_answers_are_decode_errors() {
    let mut server = server().await;
    let _a = server
        .mock("GET", "/api/v1/runs/a")
        .with_body("this is not json")
        .create();
    let _b = server
        .mock("GET", "/api/v1/runs/b")
        .with_body(r#"{"status":"success"}"#)
        .create();
    let _c = server
        .mock("GET", "/api/v1/runs/c")
        .with_body(r#"{"status":"success","data":{"no_id":true}}"#)
        .create();
    let client = Client::new(KEY, server.url()).unwrap();
    for id in ["a", "b", "c"] {
        let err = client.run(id).await.unwrap_err();
        assert!(
            matches!(err, Error::Decode { status: 200, .. }),
            "{id}: {err:?}"
        );
    }
    let err = client.run("a").await.unwrap_err();
    assert!(err.to_string().contains("this is not json"));
}

#[maybe_async]
#[case]
async fn error_envelope_with_200_is_an_api_error() {
    let mut server = server().await;
    let _m = server
        .mock("POST", "/api/v1/runs/r/cancel")
        .with_body(r#"{"status":"error","errors":["Run already finished"]}"#)
        .create();
    let err = Client::new(KEY, server.url())
        .unwrap()
        .cancel_run("r")
        .await
        .unwrap_err();
    assert!(
        matches!(&err, Error::Api { status: 200, message, .. } if message == "Run already finished"),
        "{err:?}"
    );
}

#[maybe_async]
#[case]
async fn unreachable_server_is_a_transport_error_without_the_key() {
    // Bind a port, then close it: nothing listens there.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let client = Client::new("super-secret-key", format!("http://127.0.0.1:{port}")).unwrap();
    let err = client.health().await.unwrap_err();
    assert!(matches!(err, Error::Transport { .. }), "{err:?}");
    assert!(err.is_retryable());
    let text = format!("{err} {err:?} {client:?}");
    assert!(text.contains(&port.to_string()), "{text}");
    assert!(!text.contains("super-secret-key"), "{text}");
}

#[maybe_async]
#[case]
async fn redirects_are_not_followed_so_the_key_stays_home() {
    let mut other = server().await;
    let rec = Recorder::new();
    let elsewhere = other
        .mock("GET", mockito::Matcher::Any)
        .match_request(rec.matcher())
        .expect(0)
        .create();
    let mut server = server().await;
    let _m = server
        .mock("GET", "/api/v1/comfy/health")
        .with_status(302)
        .with_header("location", &format!("{}/steal", other.url()))
        .create();
    let err = Client::new(KEY, server.url())
        .unwrap()
        .health()
        .await
        .unwrap_err();
    assert_eq!(err.status(), Some(302));
    elsewhere.assert();
    assert!(rec.all().is_empty());
}

#[maybe_async]
#[case]
async fn construction_is_validated() {
    assert!(matches!(
        Client::new("", "https://x.pod.flowscale.ai"),
        Err(Error::Config { .. })
    ));
    assert!(matches!(
        Client::new("k", "x.pod.flowscale.ai"),
        Err(Error::Config { .. })
    ));
    assert!(matches!(
        Client::new("k", "ftp://x"),
        Err(Error::Config { .. })
    ));
    assert!(matches!(
        Client::builder().api_key("k").build(),
        Err(Error::Config { .. })
    ));
    let client = Client::new("k-secret", "https://x.pod.flowscale.ai/").unwrap();
    assert_eq!(client.base_url(), "https://x.pod.flowscale.ai");
    assert!(!format!("{client:?}").contains("k-secret"));
}

#[maybe_async]
#[case]
async fn builder_settings_are_used() {
    let mut server = server().await;
    let m = server
        .mock("GET", "/api/v1/comfy/health")
        .match_header("user-agent", "my-tool/2.0")
        .match_header("x-api-key", "other-key")
        .with_body(r#"{"status":"success","data":[]}"#)
        .create();
    let client = Client::builder()
        .api_key("other-key")
        .base_url(format!("{}/", server.url()))
        .user_agent("my-tool/2.0")
        .connect_timeout(std::time::Duration::from_secs(3))
        .response_timeout(std::time::Duration::from_secs(30))
        .build()
        .unwrap();
    let health = client.health().await.unwrap();
    assert!(health.is_empty());
    m.assert();
}

#[maybe_async]
#[case]
async fn base_urls_are_parsed_at_construction() {
    for bad in [
        "http://[::1",
        "http://%zz",
        "http://host:port",
        "http://a b",
    ] {
        match Client::new("k", bad) {
            Err(Error::Config { message, .. }) => {
                assert!(message.contains("invalid base URL"), "{message}")
            }
            other => panic!("{bad}: {other:?}"),
        }
    }
    assert!(Client::new("k", "http://[::1]:8080/").is_ok());
}

#[maybe_async]
#[case]
async fn transport_errors_name_their_cause_without_repeating_it() {
    use flowscale::TransportErrorKind;
    use std::error::Error as _;

    let url = crate::common::closed_port_url();
    let err = Client::new(KEY, &url).unwrap().health().await.unwrap_err();
    assert_eq!(
        err.to_string(),
        format!("request to {url}/api/v1/comfy/health failed: connection refused")
    );
    assert!(err.source().is_some(), "the backend's error is the source");
    assert!(err.is_retryable());

    // A server that takes the request and never answers.
    let silent = crate::common::raw_server(Vec::new(), Duration::from_secs(30));
    let client = Client::builder()
        .api_key(KEY)
        .base_url(&silent)
        .response_timeout(Duration::from_millis(300))
        .build()
        .unwrap();
    let err = client.run("r1").await.unwrap_err();
    match &err {
        Error::Transport { kind, .. } => assert_eq!(*kind, TransportErrorKind::Timeout),
        other => panic!("{other:?}"),
    }
    assert!(
        err.to_string()
            .ends_with("failed: timed out waiting for the response"),
        "{err}"
    );
}

#[maybe_async]
#[case]
async fn an_answer_over_the_limit_is_not_retried() {
    use flowscale::TransportErrorKind;

    let mut server = server().await;
    // 17 MiB of JSON: more than any FlowScale answer, more than the SDK reads.
    let huge = format!(
        r#"{{"status":"success","data":"{}"}}"#,
        "x".repeat(17 << 20)
    );
    let polls = server
        .mock("GET", "/api/v1/runs/r1")
        .with_body(huge)
        .expect(1)
        .create();
    let err = Client::new(KEY, server.url())
        .unwrap()
        .wait_for_run("r1", &flowscale::WaitOptions::new())
        .await
        .unwrap_err();
    match &err {
        Error::WaitFailed { run_id, cause, .. } => {
            assert_eq!(run_id, "r1");
            assert!(
                matches!(
                    **cause,
                    Error::Transport {
                        kind: TransportErrorKind::BodyTooLarge { .. },
                        ..
                    }
                ),
                "{cause:?}"
            );
            assert!(!cause.is_retryable());
        }
        other => panic!("{other:?}"),
    }
    polls.assert();
}

#[maybe_async]
#[case]
async fn a_download_error_body_is_read_only_so_far() {
    // A 500 whose body never ends: only a capped read returns.
    let mut reply = b"HTTP/1.1 500 Internal Server Error\r\ncontent-type: text/plain\r\n\
                      content-length: 104857600\r\n\r\n"
        .to_vec();
    reply.extend(std::iter::repeat_n(b'e', 1 << 20));
    let url = crate::common::raw_server(reply, Duration::from_secs(60));
    let dir = std::env::temp_dir().join(format!("flowscale-cap-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let started = std::time::Instant::now();
    let err = Client::new(KEY, "http://127.0.0.1:9")
        .unwrap()
        .download(&format!("{url}/file.png"), dir.join("file.png"))
        .await
        .unwrap_err();
    assert_eq!(err.status(), Some(500), "{err:?}");
    assert!(started.elapsed() < Duration::from_secs(20));
    assert!(!dir.join("file.png").exists());
    let _ = std::fs::remove_dir_all(&dir);
}

#[maybe_async]
#[case]
async fn an_answer_sent_before_the_upload_was_read_is_the_error_every_time() {
    // The simulator refuses a wrong key before it reads the body, and closes; an 8 MiB
    // file is still going out. What the call returns is the server's 403, every time.
    let server = flowscale::mock::MockServer::start();
    server.register(flowscale::mock::MockWorkflow::new("wf"));
    let dir = crate::common::fresh_dir("early-answer");
    let file = dir.join("big.png");
    std::fs::write(&file, vec![7u8; 8 << 20]).unwrap();
    let client = Client::builder()
        .api_key("a-wrong-key")
        .base_url(server.url())
        .build()
        .unwrap();
    let mut seen = Vec::new();
    for _ in 0..40 {
        let inputs = flowscale::Inputs::new()
            .set("text", "a fox")
            .set("image", file.as_path());
        let err = client.execute_workflow("wf", inputs).await.unwrap_err();
        if err.status() != Some(403) {
            seen.push(err.to_string());
        }
    }
    assert!(
        seen.is_empty(),
        "{} of 40 were not the 403: {seen:?}",
        seen.len()
    );
    assert!(server.runs().is_empty());
    let _ = std::fs::remove_dir_all(&dir);
}

#[maybe_async]
#[case]
async fn failures_sort_themselves_the_same_way_in_both_clients() {
    use flowscale::mock::{Fault, MockServer, MockWorkflow, Route};
    use flowscale::{RetryPolicy, WaitOptions};
    let server = MockServer::start();
    server.register(MockWorkflow::new("slow").duration(Duration::from_secs(60)));
    let client = Client::builder()
        .api_key(server.api_key())
        .base_url(server.url())
        .retry(RetryPolicy::none())
        .build()
        .unwrap();
    let quick = WaitOptions::new().poll_interval(Duration::from_millis(50));

    // No such run: not found, through the wait's wrapper, with the cause in its message.
    let err = client
        .wait_for_run("no-such-run", &quick)
        .await
        .unwrap_err();
    assert!(matches!(err, Error::WaitFailed { .. }), "{err:?}");
    assert!(
        err.is_not_found() && !err.is_auth() && !err.is_timeout(),
        "{err:?}"
    );
    assert!(err.to_string().contains("FlowScale API error 404"), "{err}");

    // The wait's own deadline.
    let run = client.execute_workflow("slow", [("a", 1)]).await.unwrap();
    let short = quick.clone().timeout(Duration::from_millis(200));
    let err = client.wait_for_run(&run.run_id, &short).await.unwrap_err();
    assert!(err.is_timeout() && !err.is_not_found(), "{err:?}");

    // Rate limited, a server error.
    server.fail_next(Route::Health, 1, Fault::Status(429));
    let err = client.health().await.unwrap_err();
    assert!(err.is_rate_limited() && err.is_retryable(), "{err:?}");
    server.fail_next(Route::Health, 1, Fault::Status(503));
    let err = client.health().await.unwrap_err();
    assert!(err.is_server_error() && !err.is_auth(), "{err:?}");

    // The key revoked during a wait: auth, and the 403 and its message are in the message.
    server.set_api_key("rotated");
    let err = client.wait_for_run(&run.run_id, &quick).await.unwrap_err();
    assert!(err.is_auth() && !err.is_timeout(), "{err:?}");
    let text = err.to_string();
    assert!(
        text.contains("403") && text.contains("Invalid API key"),
        "{text}"
    );
    // The chain says each thing once.
    let mut chain = vec![text.clone()];
    let mut cause = std::error::Error::source(&err);
    while let Some(c) = cause {
        chain.push(c.to_string());
        cause = c.source();
    }
    assert_eq!(
        chain
            .iter()
            .filter(|m| m.contains("Invalid API key"))
            .count(),
        1,
        "{chain:?}"
    );

    // Nobody there.
    let gone = Client::new(KEY, crate::common::closed_port_url()).unwrap();
    let err = gone.health().await.unwrap_err();
    assert!(err.is_connect() && !err.is_auth(), "{err:?}");
}
