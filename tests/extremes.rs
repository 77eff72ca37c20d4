//! Every public duration and size knob driven with extreme values (zero, a nanosecond,
//! `u64::MAX` seconds, `Duration::MAX`, NaN and infinite factors, the largest counts)
//! through a run, a wait, a page of runs and a download against the simulator, with both
//! clients: no panic, only an answer or a typed error.
//!
//! Knobs that would make a call last as long as asked (an hour's poll interval) are cut
//! short by a stop flag, which is itself part of what is tested: the wait ends with
//! `Error::Interrupted` and the run id.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use flowscale::mock::{MockServer, MockWorkflow};
use flowscale::{DownloadOptions, Error, RetryPolicy, RunsQuery, WaitOptions};
use proptest::prelude::*;

fn duration() -> impl Strategy<Value = Duration> {
    prop_oneof![
        Just(Duration::ZERO),
        Just(Duration::from_nanos(1)),
        Just(Duration::from_millis(1)),
        Just(Duration::from_millis(200)),
        Just(Duration::from_secs(3600)),
        Just(Duration::from_secs(u64::MAX)),
        Just(Duration::MAX),
    ]
}

fn factor() -> impl Strategy<Value = f64> {
    prop_oneof![
        Just(0.0),
        Just(1.0),
        Just(2.0),
        Just(1e308),
        Just(f64::INFINITY),
        Just(f64::NAN),
        Just(-1.0)
    ]
}

fn count() -> impl Strategy<Value = u32> {
    prop_oneof![Just(0), Just(1), Just(3), Just(u32::MAX)]
}

fn size() -> impl Strategy<Value = usize> {
    prop_oneof![
        Just(0),
        Just(1),
        Just(4),
        Just(usize::MAX / 2),
        Just(usize::MAX)
    ]
}

/// One set of knobs.
#[derive(Clone, Debug)]
struct Knobs {
    connect: Duration,
    response: Duration,
    in_flight: usize,
    attempts: u32,
    base_delay: Duration,
    max_delay: Duration,
    /// Kept short: a retry that may start this late is waited for.
    max_total: Duration,
    timeout: Duration,
    interval: Duration,
    first_poll: Duration,
    backoff: (f64, Duration),
    poll_failures: u32,
    concurrency: usize,
    page: u32,
    page_size: u32,
    max_bytes: u64,
}

fn knobs() -> impl Strategy<Value = Knobs> {
    (
        (duration(), duration(), size(), count()),
        (
            duration(),
            duration(),
            prop_oneof![Just(Duration::ZERO), Just(Duration::from_millis(300))],
        ),
        (
            duration(),
            duration(),
            duration(),
            (factor(), duration()),
            count(),
        ),
        (
            size(),
            count(),
            count(),
            prop_oneof![Just(0u64), Just(10), Just(u64::MAX)],
        ),
    )
        .prop_map(|(a, b, c, d)| Knobs {
            connect: a.0,
            response: a.1,
            in_flight: a.2,
            attempts: a.3,
            base_delay: b.0,
            max_delay: b.1,
            max_total: b.2,
            timeout: c.0,
            interval: c.1,
            first_poll: c.2,
            backoff: c.3,
            poll_failures: c.4,
            concurrency: d.0,
            page: d.1,
            page_size: d.2,
            max_bytes: d.3,
        })
}

fn simulator() -> MockServer {
    let server = MockServer::start();
    server.register(
        MockWorkflow::new("wf")
            .queued_for(Duration::ZERO)
            .duration(Duration::from_millis(1)),
    );
    server
}

fn wait_options(k: &Knobs, stop: &Arc<AtomicBool>) -> WaitOptions {
    WaitOptions::new()
        .timeout(k.timeout)
        .poll_interval(k.interval)
        .first_poll_after(k.first_poll)
        .backoff(k.backoff.0, k.backoff.1)
        .max_poll_failures(k.poll_failures)
        .stop_on(stop.clone())
}

fn retry(k: &Knobs) -> RetryPolicy {
    RetryPolicy::new()
        .attempts(k.attempts)
        .base_delay(k.base_delay)
        .max_delay(k.max_delay)
        .max_total(k.max_total)
}

/// Sets `stop` after a while, so that a wait told to take an hour ends.
fn stop_soon() -> Arc<AtomicBool> {
    let stop = Arc::new(AtomicBool::new(false));
    let flag = stop.clone();
    std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(800));
        flag.store(true, Ordering::SeqCst);
    });
    stop
}

/// An error is fine as long as it is one of ours; a panic fails the test by itself.
fn typed<T>(outcome: Result<T, Error>) {
    if let Err(e) = outcome {
        let _ = (e.to_string(), e.is_retryable(), e.run_id());
    }
}

fn config() -> ProptestConfig {
    ProptestConfig {
        // More with PROPTEST_CASES=N.
        cases: std::env::var("PROPTEST_CASES")
            .ok()
            .and_then(|n| n.parse().ok())
            .unwrap_or(24),
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn the_blocking_client_takes_any_knob(k in knobs()) {
        let server = simulator();
        let built = flowscale::Client::builder()
            .api_key(server.api_key())
            .base_url(server.url())
            .connect_timeout(k.connect)
            .response_timeout(k.response)
            .max_concurrent_requests(k.in_flight)
            .retry(retry(&k))
            .build();
        let client = match built {
            Ok(client) => client,
            Err(e) => {
                typed::<()>(Err(e));
                return Ok(());
            }
        };
        let stop = stop_soon();
        let waited = client.execute_workflow_and_wait("wf", [("a", 1)], &wait_options(&k, &stop));
        if let Ok(result) = &waited {
            let dir = std::env::temp_dir().join(format!("flowscale-extremes-{}", std::process::id()));
            typed(client.download_outputs(result, &dir, &DownloadOptions::new().concurrency(k.concurrency)));
            typed(client.download_bytes(&result.outputs[0].download_url, k.max_bytes));
            let _ = std::fs::remove_dir_all(&dir);
        }
        typed(waited);
        typed(client.runs_page(&RunsQuery::new().page(k.page).page_size(k.page_size)));
    }

    #[test]
    fn the_async_client_takes_any_knob(k in knobs()) {
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        runtime.block_on(async {
            let server = simulator();
            let built = flowscale::AsyncClient::builder()
                .api_key(server.api_key())
                .base_url(server.url())
                .connect_timeout(k.connect)
                .response_timeout(k.response)
                .max_concurrent_requests(k.in_flight)
                .retry(retry(&k))
                .build();
            let client = match built {
                Ok(client) => client,
                Err(e) => return typed::<()>(Err(e)),
            };
            let stop = stop_soon();
            let waited = client
                .execute_workflow_and_wait("wf", [("a", 1)], &wait_options(&k, &stop))
                .await;
            if let Ok(result) = &waited {
                let dir = std::env::temp_dir().join(format!("flowscale-extremes-async-{}", std::process::id()));
                let options = DownloadOptions::new().concurrency(k.concurrency);
                typed(client.download_outputs(result, &dir, &options).await);
                typed(client.download_bytes(&result.outputs[0].download_url, k.max_bytes).await);
                let _ = std::fs::remove_dir_all(&dir);
            }
            typed(waited);
            typed(client.runs_page(&RunsQuery::new().page(k.page).page_size(k.page_size)).await);
        });
    }
}
