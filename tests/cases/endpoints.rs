//! Each endpoint: the request sent (method, path, query, key) and the typed answer,
//! in both server generations.

use serde_json::json;

use super::{Client, case, maybe_async, server};
use crate::common::{KEY, RUN_ID, Recorder, ok, run_json};
use flowscale::types::ContainerStatus;
use flowscale::{Error, RunStatus, RunsQuery, SortBy, SortOrder};

fn client(url: String) -> Client {
    Client::new(KEY, url).unwrap()
}

#[maybe_async]
#[case]
async fn check_health_decodes_both_key_names() {
    let mut server = server().await;
    let rec = Recorder::new();
    let m = server
        .mock("GET", "/api/v1/comfy/health")
        .match_header("x-api-key", KEY)
        .match_request(rec.matcher())
        .with_body(ok(json!([
            {"container": "container #1", "status": "idle"},
            {"url": "http://10.0.0.2:8188", "status": "running"},
            {"container": "container #3", "status": "warming_up", "extra": 1}
        ])))
        .create();
    let health = client(server.url()).health().await.unwrap();
    m.assert();
    assert_eq!(health.len(), 3);
    assert_eq!(health[0].container, "container #1");
    assert_eq!(health[0].status, ContainerStatus::Idle);
    assert_eq!(health[1].container, "http://10.0.0.2:8188");
    assert_eq!(health[1].status, ContainerStatus::Running);
    assert_eq!(
        health[2].status,
        ContainerStatus::Other("warming_up".into())
    );
    let seen = rec.one();
    assert_eq!(seen.method, "GET");
    assert_eq!(seen.raw_query, "");
    assert_eq!(seen.api_key.as_deref(), Some(KEY));
}

#[maybe_async]
#[case]
async fn get_queue_decodes_running_and_pending() {
    let mut server = server().await;
    let m = server
        .mock("GET", "/api/v1/comfy/queue")
        .match_header("x-api-key", KEY)
        .with_body(ok(json!([
            {"container": "container #1",
             "queue": {"queue_running": [[0, RUN_ID, {}]], "queue_pending": [[1, "p2"], [2, "p3"]]}},
            {"comfy_uri": "http://c2", "queue": {"queue_running": [], "queue_pending": null}}
        ])))
        .create();
    let queue = client(server.url()).queue().await.unwrap();
    m.assert();
    assert_eq!(queue[0].container, "container #1");
    assert_eq!(queue[0].queue.queue_running[0].prompt_id(), Some(RUN_ID));
    assert_eq!(queue[0].queue.queue_running[0].number(), Some(0));
    assert_eq!(queue[0].queue.queue_pending.len(), 2);
    assert_eq!(queue[1].container, "http://c2");
    assert!(queue[1].queue.queue_pending.is_empty());
}

#[maybe_async]
#[case]
async fn execute_workflow_sends_query_and_reads_new_response() {
    let mut server = server().await;
    let rec = Recorder::new();
    let m = server
        .mock("POST", "/api/v1/runs")
        .match_query(mockito::Matcher::Any)
        .match_header("x-api-key", KEY)
        .match_request(rec.matcher())
        .with_body(ok(json!({"run_id": RUN_ID, "workflow_id": "wf&1"})))
        .create();
    let exec = client(server.url())
        .execute_workflow(
            "wf&1",
            flowscale::Inputs::from([("text_1", "hello world")]).group_id("g#1+2"),
        )
        .await
        .unwrap();
    m.assert();
    assert_eq!(exec.run_id, RUN_ID);
    assert_eq!(exec.workflow_id.as_deref(), Some("wf&1"));
    assert!(exec.output_names.is_empty());
    let seen = rec.one();
    assert_eq!(seen.raw_query, "workflow_id=wf%261&group_id=g%231%2B2");
    assert_eq!(
        seen.query,
        vec![
            ("workflow_id".into(), "wf&1".into()),
            ("group_id".into(), "g#1+2".into())
        ]
    );
    // Text alone goes as multipart too: the only execute body the OpenAPI file allows.
    assert!(
        seen.content_type
            .as_deref()
            .is_some_and(|ct| ct.starts_with("multipart/form-data; boundary=")),
        "{:?}",
        seen.content_type
    );
    assert_eq!(
        seen.body.fields(),
        vec![("text_1".into(), "hello world".into())]
    );
}

