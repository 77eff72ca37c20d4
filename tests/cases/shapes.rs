//! The answer shapes of FlowScale's own OpenAPI file, beside those of every Python SDK
//! release: an execute answer whose `data` is an array of one, containers named `url` or
//! `comfy_uri` (or several names at once), and an execute answer that cannot be read but
//! names its run, which may have started all the same.

use flowscale::Error;
use serde_json::json;

use super::{Client, case, maybe_async, server};
use crate::common::{KEY, ok};

#[maybe_async]
#[case]
async fn an_execute_answer_as_the_openapi_file_has_it_is_read() {
    let mut server = server().await;
    let _m = server
        .mock("POST", "/api/v1/runs")
        .match_query(mockito::Matcher::Any)
        .with_body(ok(json!([{"run_id": "r-spec", "workflow_id": "wf"}])))
        .create();
    let exec = Client::new(KEY, server.url())
        .unwrap()
        .execute_workflow("wf", [("a", 1)])
        .await
        .unwrap();
    assert_eq!(exec.run_id, "r-spec");
    assert_eq!(exec.workflow_id.as_deref(), Some("wf"));
}

#[maybe_async]
#[case]
async fn an_execute_answer_with_no_run_or_several_says_so() {
    for (data, count) in [
        (json!([]), 0),
        (json!([{"run_id": "a"}, {"run_id": "b"}]), 2),
    ] {
        let mut server = server().await;
        let _m = server
            .mock("POST", "/api/v1/runs")
            .match_query(mockito::Matcher::Any)
            .with_body(ok(data))
            .create();
        let err = Client::new(KEY, server.url())
            .unwrap()
            .execute_workflow("wf", [("a", 1)])
            .await
            .unwrap_err();
        // An answer that cannot be read and names no run may hide one: it is looked for
        // (this server lists none), and the error says a run may exist, with the unreadable
        // answer as its cause. One that names a run is returned as it is, with that run.
        let decode = match (&err, count) {
            (Error::AnswerLost { cause, .. }, 0) => &**cause,
            (decode @ Error::Decode { .. }, 2) => decode,
            _ => panic!("{err:?}"),
        };
        assert!(matches!(decode, Error::Decode { .. }), "{err:?}");
        let cause = std::error::Error::source(decode).unwrap().to_string();
        assert!(cause.contains(&format!("holds {count} runs")), "{cause}");
    }
}

#[maybe_async]
#[case]
async fn an_execute_answer_that_cannot_be_read_keeps_the_run_it_names() {
    for body in [
        // A shape nobody documents, but JSON: the id is found wherever it is.
        json!({"status": "success", "data": {"run": {"run_id": "r-lost", "n": 1}}}).to_string(),
        // Not even JSON (cut short), but the id is there.
        r#"{"status": "success", "data": {"run_id": "r-cut", "workflow_id": "w"#.to_owned(),
    ] {
        let mut server = server().await;
        let _m = server
            .mock("POST", "/api/v1/runs")
            .match_query(mockito::Matcher::Any)
            .with_body(body.clone())
            .create();
        let err = Client::new(KEY, server.url())
            .unwrap()
            .execute_workflow("wf", [("a", 1)])
            .await
            .unwrap_err();
        assert!(matches!(err, Error::Decode { .. }), "{err:?}");
        let expected = if body.contains("r-lost") {
            "r-lost"
        } else {
            "r-cut"
        };
        assert_eq!(err.run_id(), Some(expected), "{err:?}");
    }
}

#[maybe_async]
#[case]
async fn containers_are_named_by_any_key_servers_use_even_several_at_once() {
    let mut server = server().await;
    let _h = server
        .mock("GET", "/api/v1/comfy/health")
        .with_body(ok(json!([
            {"url": "http://c1:8188", "status": "idle"},
            {"container": "container #2", "url": "http://c2:8188", "comfy_uri": "http://c2:8188", "status": "running"},
        ])))
        .create();
    let _q = server
        .mock("GET", "/api/v1/comfy/queue")
        .with_body(ok(json!([
            {"comfy_uri": "http://c1:8188", "queue": {"queue_running": [], "queue_pending": []}},
            {"container": "container #2", "comfy_uri": "http://c2:8188", "queue": {"queue_running": [], "queue_pending": []}},
        ])))
        .create();
    let client = Client::new(KEY, server.url()).unwrap();
    let health = client.health().await.unwrap();
    assert_eq!(health[0].container, "http://c1:8188");
    assert_eq!(health[1].container, "container #2");
    let queue = client.queue().await.unwrap();
    assert_eq!(queue[0].container, "http://c1:8188");
    assert_eq!(queue[1].container, "container #2");
}

