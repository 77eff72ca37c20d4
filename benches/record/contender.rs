//! Our SDK as a contender: one process that does one job and exits, started by the driver
//! exactly as curl and the Python SDK are, so every figure includes process start-up.
//!
//! `record contender <client> <job> <args...>`, where `<client>` is `blocking`, `async`
//! (a multi-thread runtime, what `#[tokio::main]` builds) or `async-current-thread`.

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use flowscale::{AsyncClient, Client, Inputs, WaitOptions};

const KEY: &str = "bench-key";

/// Runs the job named in `args`; any failure ends the process with a message and code 1.
pub fn main(args: &[String]) {
    let [client, job, rest @ ..] = args else {
        fail("usage: record contender <blocking|async|async-current-thread> <job> <args...>");
    };
    let runtime = match client.as_str() {
        "blocking" => None,
        "async" => Some(tokio::runtime::Builder::new_multi_thread()),
        "async-current-thread" => Some(tokio::runtime::Builder::new_current_thread()),
        other => fail(&format!("unknown client {other}")),
    };
    let Some(mut runtime) = runtime else {
        return blocking(job, rest);
    };
    let runtime = runtime.enable_all().build().unwrap();
    runtime.block_on(asynchronous(job, rest));
}

fn fail(message: &str) -> ! {
    eprintln!("contender: {message}");
    std::process::exit(1)
}

fn check<T>(outcome: flowscale::Result<T>) -> T {
    outcome.unwrap_or_else(|e| fail(&e.to_string()))
}

/// The upload's inputs: a text field and the file, with a progress callback when asked
/// (it counts the reports, so it cannot be optimised away).
fn upload_inputs(path: &str, progress: &str) -> Inputs {
    let inputs = Inputs::new()
        .set("prompt", "bench")
        .set("video_1", Path::new(path));
    if progress != "progress" {
        return inputs;
    }
    let reports = Arc::new(AtomicU64::new(0));
    inputs.on_progress(move |p| {
        reports.fetch_max(p.done, Ordering::Relaxed);
    })
}

fn blocking(job: &str, args: &[String]) {
    match (job, args) {
        ("upload", [base, path, progress]) => {
            let client = check(Client::new(KEY, base));
            check(client.execute_workflow("wf", upload_inputs(path, progress)));
        }
        ("download", [url, dest]) => {
            let client = check(Client::new(KEY, "http://127.0.0.1:1"));
            check(client.download(url, dest));
        }
        ("get-run", [base, n]) => {
            let client = check(Client::new(KEY, base));
            for _ in 0..n.parse::<u32>().unwrap() {
                check(client.run("r1"));
            }
        }
        ("raw-get-run", [base, n]) => {
            // The transport alone, doing what `run` does: one GET with the key, the
            // body read and decoded into a `Run`, on one keep-alive agent.
            let agent = ureq::Agent::new_with_defaults();
            let url = format!("{base}/api/v1/runs/r1");
            for _ in 0..n.parse::<u32>().unwrap() {
                let mut resp = agent
                    .get(&url)
                    .header("X-API-KEY", KEY)
                    .call()
                    .unwrap_or_else(|e| fail(&e.to_string()));
                let body = resp
                    .body_mut()
                    .read_to_vec()
                    .unwrap_or_else(|e| fail(&e.to_string()));
                let run: Envelope =
                    serde_json::from_slice(&body).unwrap_or_else(|e| fail(&e.to_string()));
                std::hint::black_box(run);
            }
        }
        ("per-call", [what, base, n]) => {
            let client = check(Client::new(KEY, base));
            let call = || match what.as_str() {
                "get-run" => drop(check(client.run("r1"))),
                _ => drop(check(client.execute_workflow("wf", execute_inputs()))),
            };
            report(time_calls(n, call));
        }
        ("raw-per-call", [what, base, n]) => {
            let agent = ureq::Agent::new_with_defaults();
            let url = raw_url(what, base);
            let call = || {
                let sent = if what == "get-run" {
                    agent.get(&url).header("X-API-KEY", KEY).call()
                } else {
                    agent
                        .post(&url)
                        .header("X-API-KEY", KEY)
                        .content_type(RAW_FORM_TYPE)
                        .send(RAW_FORM)
                };
                let mut resp = sent.unwrap_or_else(|e| fail(&e.to_string()));
                let body = resp
                    .body_mut()
                    .read_to_vec()
                    .unwrap_or_else(|e| fail(&e.to_string()));
                raw_decode(what, &body);
            };
            report(time_calls(n, call));
        }
        _ => fail(&format!("the blocking client has no job {job} {args:?}")),
    }
}

/// The inputs of the per-call execute: one text field, as `RAW_FORM` holds.
fn execute_inputs() -> Inputs {
    Inputs::new().set("prompt", "bench")
}

/// The form the SDK sends for `execute_inputs()`, written out once by hand: what a user of
/// the bare transport would send.
const RAW_FORM: &str = "--flowscale-0123456789abcdef0123456789abcdef\r\n\
    Content-Disposition: form-data; name=\"prompt\"\r\n\r\n\
    bench\r\n\
    --flowscale-0123456789abcdef0123456789abcdef--\r\n";
const RAW_FORM_TYPE: &str =
    "multipart/form-data; boundary=flowscale-0123456789abcdef0123456789abcdef";

fn raw_url(what: &str, base: &str) -> String {
    match what {
        "get-run" => format!("{base}/api/v1/runs/r1"),
        _ => format!("{base}/api/v1/runs?workflow_id=wf"),
    }
}

