//! With the `tracing` feature: a span per request and per wait, events for retries, and
//! nothing secret in any of them (key, input values, link signatures).

use std::fmt::Write as _;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use flowscale::mock::{Fault, MockServer, MockWorkflow, Route};
use flowscale::{Inputs, WaitOptions};
use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record};
use tracing::{Event, Metadata, Subscriber};

/// Everything recorded, as text lines: `span NAME k=v ...`, `record k=v`, `event k=v ...`.
#[derive(Clone, Default)]
struct Collector(Arc<Mutex<Vec<String>>>);

struct Line<'a>(&'a mut String);

impl Visit for Line<'_> {
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        let _ = write!(self.0, " {}={:?}", field.name(), value);
    }
}

impl Subscriber for Collector {
    fn enabled(&self, _: &Metadata<'_>) -> bool {
        true
    }
    fn new_span(&self, span: &Attributes<'_>) -> Id {
        let mut line = format!("span {}", span.metadata().name());
        span.record(&mut Line(&mut line));
        let mut lines = self.0.lock().unwrap();
        lines.push(line);
        Id::from_u64(lines.len() as u64)
    }
    fn record(&self, _: &Id, values: &Record<'_>) {
        let mut line = "record".to_owned();
        values.record(&mut Line(&mut line));
        self.0.lock().unwrap().push(line);
    }
    fn record_follows_from(&self, _: &Id, _: &Id) {}
    fn event(&self, event: &Event<'_>) {
        let mut line = "event".to_owned();
        event.record(&mut Line(&mut line));
        self.0.lock().unwrap().push(line);
    }
    fn enter(&self, _: &Id) {}
    fn exit(&self, _: &Id) {}
}

#[test]
fn requests_waits_and_retries_are_traced_without_secrets() {
    let server = MockServer::start();
    server.set_api_key("trace-secret-key");
    server.register(
        MockWorkflow::new("wf")
            .queued_for(Duration::ZERO)
            .duration(Duration::from_millis(100)),
    );
    let collector = Collector::default();
    tracing::subscriber::with_default(collector.clone(), || {
        let client = flowscale::Client::new("trace-secret-key", server.url()).unwrap();
        server.fail_next(Route::Health, 1, Fault::Status(503));
        client.health().unwrap();
        server.fail_next(Route::RunDetails, 1, Fault::Status(502));
        let options = WaitOptions::new().poll_interval(Duration::from_millis(50));
        let inputs = Inputs::new().set("prompt", "a very private prompt");
        let result = client
            .execute_workflow_and_wait("wf", inputs, &options)
            .unwrap();
        client.output(&result.outputs[0].name).unwrap();
    });
    let lines = collector.0.lock().unwrap().join("\n");
    assert!(
        lines.contains(
            r#"span flowscale.request method="GET" path="/api/v1/comfy/health" attempt=1"#
        ),
        "{lines}"
    );
    assert!(
        lines.contains(r#"attempt=2"#),
        "the retried health check: {lines}"
    );
    assert!(
        lines.contains("record status=503") && lines.contains("record status=200"),
        "{lines}"
    );
    assert!(lines.contains("duration_ms="), "{lines}");
    assert!(lines.contains("flowscale: retrying"), "{lines}");
    assert!(lines.contains("span flowscale.wait run_id="), "{lines}");
    assert!(
        lines.contains("flowscale: poll failed, retrying"),
        "{lines}"
    );
    assert!(lines.contains(r#"record outcome="completed""#), "{lines}");
    assert!(
        lines.contains(r#"path="/api/v1/runs/output""#),
        "no query values: {lines}"
    );
    for secret in ["trace-secret-key", "a very private prompt", "filename="] {
        assert!(!lines.contains(secret), "{secret} leaked: {lines}");
    }
}

#[test]
fn a_pod_without_a_catalog_is_said_once_not_on_every_run() {
    let server = MockServer::start();
    server.serve_shapes(flowscale::mock::Shapes::Spec);
    server.register(MockWorkflow::new("wf"));
    let collector = Collector::default();
    tracing::subscriber::with_default(collector.clone(), || {
        let client = flowscale::Client::builder()
            .api_key(server.api_key())
            .base_url(server.url())
            .check_inputs(true)
            .build()
            .unwrap();
        for _ in 0..3 {
            let inputs = Inputs::new().set("prompt", "x");
            client.execute_workflow("wf", inputs).unwrap();
        }
    });
    let lines = collector.0.lock().unwrap().join("\n");
    let said = lines.matches("the pod has no workflow catalog").count();
    assert_eq!(said, 1, "{lines}");
}

#[test]
fn a_request_that_waits_for_a_turn_says_so() {
    let server = MockServer::start();
    server.set_latency(std::time::Duration::from_millis(300));
    let collector = Collector::default();
    let client = flowscale::Client::builder()
        .api_key(server.api_key())
        .base_url(server.url())
        .max_concurrent_requests(1)
        .build()
        .unwrap();
    std::thread::scope(|s| {
        for _ in 0..3 {
            let (client, collector) = (client.clone(), collector.clone());
            s.spawn(move || {
                tracing::subscriber::with_default(collector, || client.health().unwrap());
            });
        }
    });
    let lines = collector.0.lock().unwrap().join("\n");
    assert!(lines.contains("every turn is taken"), "{lines}");
    assert!(lines.contains("max_concurrent_requests"), "{lines}");
}
