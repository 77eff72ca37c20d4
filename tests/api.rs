//! Every endpoint, input kind and error path, against both clients: each case in
//! `tests/cases/` is compiled twice, once per client, with `maybe_async` bound to
//! `must_be_sync` or `must_be_async` (the same trick the crate itself uses).

// `tests/cases/` is compiled twice on purpose, once per client.
#![allow(clippy::duplicate_mod)]

mod common;

#[cfg(feature = "blocking")]
#[path = "cases"]
mod blocking {
    pub use core::prelude::v1::test as case;
    pub use maybe_async::must_be_sync as maybe_async;
    pub type Client = flowscale::Client;

    /// A fresh mock server.
    pub fn server() -> mockito::ServerGuard {
        mockito::Server::new()
    }

    mod batch;
    mod conformance;
    mod deadlines;
    mod download;
    mod endpoints;
    mod errors;
    mod inputs;
    mod lost;
    mod outputs;
    mod parity;
    mod resume;
    mod retries;
    mod shapes;
    mod simulator;
    mod typed;
    mod wait;
    mod workflows;

    #[test]
    fn a_callers_agent_is_used_and_still_reads_error_bodies() {
        let mut server = server();
        let m = server
            .mock("GET", "/api/v1/comfy/health")
            .match_header("user-agent", "agent-of-my-own")
            .with_status(401)
            .with_body(r#"{"status":"error","errors":"Invalid API key"}"#)
            .create();
        // An agent that turns error statuses into errors and follows redirects.
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .user_agent("agent-of-my-own")
            .build()
            .into();
        let client = Client::builder()
            .api_key(crate::common::KEY)
            .base_url(server.url())
            .http_client(agent)
            .build()
            .unwrap();
        let err = client.health().unwrap_err();
        assert_eq!(err.to_string(), "FlowScale API error 401: Invalid API key");
        m.assert();
    }

    #[test]
    fn a_callers_agent_that_follows_redirects_never_takes_the_key_elsewhere() {
        let (elsewhere, keys) =
            crate::common::key_capture_server(std::time::Duration::from_secs(60));
        let pod = crate::common::scripted_server(
            vec![crate::common::http_reply(
                "302 Found",
                &[("location", &format!("{elsewhere}/api/v1/comfy/health"))],
                b"",
            )],
            std::time::Duration::from_secs(60),
        );
        // ureq's default agent follows up to 10 redirects.
        let agent: ureq::Agent = ureq::Agent::config_builder().build().into();
        let client = Client::builder()
            .api_key(crate::common::KEY)
            .base_url(&pod)
            .http_client(agent)
            .build()
            .unwrap();
        let err = client.health().unwrap_err();
        assert_eq!(err.status(), Some(302), "{err}");
        assert!(
            keys.lock().unwrap().is_empty(),
            "the key followed the redirect"
        );
    }

    #[test]
    fn two_downloads_to_one_file_never_share_a_partial_file() {
        // One byte a second: the first download is still going when the second starts.
        let url = crate::common::drip_server(b"0123", std::time::Duration::from_secs(30));
        let dir = crate::common::fresh_dir("same-dest");
        let dest = dir.join("out.png");
        let client = Client::new(crate::common::KEY, "http://127.0.0.1:9").unwrap();
        let first = {
            let (client, url, dest) = (client.clone(), url.clone(), dest.clone());
            std::thread::spawn(move || client.download(&format!("{url}/a.png"), &dest))
        };
        let partial = dir.join("out.png.part");
        let start = std::time::Instant::now();
        while !partial.exists() && start.elapsed() < std::time::Duration::from_secs(20) {
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
        let err = client.download(&format!("{url}/b.png"), &dest).unwrap_err();
        assert!(matches!(err, flowscale::Error::Io { .. }), "{err}");
        assert_eq!(
            first.join().unwrap().unwrap(),
            4,
            "the first one is undisturbed"
        );
        assert_eq!(std::fs::read(&dest).unwrap(), b"0123");
        assert!(!partial.exists());
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn streamed_fields_are_refused_by_the_blocking_client() {
        let client = Client::new(crate::common::KEY, "http://127.0.0.1:9").unwrap();
        let inputs = flowscale::Inputs::new().streamed_fields(futures_util::stream::empty());
        let err = client.execute_workflow("wf1", inputs).unwrap_err();
        assert!(
            matches!(&err, flowscale::Error::Input { field, .. } if field == "streamed_fields"),
            "{err}"
        );
    }

    #[test]
    fn async_readers_are_refused_by_the_blocking_client() {
        let mut server = server();
        let m = server
            .mock("POST", "/api/v1/runs")
            .match_query(mockito::Matcher::Any)
            .expect(0)
            .create();
        let client = Client::new(crate::common::KEY, server.url()).unwrap();
        let inputs = flowscale::Inputs::new().set(
            "image_1",
            flowscale::Reader::from_async(&b"png"[..], "a.png"),
        );
        let err = client.execute_workflow("wf1", inputs).unwrap_err();
        assert!(
            matches!(&err, flowscale::Error::Input { field, .. } if field == "image_1"),
            "{err}"
        );
        m.assert();
    }

    #[test]
    fn requests_in_flight_and_sockets_stay_within_the_bound() {
        let (url, peaks) = crate::common::counting_server(std::time::Duration::from_millis(100));
        let client = Client::builder()
            .api_key(crate::common::KEY)
            .base_url(url)
            .max_concurrent_requests(3)
            .build()
            .unwrap();
        let calls: Vec<_> = (0..12)
            .map(|_| {
                let client = client.clone();
                std::thread::spawn(move || client.run("r1"))
            })
            .collect();
        for call in calls {
            call.join().unwrap().unwrap();
        }
        peaks.assert_within(3);
    }

    #[test]
    fn downloads_take_turns_within_the_bound_too() {
        let (url, peaks) = crate::common::counting_server(std::time::Duration::from_millis(100));
        let client = Client::builder()
            .api_key(crate::common::KEY)
            .base_url(url.clone())
            .max_concurrent_requests(3)
            .build()
            .unwrap();
        let calls: Vec<_> = (0..12)
            .map(|i| {
                let (client, url) = (client.clone(), url.clone());
                std::thread::spawn(move || client.download_bytes(&format!("{url}/f/{i}"), 1 << 20))
            })
            .collect();
        for call in calls {
            call.join().unwrap().unwrap();
        }
        assert!(peaks.most_in_flight() <= 3, "{}", peaks.most_in_flight());
    }

    #[test]
    fn a_wait_queued_behind_the_bound_still_ends_by_its_deadline() {
        // The only turn is held by a download that takes 20 s (a byte a second).
        let drip = crate::common::drip_server(&[b'x'; 20], std::time::Duration::from_secs(60));
        let (url, _) = crate::common::counting_server(std::time::Duration::ZERO);
        let client = Client::builder()
            .api_key(crate::common::KEY)
            .base_url(url)
            .max_concurrent_requests(1)
            .build()
            .unwrap();
        let holder = {
            let client = client.clone();
            std::thread::spawn(move || client.download_bytes(&format!("{drip}/slow"), 1 << 20))
        };
        std::thread::sleep(std::time::Duration::from_millis(300));
        let start = std::time::Instant::now();
        let options = flowscale::WaitOptions::new().timeout(std::time::Duration::from_secs(1));
        let err = client.wait_for_run("r1", &options).unwrap_err();
        assert!(matches!(err, flowscale::Error::Timeout { .. }), "{err:?}");
        assert!(
            start.elapsed() < std::time::Duration::from_secs(10),
            "{:?}",
            start.elapsed()
        );
        drop(holder);
    }
}

#[path = "cases"]
mod nonblocking {
    pub use maybe_async::must_be_async as maybe_async;
    pub use tokio::test as case;
    pub type Client = flowscale::AsyncClient;

    /// A fresh mock server.
    pub async fn server() -> mockito::ServerGuard {
        mockito::Server::new_async().await
    }

    mod batch;
    mod conformance;
    mod deadlines;
    mod download;
    mod endpoints;
    mod errors;
    mod inputs;
    mod lost;
    mod outputs;
    mod parity;
    mod resume;
    mod retries;
    mod shapes;
    mod simulator;
    mod typed;
    mod wait;
    mod workflows;

    #[tokio::test]
    async fn a_dropped_download_keeps_its_bytes_for_the_next_call() {
        // One byte a second: the download is still going when its future is dropped.
        let url = crate::common::drip_server(b"0123456789", std::time::Duration::from_secs(30));
        let dir = crate::common::fresh_dir("dropped-download");
        let dest = dir.join("out.png");
        let client = Client::new(crate::common::KEY, "http://127.0.0.1:9").unwrap();
        let link = format!("{url}/out.png");
        let download = client.download(&link, &dest);
        let cut = tokio::time::timeout(std::time::Duration::from_millis(1500), download).await;
        assert!(cut.is_err(), "the download was cut short");
        // Nothing at the final name; what came is kept, with its record, for resuming.
        assert!(!dest.exists());
        let kept = std::fs::read(dir.join("out.png.part")).unwrap();
        assert!(b"0123456789".starts_with(&kept), "{kept:?}");
        assert!(dir.join("out.png.part.meta").is_file());
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[tokio::test]
    async fn a_callers_reqwest_client_is_used() {
        let mut server = server().await;
        let m = server
            .mock("GET", "/api/v1/comfy/health")
            .match_header("user-agent", "client-of-my-own")
            .with_status(401)
            .with_body(r#"{"status":"error","errors":"Invalid API key"}"#)
            .create_async()
            .await;
        let http = reqwest::Client::builder().user_agent("client-of-my-own");
        let client = Client::builder()
            .api_key(crate::common::KEY)
            .base_url(server.url())
            .http_client(http)
            .build()
            .unwrap();
        let err = client.health().await.unwrap_err();
        assert_eq!(err.to_string(), "FlowScale API error 401: Invalid API key");
        m.assert_async().await;
    }

    #[tokio::test]
    async fn a_submission_dropped_in_flight_hands_its_run_to_the_hook() {
        use flowscale::mock::{Fault, MockServer, MockWorkflow, Route};
        let server = MockServer::start();
        server.register(MockWorkflow::new("wf"));
        // The run is created, its answer held back: the caller gives up first, once the
        // pod has the run (3 s before its answer would come).
        server.fail_next(
            Route::Execute,
            1,
            Fault::DelayAnswer(std::time::Duration::from_secs(3)),
        );
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
        let client = Client::builder()
            .api_key(server.api_key())
            .base_url(server.url())
            .on_orphaned_run(move |orphan| tx.send(orphan.clone()).unwrap())
            .build()
            .unwrap();
        {
            let submit = client.execute_workflow("wf", [("text", "a fox")]);
            tokio::pin!(submit);
            loop {
                tokio::select! {
                    answer = &mut submit => panic!("answered before the caller gave up: {answer:?}"),
                    _ = tokio::time::sleep(std::time::Duration::from_millis(10)) => {}
                }
                if !server.runs().is_empty() {
                    break;
                }
            }
            // The caller's future is dropped here, with the answer still on its way.
        }
        let orphan = tokio::time::timeout(std::time::Duration::from_secs(30), rx.recv())
            .await
            .expect("the hook was never called")
            .unwrap();
        let runs = server.runs();
        assert_eq!(runs.len(), 1);
        assert_eq!(orphan.run_id(), Some(runs[0].id.as_str()));
        assert_eq!(orphan.workflow_id, "wf");
        assert_eq!(orphan.state.paid(), flowscale::Paid::Yes);

        // A caller that stays hears the answer itself; the hook hears nothing.
        let run = client
            .execute_workflow("wf", [("text", "a hare")])
            .await
            .unwrap();
        assert_eq!(server.runs().len(), 2);
        assert_eq!(run.run_id, server.runs()[1].id);
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        assert!(rx.try_recv().is_err());
    }

    #[tokio::test]
    async fn a_dropped_submission_whose_answer_was_lost_reaches_the_hook_with_its_group() {
        use flowscale::mock::{Fault, MockServer, MockWorkflow, Route};
        let server = MockServer::start();
        server.register(MockWorkflow::new("wf"));
        // The run is created; its answer never comes in time; the runs cannot be listed:
        // the SDK cannot name the run, and says so to the hook (a run may exist).
        server.fail_next(
            Route::Execute,
            1,
            Fault::DelayAnswer(std::time::Duration::from_secs(30)),
        );
        server.fail_next(Route::RunList, 100, Fault::Status(503));
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
        let client = Client::builder()
            .api_key(server.api_key())
            .base_url(server.url())
            .response_timeout(std::time::Duration::from_secs(1))
            .on_orphaned_run(move |orphan| tx.send(orphan.clone()).unwrap())
            .build()
            .unwrap();
        {
            let inputs = flowscale::Inputs::new()
                .set("text", "a fox")
                .group_id("tenant-7");
            let submit = client.execute_workflow("wf", inputs);
            tokio::pin!(submit);
            loop {
                tokio::select! {
                    answer = &mut submit => panic!("answered before the caller gave up: {answer:?}"),
                    _ = tokio::time::sleep(std::time::Duration::from_millis(10)) => {}
                }
                if !server.runs().is_empty() {
                    break;
                }
            }
        }
        let orphan = tokio::time::timeout(std::time::Duration::from_secs(30), rx.recv())
            .await
            .expect("the hook was never called")
            .unwrap();
        assert_eq!(orphan.state.paid(), flowscale::Paid::Maybe, "{orphan:?}");
        assert_eq!(orphan.run_id(), None);
        assert_eq!(orphan.group_id.as_deref(), Some("tenant-7"));
        assert!(matches!(
            orphan.state,
            flowscale::SubmissionState::Doubt { .. }
        ));
    }

    #[tokio::test]
    async fn a_relay_that_refuses_a_field_mid_stream_starts_no_run() {
        use flowscale::mock::{MockServer, MockWorkflow};
        use std::sync::Arc;
        use std::sync::atomic::{AtomicBool, Ordering};
        let server = MockServer::start();
        server.register(MockWorkflow::new("wf"));
        let client = Client::new(server.api_key(), server.url()).unwrap();
        let abort = Arc::new(AtomicBool::new(false));
        let (tx, rx) = tokio::sync::mpsc::channel::<(String, flowscale::Input)>(1);
        let fields = futures_util::stream::unfold(rx, |mut rx| async move {
            rx.recv().await.map(|field| (field, rx))
        });
        // The upload is under way (bytes handed to the connection) before the relay aborts.
        let (going, gone) = tokio::sync::oneshot::channel::<()>();
        let going = std::sync::Mutex::new(Some(going));
        let inputs = flowscale::Inputs::new()
            .streamed_fields(fields)
            .stop_on(abort.clone())
            .on_progress(move |p| {
                if p.done > 0
                    && let Some(tell) = going.lock().unwrap().take()
                {
                    let _ = tell.send(());
                }
            });
        let relay = async move {
            tx.send(("text".into(), "a fox".into())).await.unwrap();
            gone.await.unwrap();
            // A field the relay refuses: it aborts, then ends the stream.
            abort.store(true, Ordering::SeqCst);
            drop(tx);
        };
        let (answer, ()) = tokio::join!(client.execute_workflow("wf", inputs), relay);
        let err = answer.unwrap_err();
        assert!(matches!(err, flowscale::Error::Input { .. }), "{err:?}");
        tokio::time::sleep(std::time::Duration::from_millis(300)).await;
        assert!(server.runs().is_empty(), "an aborted relay started a run");
    }

    #[tokio::test]
    async fn a_callers_reqwest_settings_never_take_the_key_elsewhere() {
        let (elsewhere, keys) =
            crate::common::key_capture_server(std::time::Duration::from_secs(60));
        let pod = crate::common::scripted_server(
            vec![crate::common::http_reply(
                "307 Temporary Redirect",
                &[("location", &format!("{elsewhere}/api/v1/comfy/health"))],
                b"",
            )],
            std::time::Duration::from_secs(60),
        );
        // A builder that asks for redirects to be followed: the SDK builds it without.
        let http = reqwest::Client::builder().redirect(reqwest::redirect::Policy::limited(10));
        let client = Client::builder()
            .api_key(crate::common::KEY)
            .base_url(&pod)
            .http_client(http)
            .build()
            .unwrap();
        let err = client.health().await.unwrap_err();
        assert_eq!(err.status(), Some(307), "{err}");
        assert!(
            keys.lock().unwrap().is_empty(),
            "the key followed the redirect"
        );
    }

    #[tokio::test]
    async fn streamed_fields_are_relayed_as_they_arrive() {
        use crate::common::{KEY, Recorder, fixture, ok};
        use flowscale::{Input, Inputs, Reader};
        use tokio::io::AsyncWriteExt;

        let mut server = server().await;
        let rec = Recorder::new();
        let _m = server
            .mock("POST", "/api/v1/runs")
            .match_query(mockito::Matcher::Any)
            .match_request(rec.matcher())
            .with_body(ok(serde_json::json!({"run_id": "r1"})))
            .create_async()
            .await;
        let client = Client::new(KEY, server.url()).unwrap();
        let png = std::fs::read(fixture("cat.png")).unwrap();

        // A producer that learns its fields one by one, like a server reading an upload.
        let (tx, rx) = tokio::sync::mpsc::channel::<(String, Input)>(1);
        let fields = futures_util::stream::unfold(rx, |mut rx| async move {
            rx.recv().await.map(|field| (field, rx))
        });
        let bytes = png.clone();
        let producer = tokio::spawn(async move {
            tx.send(("text_1".into(), "late text".into()))
                .await
                .unwrap();
            let (mut writer, reader) = tokio::io::duplex(1024);
            let part = Reader::from_async(reader, "cat.png").into();
            tx.send(("image_1".into(), part)).await.unwrap();
            for chunk in bytes.chunks(500) {
                writer.write_all(chunk).await.unwrap();
            }
            drop(writer);
            tx.send(("tags".into(), vec!["a", "b"].into()))
                .await
                .unwrap();
        });
        let inputs = Inputs::new().set("first", 1).streamed_fields(fields);
        client.execute_workflow("wf1", inputs).await.unwrap();
        producer.await.unwrap();

        let seen = rec.one();
        assert_eq!(seen.transfer_encoding.as_deref(), Some("chunked"));
        let fields = seen.body.fields();
        let names: Vec<_> = fields.iter().map(|(k, v)| format!("{k}={v}")).collect();
        assert_eq!(
            names,
            ["first=1", "tags_0=a", "tags_1=b", "text_1=late text"]
        );
        let files = seen.body.files();
        assert_eq!(files[0].name, "image_1");
        assert_eq!(files[0].content_type.as_deref(), Some("image/png"));
        assert_eq!(files[0].bytes, png);
    }

    #[tokio::test]
    async fn async_readers_stream_into_the_form() {
        use crate::common::{KEY, Recorder, fixture, ok};
        let mut server = server().await;
        let rec = Recorder::new();
        let _m = server
            .mock("POST", "/api/v1/runs")
            .match_query(mockito::Matcher::Any)
            .match_request(rec.matcher())
            .with_body(ok(serde_json::json!({"run_id": "r1"})))
            .create_async()
            .await;
        let client = Client::new(KEY, server.url()).unwrap();
        let file = tokio::fs::File::open(fixture("dog.jpg")).await.unwrap();
        let inputs = flowscale::Inputs::new().set(
            "image_1",
            flowscale::Reader::from_async(file, "dog.jpg").with_length(5004),
        );
        client.execute_workflow("wf1", inputs).await.unwrap();
        let seen = rec.one();
        let files = seen.body.files();
        assert_eq!(files.len(), 1);
        assert_eq!(files[0].filename, "dog.jpg");
        assert_eq!(files[0].content_type.as_deref(), Some("image/jpeg"));
        assert_eq!(files[0].bytes, std::fs::read(fixture("dog.jpg")).unwrap());
        assert_eq!(seen.content_length, Some(seen.raw_body.len().to_string()));
    }

    /// Servers need `Send` futures (axum handlers, `tokio::spawn`): checked at compile time.
    #[test]
    fn async_client_futures_are_send() {
        fn send<T: Send>(_: &T) {}
        let client = Client::new("k", "http://127.0.0.1:9").unwrap();
        let options = flowscale::WaitOptions::new();
        let inputs = || {
            flowscale::Inputs::new()
                .set("a", 1)
                .set("f", flowscale::Reader::from_async(&b"x"[..], "x.bin"))
        };
        send(&client.health());
        send(&client.queue());
        send(&client.execute_workflow("wf", inputs()));
        send(&client.execute_workflow_and_wait("wf", inputs(), &options));
        send(&client.wait_for_run("r", &options));
        send(&client.output("o"));
        send(&client.run("r"));
        let query = flowscale::RunsQuery::new();
        send(&client.runs_page(&query));
        send(&client.runs(query.clone()));
        send(&client.cancel_run("r"));
        send(&client.download("http://127.0.0.1:9/x", "x"));
        send(&client.run_batch(flowscale::Batch::new("wf", "out")));
        let result: flowscale::WorkflowResult =
            serde_json::from_str(r#"{"run_id":"r","workflow_id":null,"outputs":[]}"#).unwrap();
        let save = flowscale::DownloadOptions::new();
        send(&client.download_outputs(&result, "out", &save));
        send(&client.download_run_outputs("r", "out", &save));
        send(&client.download_bytes("http://127.0.0.1:9/x", 1));
        // Clients are shared between tasks.
        fn share<T: Send + Sync + Clone>(_: &T) {}
        share(&client);
    }

    /// A blocking reader runs on the runtime's blocking pool: if it panics there, the upload
    /// fails; it does not pass for a reader that ended.
    #[tokio::test]
    async fn a_reader_that_panics_fails_the_upload() {
        struct Panicking(bool);
        impl std::io::Read for Panicking {
            fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
                if std::mem::replace(&mut self.0, true) {
                    panic!("a reader's bug");
                }
                buf[..4].copy_from_slice(b"data");
                Ok(4)
            }
        }
        let mut server = server().await;
        let m = server
            .mock("POST", "/api/v1/runs")
            .match_query(mockito::Matcher::Any)
            .with_body(crate::common::ok(serde_json::json!({"run_id": "r1"})))
            .expect(0)
            .create_async()
            .await;
        let client = Client::new(crate::common::KEY, server.url()).unwrap();
        let inputs =
            flowscale::Inputs::new().set("f", flowscale::Reader::new(Panicking(false), "f.bin"));
        let err = client.execute_workflow("wf1", inputs).await.unwrap_err();
        assert!(
            matches!(&err, flowscale::Error::Input { field, .. } if field == "f"),
            "{err:?}"
        );
        m.assert_async().await;
    }

    /// Text needs no file opened: it is encoded in place, so a program whose blocking pool
    /// is busy (here: its only thread, for a minute) still starts runs at once.
    #[test]
    fn a_text_only_run_does_not_wait_for_the_blocking_pool() {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .max_blocking_threads(1)
            .enable_all()
            .build()
            .unwrap();
        let outcome = runtime.block_on(async {
            let mut server = server().await;
            let _m = server
                .mock("POST", "/api/v1/runs")
                .match_query(mockito::Matcher::Any)
                .with_body(crate::common::ok(serde_json::json!({"run_id": "r1"})))
                .create_async()
                .await;
            tokio::task::spawn_blocking(|| std::thread::sleep(std::time::Duration::from_secs(60)));
            let client = Client::new(crate::common::KEY, server.url()).unwrap();
            let inputs = flowscale::Inputs::new()
                .set("prompt", "a cat")
                .set("seed", 7)
                .json("extra", serde_json::json!({"a": [1, 2]}));
            let run = client.execute_workflow("wf1", inputs);
            tokio::time::timeout(std::time::Duration::from_secs(20), run).await
        });
        runtime.shutdown_background();
        let execution = outcome
            .expect("the run started without the blocking pool")
            .unwrap();
        assert_eq!(execution.run_id, "r1");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn requests_in_flight_and_sockets_stay_within_the_bound() {
        let (url, peaks) = crate::common::counting_server(std::time::Duration::from_millis(100));
        let client = Client::builder()
            .api_key(crate::common::KEY)
            .base_url(url)
            .max_concurrent_requests(3)
            .build()
            .unwrap();
        let calls = (0..12).map(|_| client.run("r1"));
        for outcome in futures_util::future::join_all(calls).await {
            outcome.unwrap();
        }
        peaks.assert_within(3);
    }

    #[tokio::test]
    async fn downloads_take_turns_within_the_bound_too() {
        let (url, peaks) = crate::common::counting_server(std::time::Duration::from_millis(100));
        let client = Client::builder()
            .api_key(crate::common::KEY)
            .base_url(url.clone())
            .max_concurrent_requests(3)
            .build()
            .unwrap();
        let links: Vec<String> = (0..12).map(|i| format!("{url}/f/{i}")).collect();
        let calls = links
            .iter()
            .map(|link| client.download_bytes(link, 1 << 20));
        for outcome in futures_util::future::join_all(calls).await {
            outcome.unwrap();
        }
        assert!(peaks.most_in_flight() <= 3, "{}", peaks.most_in_flight());
    }

    #[tokio::test]
    async fn a_wait_queued_behind_the_bound_still_ends_by_its_deadline() {
        // The only turn is held by a download that takes 20 s (a byte a second).
        let drip = crate::common::drip_server(&[b'x'; 20], std::time::Duration::from_secs(60));
        let (url, _) = crate::common::counting_server(std::time::Duration::ZERO);
        let client = Client::builder()
            .api_key(crate::common::KEY)
            .base_url(url)
            .max_concurrent_requests(1)
            .build()
            .unwrap();
        let holder = {
            let client = client.clone();
            tokio::spawn(async move {
                client
                    .download_bytes(&format!("{drip}/slow"), 1 << 20)
                    .await
            })
        };
        tokio::time::sleep(std::time::Duration::from_millis(300)).await;
        let start = std::time::Instant::now();
        let options = flowscale::WaitOptions::new().timeout(std::time::Duration::from_secs(1));
        let err = client.wait_for_run("r1", &options).await.unwrap_err();
        assert!(matches!(err, flowscale::Error::Timeout { .. }), "{err:?}");
        assert!(
            start.elapsed() < std::time::Duration::from_secs(10),
            "{:?}",
            start.elapsed()
        );
        holder.abort();
    }
}