/// Decodes an answer as the SDK does: into its own types, from the `data` envelope.
fn raw_decode(what: &str, body: &[u8]) {
    #[derive(serde::Deserialize)]
    struct Envelope<T> {
        data: T,
    }
    let decoded = if what == "get-run" {
        serde_json::from_slice::<Envelope<flowscale::Run>>(body).map(|e| drop(e.data))
    } else {
        serde_json::from_slice::<Envelope<flowscale::Execution>>(body).map(|e| drop(e.data))
    };
    decoded.unwrap_or_else(|e| fail(&e.to_string()));
}

/// Calls made before any is timed: the connection is opened, buffers sized, code paged in.
const WARM_UP: u32 = 20;

/// Times each of `n` calls after the warm-up; returns them sorted, in nanoseconds.
fn time_calls(n: &str, mut call: impl FnMut()) -> Vec<u64> {
    for _ in 0..WARM_UP {
        call();
    }
    let mut times: Vec<u64> = (0..n.parse::<u32>().unwrap())
        .map(|_| {
            let start = std::time::Instant::now();
            call();
            start.elapsed().as_nanos() as u64
        })
        .collect();
    times.sort_unstable();
    times
}

/// Prints the median and the fastest call, in nanoseconds, for the driver to read.
fn report(times: Vec<u64>) {
    println!("{} {}", times[times.len() / 2], times[0]);
}

/// The envelope a run comes in, decoded by the raw contenders as the SDK decodes it.
#[derive(serde::Deserialize)]
struct Envelope {
    #[allow(dead_code)]
    data: flowscale::Run,
}

async fn asynchronous(job: &str, args: &[String]) {
    match (job, args) {
        ("upload", [base, path, progress]) => {
            let client = check(AsyncClient::new(KEY, base));
            let inputs = upload_inputs(path, progress);
            check(client.execute_workflow("wf", inputs).await);
        }
        ("download", [url, dest]) => {
            let client = check(AsyncClient::new(KEY, "http://127.0.0.1:1"));
            check(client.download(url, dest).await);
        }
        ("get-run", [base, n]) => {
            let client = check(AsyncClient::new(KEY, base));
            for _ in 0..n.parse::<u32>().unwrap() {
                check(client.run("r1").await);
            }
        }
        ("fan-out", [base, key, waits, poll_ms]) => fan_out(base, key, waits, poll_ms).await,
        ("raw-get-run", [base, n]) => {
            // The transport alone, as the blocking `raw-get-run`, on one reqwest client (built
            // as a user of reqwest with this crate's TLS setup would build it).
            flowscale::install_crypto_provider();
            let http = reqwest::Client::new();
            let url = format!("{base}/api/v1/runs/r1");
            for _ in 0..n.parse::<u32>().unwrap() {
                let resp = http
                    .get(&url)
                    .header("X-API-KEY", KEY)
                    .send()
                    .await
                    .unwrap_or_else(|e| fail(&e.to_string()));
                let body = resp.bytes().await.unwrap_or_else(|e| fail(&e.to_string()));
                let run: Envelope =
                    serde_json::from_slice(&body).unwrap_or_else(|e| fail(&e.to_string()));
                std::hint::black_box(run);
            }
        }
        ("per-call", [what, base, n]) => {
            let client = check(AsyncClient::new(KEY, base));
            let mut times = Vec::new();
            for i in 0..WARM_UP + n.parse::<u32>().unwrap() {
                let start = std::time::Instant::now();
                match what.as_str() {
                    "get-run" => drop(check(client.run("r1").await)),
                    _ => drop(check(client.execute_workflow("wf", execute_inputs()).await)),
                }
                if i >= WARM_UP {
                    times.push(start.elapsed().as_nanos() as u64);
                }
            }
            times.sort_unstable();
            report(times);
        }
        ("raw-per-call", [what, base, n]) => {
            flowscale::install_crypto_provider();
            let http = reqwest::Client::new();
            let url = raw_url(what, base);
            let mut times = Vec::new();
            for i in 0..WARM_UP + n.parse::<u32>().unwrap() {
                let start = std::time::Instant::now();
                let request = if what == "get-run" {
                    http.get(&url)
                } else {
                    http.post(&url)
                        .header("content-type", RAW_FORM_TYPE)
                        .body(RAW_FORM)
                };
                let resp = request
                    .header("X-API-KEY", KEY)
                    .send()
                    .await
                    .unwrap_or_else(|e| fail(&e.to_string()));
                let body = resp.bytes().await.unwrap_or_else(|e| fail(&e.to_string()));
                raw_decode(what, &body);
                if i >= WARM_UP {
                    times.push(start.elapsed().as_nanos() as u64);
                }
            }
            times.sort_unstable();
            report(times);
        }
        _ => fail(&format!("the async client has no job {job} {args:?}")),
    }
}

/// `waits` concurrent `execute_workflow_and_wait` calls on one client (the default bound on
/// requests in flight), against the simulator's `fanout` workflow.
async fn fan_out(base: &str, key: &str, waits: &str, poll_ms: &str) {
    let client = check(AsyncClient::new(key, base));
    let options = WaitOptions::new()
        .poll_interval(Duration::from_millis(poll_ms.parse().unwrap()))
        .timeout(Duration::from_secs(300));
    let tasks: Vec<_> = (0..waits.parse::<u64>().unwrap())
        .map(|i| {
            let (client, options) = (client.clone(), options.clone());
            tokio::spawn(async move {
                let inputs = Inputs::new().set("seed", i);
                client
                    .execute_workflow_and_wait("fanout", inputs, &options)
                    .await
            })
        })
        .collect();
    for task in tasks {
        check(task.await.unwrap());
    }
}