#[maybe_async]
#[case]
async fn execute_workflow_reads_old_response() {
    let mut server = server().await;
    let m = server
        .mock("POST", "/api/v1/runs")
        .match_query(mockito::Matcher::UrlEncoded(
            "workflow_id".into(),
            "wf1".into(),
        ))
        .with_body(ok(json!({
            "run_id": RUN_ID, "number": 7, "node_errors": {}, "output_names": ["out_a", "out_b"]
        })))
        .create();
    let exec = client(server.url())
        .execute_workflow("wf1", flowscale::Inputs::new())
        .await
        .unwrap();
    m.assert();
    assert_eq!(exec.run_id, RUN_ID);
    assert_eq!(exec.workflow_id, None);
    assert_eq!(exec.number, Some(7));
    assert_eq!(exec.output_names, vec!["out_a", "out_b"]);
}

#[maybe_async]
#[case]
async fn get_output_ready_pending_and_timed_out() {
    let mut server = server().await;
    let ready = server
        .mock("GET", "/api/v1/runs/output")
        .match_query(mockito::Matcher::UrlEncoded("filename".into(), "out_1".into()))
        .match_header("x-api-key", KEY)
        .with_body(ok(json!({"download_url": "https://s3.example/out_1.png?sig=1", "generation_status": "success"})))
        .create();
    let pending = server
        .mock("GET", "/api/v1/runs/output")
        .match_query(mockito::Matcher::UrlEncoded(
            "filename".into(),
            "out_2".into(),
        ))
        .with_status(204)
        .create();
    let timed_out = server
        .mock("GET", "/api/v1/runs/output")
        .match_query(mockito::Matcher::UrlEncoded(
            "filename".into(),
            "out_3".into(),
        ))
        .with_status(408)
        .with_body(r#"{"status":"error","errors":"Run timed out"}"#)
        .create();
    let client = client(server.url());
    let out = client.output("out_1").await.unwrap().unwrap();
    assert_eq!(out.download_url, "https://s3.example/out_1.png?sig=1");
    assert_eq!(out.generation_status, "success");
    let pending_answer = client.output("out_2").await.unwrap();
    assert_eq!(pending_answer, None);
    let err = client.output("out_3").await.unwrap_err();
    assert!(
        matches!(&err, Error::RunTimedOut { output, .. } if output == "out_3"),
        "{err:?}"
    );
    assert_eq!(err.status(), Some(408));
    ready.assert();
    pending.assert();
    timed_out.assert();
}

#[maybe_async]
#[case]
async fn get_run_decodes_a_full_run() {
    let mut server = server().await;
    let m = server
        .mock("GET", format!("/api/v1/runs/{RUN_ID}").as_str())
        .match_header("x-api-key", KEY)
        .with_body(ok(run_json(RUN_ID, "running")))
        .create();
    let run = client(server.url()).run(RUN_ID).await.unwrap();
    m.assert();
    assert_eq!(run.id.as_deref(), Some(RUN_ID));
    assert_eq!(run.status, RunStatus::Running);
    assert_eq!(run.team_id.as_deref(), Some("team_123"));
    assert_eq!(run.group_id, None);
    assert_eq!(run.inputs[0].path, "text_51536");
    assert_eq!(run.outputs[0].filename, "out_1.png");
    assert_eq!(run.output_names, vec!["out_1"]);
    assert_eq!(run.completed_at, None);
}

#[maybe_async]
#[case]
async fn get_run_tolerates_nulls_and_unknown_status() {
    let mut server = server().await;
    let _m = server
        .mock("GET", "/api/v1/runs/r-1")
        .with_body(ok(json!({
            "_id": "r-1", "status": "paused_by_admin", "inputs": null, "outputs": null,
            "output_names": null, "workflow_id": null
        })))
        .create();
    let run = client(server.url()).run("r-1").await.unwrap();
    assert_eq!(run.status, RunStatus::Other("paused_by_admin".into()));
    assert!(!run.status.is_finished());
    assert!(run.inputs.is_empty() && run.outputs.is_empty() && run.output_names.is_empty());
}

#[maybe_async]
#[case]
async fn get_runs_sends_every_paging_field() {
    let mut server = server().await;
    let rec = Recorder::new();
    let m = server
        .mock("GET", "/api/v1/runs")
        .match_query(mockito::Matcher::Any)
        .match_request(rec.matcher())
        .with_body(
            json!({
                "status": "success",
                "data": {"runs": [run_json("a", "completed"), run_json("b", "failed")]},
                "meta": {"sort_by": "started_at", "sort_order": "asc", "page": 2, "group_id": "g 1",
                         "page_size": 25, "total_count": 27, "total_pages": 2}
            })
            .to_string(),
        )
        .expect(2)
        .create();
    let client = client(server.url());
    let page = client
        .runs_page(
            &RunsQuery::new()
                .sort_by(SortBy::StartedAt)
                .sort_order(SortOrder::Asc)
                .page(2)
                .page_size(25)
                .group_id("g 1"),
        )
        .await
        .unwrap();
    let _ = client.runs_page(&RunsQuery::new()).await.unwrap();
    m.assert();
    assert_eq!(page.runs.len(), 2);
    assert_eq!(page.runs[1].status, RunStatus::Failed);
    let meta = page.meta.unwrap();
    assert_eq!(meta.total_count, Some(27));
    assert_eq!(meta.total_pages, Some(2));
    let seen = rec.all();
    assert_eq!(
        seen[0].raw_query,
        "sort_by=started_at&sort_order=asc&page=2&page_size=25&group_id=g+1"
    );
    assert_eq!(
        seen[1].raw_query,
        "sort_by=created_at&sort_order=desc&page=1&page_size=10"
    );
}

#[maybe_async]
#[case]
async fn get_runs_reads_the_old_shape() {
    let mut server = server().await;
    let _m = server
        .mock("GET", "/api/v1/runs")
        .match_query(mockito::Matcher::Any)
        .with_body(ok(
            json!({"group_id": "g1", "count": 1, "runs": [run_json("a", "queued")]}),
        ))
        .create();
    let page = client(server.url())
        .runs_page(&RunsQuery::new().group_id("g1"))
        .await
        .unwrap();
    assert_eq!(page.runs[0].status, RunStatus::Queued);
    let meta = page.meta.unwrap();
    assert_eq!(meta.group_id.as_deref(), Some("g1"));
    assert_eq!(meta.total_count, Some(1));
}

#[maybe_async]
#[case]
async fn get_runs_checks_paging_before_sending() {
    let mut server = server().await;
    let m = server
        .mock("GET", "/api/v1/runs")
        .match_query(mockito::Matcher::Any)
        .expect(0)
        .create();
    let client = client(server.url());
    for (query, field) in [
        (RunsQuery::new().page(0), "page"),
        (RunsQuery::new().page_size(0), "page_size"),
        (RunsQuery::new().page_size(101), "page_size"),
        (RunsQuery::new().group_id(""), "group_id"),
    ] {
        let err = client.runs_page(&query).await.unwrap_err();
        assert!(
            matches!(&err, Error::Input { field: f, .. } if f == field),
            "{err:?}"
        );
    }
    m.assert();
}

#[maybe_async]
#[case]
async fn cancel_run_posts_and_returns_the_message() {
    let mut server = server().await;
    let rec = Recorder::new();
    let m = server
        .mock("POST", format!("/api/v1/runs/{RUN_ID}/cancel").as_str())
        .match_header("x-api-key", KEY)
        .match_request(rec.matcher())
        .with_body(ok(json!("Run cancelled successfully")))
        .create();
    let msg = client(server.url()).cancel_run(RUN_ID).await.unwrap();
    m.assert();
    assert_eq!(msg, "Run cancelled successfully");
    let seen = rec.one();
    assert_eq!(seen.raw_body, b"");
    assert_eq!(seen.content_length.as_deref(), Some("0"));
}

#[maybe_async]
#[case]
async fn ids_are_checked_and_escaped() {
    let mut server = server().await;
    let m = server
        .mock("GET", "/api/v1/runs/a%2Fb")
        .with_body(ok(run_json("a/b", "completed")))
        .create();
    let client = client(server.url());
    let run = client.run("a/b").await.unwrap();
    assert_eq!(run.id.as_deref(), Some("a/b"));
    m.assert();
    for err in [
        client.run(" ").await.unwrap_err(),
        client.cancel_run("").await.unwrap_err(),
        client.output("").await.unwrap_err(),
        client
            .execute_workflow("", flowscale::Inputs::new())
            .await
            .unwrap_err(),
        client
            .execute_workflow("wf", flowscale::Inputs::new().group_id(""))
            .await
            .unwrap_err(),
    ] {
        assert!(matches!(err, Error::Input { .. }), "{err:?}");
    }
}

#[allow(unused_imports)]
use futures_util::StreamExt;

#[maybe_async]
#[case]
async fn runs_walks_every_page_by_meta() {
    let mut server = server().await;
    let mut mocks = vec![];
    for page in 1..=3 {
        let runs: Vec<_> = (0..if page < 3 { 2 } else { 1 })
            .map(|i| run_json(&format!("p{page}r{i}"), "completed"))
            .collect();
        mocks.push(
            server
                .mock("GET", "/api/v1/runs")
                .match_query(mockito::Matcher::AllOf(vec![
                    mockito::Matcher::UrlEncoded("page".into(), page.to_string()),
                    mockito::Matcher::UrlEncoded("page_size".into(), "2".into()),
                    mockito::Matcher::UrlEncoded("group_id".into(), "g".into()),
                ]))
                .with_body(
                    json!({"status": "success", "data": {"runs": runs},
                           "meta": {"page": page, "page_size": 2, "total_count": 5, "total_pages": 3}})
                    .to_string(),
                )
                .expect(1)
                .create(),
        );
    }
    let client = client(server.url());
    let runs: Vec<_> = client
        .runs(RunsQuery::new().page_size(2).group_id("g"))
        .collect::<Vec<_>>()
        .await;
    let ids: Vec<_> = runs.into_iter().map(|r| r.unwrap().id.unwrap()).collect();
    assert_eq!(ids, ["p1r0", "p1r1", "p2r0", "p2r1", "p3r0"]);
    for m in mocks {
        m.assert();
    }
}

#[maybe_async]
#[case]
async fn runs_stops_on_a_short_page_without_meta_and_yields_errors() {
    let mut server = server().await;
    let full = server
        .mock("GET", "/api/v1/runs")
        .match_query(mockito::Matcher::UrlEncoded("page".into(), "1".into()))
        .with_body(ok(
            json!({"count": 3, "runs": [run_json("a", "completed"), run_json("b", "completed")]}),
        ))
        .create();
    let short = server
        .mock("GET", "/api/v1/runs")
        .match_query(mockito::Matcher::UrlEncoded("page".into(), "2".into()))
        .with_body(ok(
            json!({"count": 3, "runs": [run_json("c", "completed")]}),
        ))
        .create();
    let client = client(server.url());
    let runs = client
        .runs(RunsQuery::new().page_size(2))
        .collect::<Vec<_>>()
        .await;
    assert_eq!(runs.len(), 3);
    full.assert();
    short.assert();

    // A page that fails ends the walk with that error.
    let mut server = super::server().await;
    let _first = server
        .mock("GET", "/api/v1/runs")
        .match_query(mockito::Matcher::UrlEncoded("page".into(), "1".into()))
        .with_body(ok(json!({"runs": [run_json("a", "completed")]})))
        .create();
    let _second = server
        .mock("GET", "/api/v1/runs")
        .match_query(mockito::Matcher::UrlEncoded("page".into(), "2".into()))
        .with_status(500)
        .with_body(r#"{"status":"error","errors":"database down"}"#)
        .create();
    let client = Client::new(KEY, server.url()).unwrap();
    let runs = client
        .runs(RunsQuery::new().page_size(1))
        .collect::<Vec<_>>()
        .await;
    assert_eq!(runs.len(), 2);
    assert!(runs[0].is_ok());
    let err = runs[1].as_ref().unwrap_err();
    assert_eq!(err.status(), Some(500));
    assert!(err.to_string().contains("database down"));
}
