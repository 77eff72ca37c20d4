//! Fan-out: thousands of concurrent `execute_workflow_and_wait` calls on one `AsyncClient`
//! against the simulator, within a small open-file limit. Run it under that limit:
//!
//! ```sh
//! bash -c 'ulimit -n 1024 && cargo bench --bench fanout'
//! FLOWSCALE_BENCH_WAITS=1000 cargo bench --bench fanout
//! ```
//!
//! For the default client (at most 64 requests in flight) and for one without the bound,
//! it prints: waits completed and failed, the wall time against one run's duration, the
//! most file descriptors the process had open at once, and its peak memory.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use flowscale::mock::{MockServer, Workflow};
use flowscale::{AsyncClient, Inputs, WaitOptions};

#[path = "support/process.rs"]
mod process;
use process::peak_mib;

const RUN: Duration = Duration::from_secs(10);
const POLL: Duration = Duration::from_secs(2);

fn open_fds() -> usize {
    std::fs::read_dir("/proc/self/fd").map_or(0, |d| d.count())
}

fn fd_limit() -> String {
    std::fs::read_to_string("/proc/self/limits")
        .unwrap_or_default()
        .lines()
        .find(|l| l.starts_with("Max open files"))
        .map(|l| l.split_whitespace().nth(3).unwrap_or("?").to_owned())
        .unwrap_or_else(|| "?".into())
}

fn fan_out(rt: &tokio::runtime::Runtime, server: &MockServer, waits: usize, bound: usize) {
    let client = AsyncClient::builder()
        .api_key(server.api_key())
        .base_url(server.url())
        .max_concurrent_requests(bound)
        .build()
        .unwrap();
    // Sample the open descriptors while the waits run.
    let most_fds = Arc::new(AtomicUsize::new(0));
    let done = Arc::new(AtomicBool::new(false));
    let sampler = {
        let (most, done) = (most_fds.clone(), done.clone());
        std::thread::spawn(move || {
            while !done.load(Ordering::Relaxed) {
                most.fetch_max(open_fds(), Ordering::Relaxed);
                std::thread::sleep(Duration::from_millis(20));
            }
        })
    };
    let options = WaitOptions::new()
        .poll_interval(POLL)
        .timeout(Duration::from_secs(120));
    let started = Instant::now();
    let (ok, failed, first_error) = rt.block_on(async {
        let tasks: Vec<_> = (0..waits)
            .map(|i| {
                let (client, options) = (client.clone(), options.clone());
                tokio::spawn(async move {
                    let inputs = Inputs::new().set("seed", i as u64);
                    client
                        .execute_workflow_and_wait("fanout", inputs, None, &options)
                        .await
                })
            })
            .collect();
        let (mut ok, mut failed, mut first_error) = (0, 0, None);
        for task in tasks {
            match task.await.unwrap() {
                Ok(_) => ok += 1,
                Err(e) => {
                    failed += 1;
                    first_error.get_or_insert_with(|| e.to_string());
                }
            }
        }
        (ok, failed, first_error)
    });
    let wall = started.elapsed();
    done.store(true, Ordering::Relaxed);
    sampler.join().unwrap();
    let bound = if bound >= 1_000_000 {
        "none".to_owned()
    } else {
        bound.to_string()
    };
    println!(
        "{:<10} {:>9} {:>7} {:>9.2}x {:>12} {:>13.1}",
        bound,
        ok,
        failed,
        wall.as_secs_f64() / RUN.as_secs_f64(),
        most_fds.load(Ordering::Relaxed),
        peak_mib()
    );
    if let Some(e) = first_error {
        println!("           first error: {e}");
    }
}

fn main() {
    let waits: usize = std::env::var("FLOWSCALE_BENCH_WAITS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(10_000);
    let server = MockServer::start();
    server.register(
        Workflow::new("fanout")
            .queued_for(Duration::ZERO)
            .duration(RUN),
    );
    let rt = tokio::runtime::Runtime::new().unwrap();
    println!(
        "{waits} concurrent waits on one AsyncClient, {}s runs, {}s polls, open-file limit {} \
         (the simulator runs in this process too)",
        RUN.as_secs(),
        POLL.as_secs(),
        fd_limit()
    );
    println!(
        "{:<10} {:>9} {:>7} {:>10} {:>12} {:>13}",
        "in flight", "completed", "failed", "wall/run", "most fds", "peak RSS MiB"
    );
    fan_out(
        &rt,
        &server,
        waits,
        flowscale::DEFAULT_MAX_CONCURRENT_REQUESTS,
    );
    fan_out(&rt, &server, waits, 1_000_000);
}
