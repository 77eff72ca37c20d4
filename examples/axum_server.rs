//! A small web service on `AsyncClient`: the Rust counterpart of the Python SDK's FastAPI
//! example. It exposes health, queue, runs (paged), run details, cancel, and an
//! execute-and-wait endpoint that takes a multipart upload with any field names.
//!
//! ```sh
//! cargo run --example axum_server            # against the built-in simulator
//! curl -F text_1='a cat' -F image_1=@tests/data/fixtures/cat.png \
//!      'http://127.0.0.1:3000/execute/demo?group_id=web'
//! ```
//!
//! With `FLOWSCALE_API_KEY` / `FLOWSCALE_API_URL` set it serves your pod instead.
//! `PORT` picks the port (default 3000).
//!
//! Uploads are relayed, not stored: the request to FlowScale starts at once, and each
//! incoming field is handed on as it arrives (`Inputs::streamed_fields`), files as pipes
//! that fill while FlowScale reads them. Memory holds a few chunks, whatever the file size.

use std::io;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use axum::extract::{Multipart, Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use bytes::Bytes;
use flowscale::{AsyncClient, Input, Inputs, Reader, RunsQuery, WaitOptions};
use serde::Deserialize;
use serde_json::{Value, json};
use tokio::io::AsyncRead;
use tokio::sync::mpsc;
use tokio_util::io::StreamReader;

/// What every handler shares.
#[derive(Clone)]
pub struct AppState {
    client: AsyncClient,
    wait: WaitOptions,
}

/// The service's routes.
pub fn app(client: AsyncClient, wait: WaitOptions) -> Router {
    Router::new()
        .route("/health", get(health))
        .route("/queue", get(queue))
        .route("/runs", get(runs))
        .route("/runs/{run_id}", get(run))
        .route("/runs/{run_id}/cancel", post(cancel))
        .route("/execute/{workflow_id}", post(execute))
        .layer(axum::extract::DefaultBodyLimit::max(1024 * 1024 * 1024))
        .with_state(AppState { client, wait })
}

/// A FlowScale error as an HTTP answer: upstream statuses pass through, bad input is 400,
/// anything else 502.
pub struct ApiError(flowscale::Error);

impl From<flowscale::Error> for ApiError {
    fn from(e: flowscale::Error) -> Self {
        ApiError(e)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = match &self.0 {
            flowscale::Error::Input { .. } => StatusCode::BAD_REQUEST,
            flowscale::Error::Timeout { .. } | flowscale::Error::RunTimedOut { .. } => {
                StatusCode::GATEWAY_TIMEOUT
            }
            e => e
                .status()
                .and_then(|s| StatusCode::from_u16(s).ok())
                .filter(|s| s.is_client_error() || s.is_server_error())
                .unwrap_or(StatusCode::BAD_GATEWAY),
        };
        let body = json!({"error": self.0.to_string(), "run_id": self.0.run_id()});
        (status, Json(body)).into_response()
    }
}

type Answer = Result<Json<Value>, ApiError>;

fn json_of(v: impl serde::Serialize) -> Answer {
    Ok(Json(serde_json::to_value(v).unwrap_or(Value::Null)))
}

async fn health(State(s): State<AppState>) -> Answer {
    json_of(s.client.health().await?)
}

async fn queue(State(s): State<AppState>) -> Answer {
    json_of(s.client.queue().await?)
}

#[derive(Deserialize)]
struct Paging {
    page: Option<u32>,
    page_size: Option<u32>,
    group_id: Option<String>,
}

async fn runs(State(s): State<AppState>, Query(p): Query<Paging>) -> Answer {
    let mut query = RunsQuery::new()
        .page(p.page.unwrap_or(1))
        .page_size(p.page_size.unwrap_or(10));
    if let Some(g) = p.group_id {
        query = query.group_id(g);
    }
    json_of(s.client.runs_page(&query).await?)
}

async fn run(State(s): State<AppState>, Path(run_id): Path<String>) -> Answer {
    json_of(s.client.run(&run_id).await?)
}

async fn cancel(State(s): State<AppState>, Path(run_id): Path<String>) -> Answer {
    json_of(json!({"message": s.client.cancel_run(&run_id).await?}))
}

#[derive(Deserialize)]
struct Group {
    group_id: Option<String>,
}

/// A file part whose bytes are still arriving: an `AsyncRead` fed chunk by chunk. An
/// error pushed into it fails the outgoing upload instead of ending the file early.
fn pipe() -> (
    mpsc::Sender<io::Result<Bytes>>,
    impl AsyncRead + Send + Unpin + 'static,
) {
    let (tx, rx) = mpsc::channel::<io::Result<Bytes>>(4);
    let chunks = futures_util::stream::unfold(rx, |mut rx| async move {
        rx.recv().await.map(|chunk| (chunk, rx))
    });
    (tx, StreamReader::new(Box::pin(chunks)))
}

/// Reads the incoming form field by field and hands each one on as soon as it starts:
/// text as text, files as pipes that fill while FlowScale reads them. A malformed upload,
/// or a field this service refuses, sets `abort` before the stream of fields ends: the SDK
/// then fails the outgoing body instead of completing it, so FlowScale never starts a run
/// on half a form.
async fn relay(
    mut form: Multipart,
    fields: mpsc::Sender<(String, Input)>,
    abort: Arc<AtomicBool>,
) -> Result<(), String> {
    let outcome = async {
        while let Some(mut field) = form.next_field().await.map_err(|e| e.to_string())? {
            let name = field.name().unwrap_or_default().to_owned();
            // This service's own rule: every field is named (FlowScale would take it as
            // an input named "" and the run would not get what the caller meant).
            if name.is_empty() {
                return Err("a field without a name".to_owned());
            }
            let Some(filename) = field.file_name().map(str::to_owned) else {
                let text = field
                    .text()
                    .await
                    .map_err(|e| format!("field {name}: {e}"))?;
                if fields.send((name, text.into())).await.is_err() {
                    return Ok(()); // the upload to FlowScale is over already
                }
                continue;
            };
            let (bytes, reader) = pipe();
            let mut part = Reader::from_async(reader, filename);
            if let Some(ct) = field.content_type() {
                part = part.with_content_type(ct);
            }
            if fields.send((name.clone(), part.into())).await.is_err() {
                return Ok(());
            }
            loop {
                match field.chunk().await {
                    Ok(Some(chunk)) => {
                        if bytes.send(Ok(chunk)).await.is_err() {
                            return Ok(());
                        }
                    }
                    Ok(None) => break, // dropping `bytes` ends the file
                    Err(e) => return Err(format!("field {name}: {e}")),
                }
            }
        }
        Ok(())
    }
    .await;
    if outcome.is_err() {
        // Before `fields` is dropped (which ends the stream): the body fails, no run.
        abort.store(true, Ordering::SeqCst);
    }
    outcome
}

async fn execute(
    State(s): State<AppState>,
    Path(workflow_id): Path<String>,
    Query(group): Query<Group>,
    form: Multipart,
) -> Response {
    let (tx, rx) = mpsc::channel::<(String, Input)>(1);
    let fields = futures_util::stream::unfold(rx, |mut rx| async move {
        rx.recv().await.map(|field| (field, rx))
    });
    let abort = Arc::new(AtomicBool::new(false));
    let mut inputs = Inputs::new().streamed_fields(fields).stop_on(abort.clone());
    if let Some(group_id) = group.group_id {
        inputs = inputs.group_id(group_id);
    }
    let run = s
        .client
        .execute_workflow_and_wait(&workflow_id, inputs, &s.wait);
    // Cancel-safe: if the browser goes away, this handler's future is dropped, and the SDK
    // finishes a submission already on the wire on a task of its own, handing its run to
    // `on_orphaned_run` (see `main`), so no paid run goes unheard of. `run` comes first:
    // dropped first, it stops the upload before `relay`'s senders go, so a half-relayed
    // form is cut short (no run) rather than ended early as if complete.
    let (result, relayed) = tokio::join!(run, relay(form, tx, abort));
    if let Err(msg) = relayed {
        let body = json!({"error": format!("malformed upload: {msg}")});
        return (StatusCode::BAD_REQUEST, Json(body)).into_response();
    }
    match result {
        // `WorkflowResult` is `Serialize`: the answer is the SDK's own shape.
        Ok(result) => Json(result).into_response(),
        Err(e) => ApiError(e).into_response(),
    }
}

#[allow(dead_code)] // `main` is unused when a test includes this file as a module.
#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut _simulator = None;
    // Runs whose caller left (a dropped handler) are logged, never lost: with the group
    // the request filed them under, a service can tell whose they were.
    let orphaned = |orphan: &flowscale::types::OrphanedRun| match orphan.run_id() {
        Some(run) => eprintln!(
            "run {run} (group {:?}) was started for a request whose client went away",
            orphan.group_id
        ),
        None => eprintln!(
            "a request whose client went away may have started a run (group {:?}): {}",
            orphan.group_id, orphan.state
        ),
    };
    let client = if std::env::var_os(flowscale::constants::ENV_API_KEY).is_some() {
        AsyncClient::builder()
            .api_key(std::env::var(flowscale::constants::ENV_API_KEY)?)
            .base_url(std::env::var(flowscale::constants::ENV_API_URL)?)
            .on_orphaned_run(orphaned)
            .build()?
    } else {
        let server = flowscale::mock::MockServer::start();
        server.register(
            flowscale::mock::MockWorkflow::new("demo")
                .outputs(["image"])
                .duration(Duration::from_secs(1)),
        );
        println!(
            "No FLOWSCALE_API_KEY set: serving the simulator at {} (workflow `demo`)",
            server.url()
        );
        let client = AsyncClient::builder()
            .api_key(server.api_key())
            .base_url(server.url())
            .on_orphaned_run(orphaned)
            .build()?;
        _simulator = Some(server);
        client
    };
    let port: u16 = std::env::var("PORT")
        .ok()
        .and_then(|p| p.parse().ok())
        .unwrap_or(3000);
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port)).await?;
    println!("listening on http://{}", listener.local_addr()?);
    let wait = WaitOptions::new().poll_interval(Duration::from_millis(500));
    axum::serve(listener, app(client, wait)).await?;
    Ok(())
}