/// The whole main job against the simulator in every shape mode, FlowScale's OpenAPI file
/// included: health, queue, a run with a file, the wait, the saved outputs, the run, the
/// list of runs.
#[maybe_async]
#[case]
async fn the_whole_flow_works_in_every_shape_mode() {
    use flowscale::mock::{MockServer, MockWorkflow, Shapes};
    use flowscale::{DownloadOptions, Inputs, RunsQuery, WaitOptions};
    use std::time::Duration;

    for shapes in [Shapes::Union, Shapes::Current, Shapes::Legacy, Shapes::Spec] {
        let server = MockServer::start();
        server.serve_shapes(shapes);
        server.register(
            MockWorkflow::new("wf")
                .outputs(["image", "preview"])
                .queued_for(Duration::ZERO)
                .duration(Duration::from_millis(50)),
        );
        let client = Client::new(server.api_key(), server.url()).unwrap();
        let health = client.health().await.unwrap();
        assert!(
            health.iter().all(|c| !c.container.is_empty()),
            "{shapes:?}: {health:?}"
        );
        let queue = client.queue().await.unwrap();
        assert!(
            queue.iter().all(|c| !c.container.is_empty()),
            "{shapes:?}: {queue:?}"
        );

        let inputs = Inputs::new()
            .set("text_1", "a cat")
            .set("image_1", crate::common::fixture("cat.png").as_path());
        let options = WaitOptions::new().poll_interval(Duration::from_millis(50));
        let result = client
            .execute_workflow_and_wait("wf", inputs.group_id("g1"), &options)
            .await
            .unwrap_or_else(|e| panic!("{shapes:?}: {e:?}"));
        assert_eq!(result.outputs.len(), 2, "{shapes:?}");
        let dir = crate::common::fresh_dir(&format!("shapes-{shapes:?}"));
        let saved = client
            .download_outputs(&result, &dir, &DownloadOptions::new())
            .await
            .unwrap();
        assert!(
            saved.iter().all(|s| s.path.is_file() && s.bytes > 0),
            "{shapes:?}"
        );

        let run = client.run(&result.run_id).await.unwrap();
        assert_eq!(
            run.id.as_deref(),
            Some(result.run_id.as_str()),
            "{shapes:?}"
        );
        assert_eq!(run.status, flowscale::RunStatus::Completed);
        let page = client
            .runs_page(&RunsQuery::new().group_id("g1"))
            .await
            .unwrap();
        assert_eq!(page.runs.len(), 1, "{shapes:?}");
        // The OpenAPI file's runs have no id; every other shape names it.
        let listed = page.runs[0].id.as_deref();
        match shapes {
            Shapes::Spec => assert_eq!(listed, None),
            _ => assert_eq!(listed, Some(result.run_id.as_str()), "{shapes:?}"),
        }
        let _ = std::fs::remove_dir_all(&dir);
    }
}

/// Odd but spec-conforming values of bookkeeping fields the client does not act on: the
/// OpenAPI file types them only as `integer` or `string`.
fn odd() -> Vec<serde_json::Value> {
    vec![
        json!(-1),
        json!(1e300),
        json!(3.5),
        json!(null),
        json!("12"),
        // 2^64: past every field's integer type.
        serde_json::from_str("18446744073709551616").unwrap(),
        json!({"nested": true}),
    ]
}

#[maybe_async]
#[case]
async fn odd_bookkeeping_values_never_cost_the_data_around_them() {
    let run = crate::common::run_json("r1", "completed");
    for odd in odd() {
        let mut server = server().await;
        // A runs page of the OpenAPI file's shape, and of the newer one with `meta`.
        let _old = server
            .mock("GET", "/api/v1/runs")
            .match_query(mockito::Matcher::UrlEncoded("page".into(), "1".into()))
            .with_body(ok(json!({"group_id": odd, "count": odd, "runs": [run]})))
            .create();
        let _new = server
            .mock("GET", "/api/v1/runs")
            .match_query(mockito::Matcher::UrlEncoded("page".into(), "2".into()))
            .with_body(
                json!({"status": "success", "data": {"runs": [run]},
                       "meta": {"page": odd, "page_size": odd, "total_count": odd,
                                "total_pages": odd, "sort_by": odd, "group_id": odd}})
                .to_string(),
            )
            .create();
        let _exec = server
            .mock("POST", "/api/v1/runs")
            .match_query(mockito::Matcher::Any)
            .with_body(ok(
                json!({"run_id": "r2", "number": odd, "output_names": ["a"]}),
            ))
            .create();
        let client = Client::new(KEY, server.url()).unwrap();
        for page in [1, 2] {
            let got = client
                .runs_page(&flowscale::RunsQuery::new().page(page))
                .await
                .unwrap_or_else(|e| panic!("{odd} on page {page}: {e}"));
            assert_eq!(got.runs.len(), 1, "{odd}");
            assert_eq!(got.runs[0].id.as_deref(), Some("r1"), "{odd}");
        }
        let exec = client
            .execute_workflow("wf", [("a", 1)])
            .await
            .unwrap_or_else(|e| panic!("{odd}: {e}"));
        assert_eq!(
            (exec.run_id.as_str(), exec.output_names.len()),
            ("r2", 1),
            "{odd}"
        );
    }
    // And missing altogether.
    let mut server = server().await;
    let _m = server
        .mock("GET", "/api/v1/runs")
        .match_query(mockito::Matcher::Any)
        .with_body(ok(json!({"runs": [run]})))
        .create();
    let page = Client::new(KEY, server.url())
        .unwrap()
        .runs_page(&flowscale::RunsQuery::new())
        .await
        .unwrap();
    assert_eq!(page.runs.len(), 1);
}
