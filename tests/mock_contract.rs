//! The simulator's own contract, checked with raw HTTP (requests no SDK client would send).
#![cfg(feature = "mock")]

use flowscale::mock::{DEFAULT_API_KEY, MockServer, MockWorkflow};
use serde_json::Value;

fn call(method: &str, url: &str, key: Option<&str>) -> (u16, Value) {
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .build()
        .into();
    let mut req = ureq::http::Request::builder().method(method).uri(url);
    if let Some(k) = key {
        req = req.header("X-API-KEY", k);
    }
    let mut resp = agent.run(req.body(()).unwrap()).unwrap();
    let status = resp.status().as_u16();
    let text = resp.body_mut().read_to_string().unwrap();
    (
        status,
        serde_json::from_str(&text).unwrap_or(Value::String(text)),
    )
}

#[test]
fn keys_are_checked_on_api_routes_only() {
    let server = MockServer::start();
    let url = format!("{}/api/v1/comfy/health", server.url());
    assert_eq!(call("GET", &url, None).0, 401);
    let (status, body) = call("GET", &url, Some("nope"));
    assert_eq!(
        (status, body["errors"].as_str()),
        (403, Some("Invalid API key"))
    );
    assert_eq!(call("GET", &url, Some(DEFAULT_API_KEY)).0, 200);
    server.set_api_key("k2");
    assert_eq!(call("GET", &url, Some("k2")).0, 200);
    // Unknown routes are 404 with an error envelope.
    let (status, body) = call("GET", &format!("{}/api/v2/x", server.url()), Some("k2"));
    assert_eq!((status, body["status"].as_str()), (404, Some("error")));
}

#[test]
fn validation_errors_look_like_fastapi() {
    let server = MockServer::start();
    server.register(MockWorkflow::new("wf"));
    let key = Some(DEFAULT_API_KEY);
    let (status, body) = call("POST", &format!("{}/api/v1/runs", server.url()), key);
    assert_eq!(status, 422);
    assert_eq!(
        body["detail"][0]["loc"],
        serde_json::json!(["query", "workflow_id"])
    );
    assert_eq!(body["detail"][0]["type"], "missing");
    for q in [
        "page=0",
        "page_size=0",
        "page_size=101",
        "sort_by=name",
        "sort_order=up",
    ] {
        let (status, body) = call("GET", &format!("{}/api/v1/runs?{q}", server.url()), key);
        assert_eq!(status, 422, "{q}");
        assert_eq!(body["detail"][0]["loc"][0], "query", "{q}");
    }
    let (status, _) = call("GET", &format!("{}/api/v1/runs/output", server.url()), key);
    assert_eq!(status, 422);
    let (status, _) = call(
        "GET",
        &format!("{}/api/v1/runs/output?filename=x", server.url()),
        key,
    );
    assert_eq!(status, 404);
}

#[test]
fn a_run_moves_through_its_statuses_on_the_clock() {
    use std::time::Duration;
    let server = MockServer::start();
    server.register(
        MockWorkflow::new("wf")
            .queued_for(Duration::from_millis(100))
            .duration(Duration::from_millis(100)),
    );
    let key = Some(DEFAULT_API_KEY);
    let (status, body) = call(
        "POST",
        &format!("{}/api/v1/runs?workflow_id=wf", server.url()),
        key,
    );
    assert_eq!(status, 200);
    let run_id = body["data"]["run_id"].as_str().unwrap().to_owned();
    let run_url = format!("{}/api/v1/runs/{run_id}", server.url());
    let mut seen = vec![];
    for _ in 0..100 {
        let (_, body) = call("GET", &run_url, key);
        let status = body["data"]["status"].as_str().unwrap().to_owned();
        if seen.last() != Some(&status) {
            seen.push(status.clone());
        }
        if status == "completed" {
            assert!(body["data"]["started_at"].as_str().unwrap().ends_with('Z'));
            assert!(body["data"]["completed_at"].is_string());
            break;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    assert_eq!(seen, ["queued", "running", "completed"]);
    assert_eq!(
        server.requests()[0].query,
        [("workflow_id".to_string(), "wf".to_string())]
    );
}

/// The keys of an object, sorted.
fn keys(v: &Value) -> Vec<String> {
    let mut keys: Vec<String> = v.as_object().unwrap().keys().cloned().collect();
    keys.sort();
    keys
}

#[test]
fn the_default_shapes_are_the_union_of_every_documented_one_and_strict_shapes_stay() {
    use flowscale::mock::Shapes;
    let server = MockServer::start();
    server.register(MockWorkflow::new("wf").outputs(["image"]));
    let key = Some(DEFAULT_API_KEY);
    let base = server.url().to_owned();
    let shapes = |label: &str| {
        let (_, execute) = call(
            "POST",
            &format!("{base}/api/v1/runs?workflow_id=wf&seed=1"),
            key,
        );
        let (_, runs) = call("GET", &format!("{base}/api/v1/runs?group_id=g"), key);
        let (_, health) = call("GET", &format!("{base}/api/v1/comfy/health"), key);
        let (_, queue) = call("GET", &format!("{base}/api/v1/comfy/queue"), key);
        (
            label.to_owned(),
            // The OpenAPI file's execute `data` is an array of one: its keys, marked.
            match &execute["data"] {
                Value::Array(runs) if runs.len() == 1 => {
                    let mut k = keys(&runs[0]);
                    k.insert(0, "[array of one]".to_owned());
                    k
                }
                data => keys(data),
            },
            keys(&runs["data"]),
            runs.get("meta").is_some(),
            keys(&health["data"][0]),
            keys(&queue["data"][0]),
        )
    };
    let union = shapes("union");
    assert_eq!(union.1, ["output_names", "run_id", "workflow_id"]);
    assert_eq!(union.2, ["count", "group_id", "runs"]);
    assert!(union.3, "the runs list keeps its meta");
    // The OpenAPI file's names too: no Python SDK release minds an extra key.
    assert_eq!(union.4, ["container", "status", "url"]);
    assert_eq!(union.5, ["comfy_uri", "container", "queue"]);

    server.serve_shapes(Shapes::Current);
    let current = shapes("current");
    assert_eq!(current.1, ["run_id", "workflow_id"]);
    assert_eq!(current.2, ["runs"]);
    assert!(current.3);

    server.serve_shapes(Shapes::Legacy);
    let legacy = shapes("legacy");
    assert_eq!(
        legacy.1,
        ["node_errors", "number", "output_names", "run_id"]
    );
    assert_eq!(legacy.2, ["count", "group_id", "runs"]);
    assert!(!legacy.3);
    assert_eq!(legacy.4, ["status", "url"]);
    assert_eq!(legacy.5, ["comfy_uri", "queue"]);

    server.serve_shapes(Shapes::Spec);
    let spec = shapes("spec");
    // FlowScale's OpenAPI file: execute `data` is an array of one.
    assert_eq!(spec.1, ["[array of one]", "run_id", "workflow_id"]);
    assert_eq!(spec.2, ["count", "group_id", "runs"]);
    assert!(!spec.3, "no meta");
    assert_eq!(spec.4, ["status", "url"]);
    assert_eq!(spec.5, ["comfy_uri", "queue"]);
}
