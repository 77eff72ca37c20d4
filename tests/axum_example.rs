//! Drives `examples/axum_server.rs` over HTTP, with the simulator behind it.
#![cfg(all(feature = "async", feature = "mock"))]

#[path = "../examples/axum_server.rs"]
#[allow(dead_code)]
mod axum_server;

use std::time::Duration;

use flowscale::mock::{MockServer, MockWorkflow};
use serde_json::Value;

fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .build()
        .into()
}

fn read(mut resp: ureq::http::Response<ureq::Body>) -> (u16, Value) {
    let status = resp.status().as_u16();
    let text = resp.body_mut().read_to_string().unwrap();
    (status, serde_json::from_str(&text).unwrap())
}

#[test]
fn the_example_service_serves_every_route() {
    let sim = MockServer::start();
    sim.register(
        MockWorkflow::new("demo")
            .required_input("text_1")
            .outputs(["image"])
            .duration(Duration::from_millis(50)),
    );
    let rt = tokio::runtime::Runtime::new().unwrap();
    let listener = rt
        .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
        .unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let wait = flowscale::WaitOptions::new().poll_interval(Duration::from_millis(10));
    let app = axum_server::app(sim.async_client(), wait);
    rt.spawn(async move { axum::serve(listener, app).await.unwrap() });
    let agent = agent();

    let (status, health) = read(agent.get(format!("{base}/health")).call().unwrap());
    assert_eq!(status, 200);
    assert_eq!(health[0]["status"], "idle");

    // A multipart upload with dynamic field names, relayed to FlowScale.
    let png = std::fs::read(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/data/fixtures/cat.png"
    ))
    .unwrap();
    let mut body = Vec::new();
    body.extend_from_slice(
        b"--XYZ\r\nContent-Disposition: form-data; name=\"text_1\"\r\n\r\na cat\r\n\
          --XYZ\r\nContent-Disposition: form-data; name=\"image_7\"; filename=\"cat.png\"\r\n\
          Content-Type: image/png\r\n\r\n",
    );
    body.extend_from_slice(&png);
    body.extend_from_slice(b"\r\n--XYZ--\r\n");
    let resp = agent
        .post(format!("{base}/execute/demo?group_id=web"))
        .header("content-type", "multipart/form-data; boundary=XYZ")
        .send(&body[..])
        .unwrap();
    let (status, result) = read(resp);
    assert_eq!(status, 200, "{result}");
    // The SDK's own `WorkflowResult`, serialized: one output with its link.
    assert_eq!(
        result["outputs"].as_array().map(Vec::len),
        Some(1),
        "{result}"
    );
    assert!(result["outputs"][0]["download_url"].is_string(), "{result}");
    let run_id = result["run_id"].as_str().unwrap().to_owned();
    let stored = sim.run(&run_id).unwrap();
    assert_eq!(stored.group_id.as_deref(), Some("web"));
    assert_eq!(stored.fields, [("text_1".to_string(), "a cat".to_string())]);
    assert_eq!(stored.files[0].name, "image_7");
    assert_eq!(stored.files[0].filename, "cat.png");
    assert_eq!(stored.files[0].bytes, png);

    let (_, runs) = read(
        agent
            .get(format!("{base}/runs?page_size=5&group_id=web"))
            .call()
            .unwrap(),
    );
    assert_eq!(runs["runs"][0]["_id"], run_id.as_str());
    assert_eq!(runs["meta"]["total_count"], 1);
    let (_, run) = read(agent.get(format!("{base}/runs/{run_id}")).call().unwrap());
    assert_eq!(run["status"], "completed");
    let (_, queue) = read(agent.get(format!("{base}/queue")).call().unwrap());
    assert!(queue.is_array());

    // Errors pass through with their status: a finished run cannot be cancelled, and a
    // missing required input is FlowScale's 422.
    let (status, err) = read(
        agent
            .post(format!("{base}/runs/{run_id}/cancel"))
            .send_empty()
            .unwrap(),
    );
    assert_eq!(status, 400, "{err}");
    let resp = agent
        .post(format!("{base}/execute/demo"))
        .header("content-type", "multipart/form-data; boundary=XYZ")
        .send(&b"--XYZ--\r\n"[..])
        .unwrap();
    let (status, err) = read(resp);
    assert_eq!(status, 422);
    assert!(
        err["error"]
            .as_str()
            .unwrap()
            .contains("body.text_1: Field required")
    );
    let (status, _) = read(
        agent
            .get(format!("{base}/runs?page_size=0"))
            .call()
            .unwrap(),
    );
    assert_eq!(
        status, 400,
        "bad paging is caught before FlowScale is called"
    );
}
