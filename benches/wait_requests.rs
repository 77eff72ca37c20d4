//! How many requests a wait costs, and how soon it notices completion, against the
//! simulator, compared in the same run with the reference SDK's polling algorithm
//! (`execute_workflow_async` of the Python SDK 1.1.x, as `../shared/API.md` describes it:
//! every interval, GET the run, then GET every output not fetched yet), driven with raw ureq.
//!
//! ```sh
//! cargo bench --bench wait_requests
//! ```

use std::time::{Duration, Instant};

use flowscale::mock::{MockServer, MockWorkflow};
use flowscale::{Inputs, WaitOptions};
use serde_json::Value;

const QUEUED: Duration = Duration::from_millis(600);
const RUNNING: Duration = Duration::from_millis(1500);
const INTERVAL: Duration = Duration::from_millis(200);

fn server() -> MockServer {
    let server = MockServer::start();
    server.register(
        MockWorkflow::new("wf")
            .outputs(["image", "preview", "mask"])
            .queued_for(QUEUED)
            .duration(RUNNING),
    );
    server
}

fn get(agent: &ureq::Agent, url: &str, key: &str) -> (u16, Value) {
    let mut resp = agent.get(url).header("X-API-KEY", key).call().unwrap();
    let status = resp.status().as_u16();
    let text = resp.body_mut().read_to_string().unwrap_or_default();
    (status, serde_json::from_str(&text).unwrap_or(Value::Null))
}

/// The reference algorithm, step by step as API.md gives it.
fn reference(server: &MockServer) {
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .build()
        .into();
    let key = server.api_key();
    let mut resp = agent
        .post(format!("{}/api/v1/runs?workflow_id=wf", server.url()))
        .header("X-API-KEY", &key)
        .send_empty()
        .unwrap();
    let exec: Value = serde_json::from_str(&resp.body_mut().read_to_string().unwrap()).unwrap();
    let run_id = exec["data"]["run_id"].as_str().unwrap().to_owned();
    let mut names: Vec<String> = vec![];
    let mut fetched: Vec<String> = vec![];
    loop {
        let (_, run) = get(
            &agent,
            &format!("{}/api/v1/runs/{run_id}", server.url()),
            &key,
        );
        let listed: Vec<String> = run["data"]["output_names"]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|v| v.as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default();
        if !listed.is_empty() {
            names = listed;
        }
        for name in names.clone() {
            if fetched.contains(&name) {
                continue;
            }
            let (status, _) = get(
                &agent,
                &format!("{}/api/v1/runs/output?filename={name}", server.url()),
                &key,
            );
            if status == 200 {
                fetched.push(name);
            }
        }
        if !names.is_empty() && fetched.len() == names.len() {
            return;
        }
        std::thread::sleep(INTERVAL);
    }
}

struct Row {
    name: &'static str,
    requests: usize,
    run_gets: usize,
    output_gets: usize,
    lag: Duration,
}

fn measure(name: &'static str, f: impl FnOnce(&MockServer)) -> Row {
    let server = server();
    let start = Instant::now();
    f(&server);
    let done = start.elapsed();
    let reqs = server.requests();
    let count = |pred: &dyn Fn(&str) -> bool| reqs.iter().filter(|r| pred(&r.path)).count();
    Row {
        name,
        requests: reqs.len(),
        run_gets: count(&|p| p.starts_with("/api/v1/runs/") && p != "/api/v1/runs/output"),
        output_gets: count(&|p| p == "/api/v1/runs/output"),
        lag: done.saturating_sub(QUEUED + RUNNING),
    }
}

fn main() {
    let options = WaitOptions::new().poll_interval(INTERVAL);
    let mut rows = vec![measure("reference algorithm (raw ureq)", reference)];
    rows.push(measure("flowscale Client", |s| {
        s.client()
            .execute_workflow_and_wait("wf", Inputs::new(), &options)
            .unwrap();
    }));
    let rt = tokio::runtime::Runtime::new().unwrap();
    rows.push(measure("flowscale AsyncClient", |s| {
        rt.block_on(
            s.async_client()
                .execute_workflow_and_wait("wf", Inputs::new(), &options),
        )
        .unwrap();
    }));
    println!("a run queued {QUEUED:?}, running {RUNNING:?}, 3 outputs; poll interval {INTERVAL:?}");
    println!(
        "{:<32} {:>9} {:>9} {:>12} {:>22}",
        "way", "requests", "run GETs", "output GETs", "noticed after (lag)"
    );
    let base = rows[0].requests as f64;
    for r in &rows {
        println!(
            "{:<32} {:>9} {:>9} {:>12} {:>22}",
            r.name,
            format!("{} ({:.2}x)", r.requests, r.requests as f64 / base),
            r.run_gets,
            r.output_gets,
            format!("{:?}", r.lag)
        );
    }
}
