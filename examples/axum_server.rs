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
//! Uploaded files are never held in memory: each is copied chunk by chunk to a temporary
//! file, then streamed from disk to FlowScale. (A multipart form must be read in order, and
//! the outgoing form needs every field before its upload starts, so a file cannot be piped
//! straight through while later fields are still unread.)

use std::path::PathBuf;
use std::time::Duration;

use axum::extract::{Multipart, Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use flowscale::{AsyncClient, Input, Inputs, RunsQuery, WaitOptions};
use serde::Deserialize;
use serde_json::{Value, json};
use tokio::io::AsyncWriteExt;

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
    json_of(s.client.check_health().await?)
}

async fn queue(State(s): State<AppState>) -> Answer {
    json_of(s.client.get_queue().await?)
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
    json_of(s.client.get_runs(&query).await?)
}

async fn run(State(s): State<AppState>, Path(run_id): Path<String>) -> Answer {
    json_of(s.client.get_run(&run_id).await?)
}

async fn cancel(State(s): State<AppState>, Path(run_id): Path<String>) -> Answer {
    json_of(json!({"message": s.client.cancel_run(&run_id).await?}))
}

#[derive(Deserialize)]
struct Group {
    group_id: Option<String>,
}

/// Temporary files of one request, removed when it ends (whatever the outcome).
struct Spool(Vec<PathBuf>);

impl Drop for Spool {
    fn drop(&mut self) {
        for p in &self.0 {
            let _ = std::fs::remove_file(p);
        }
    }
}

async fn execute(
    State(s): State<AppState>,
    Path(workflow_id): Path<String>,
    Query(group): Query<Group>,
    mut form: Multipart,
) -> Response {
    let bad = |msg: String| (StatusCode::BAD_REQUEST, Json(json!({"error": msg}))).into_response();
    let mut inputs = Inputs::new();
    let mut spool = Spool(Vec::new());
    loop {
        let mut field = match form.next_field().await {
            Ok(Some(f)) => f,
            Ok(None) => break,
            Err(e) => return bad(format!("malformed upload: {e}")),
        };
        let name = field.name().unwrap_or_default().to_owned();
        match field.file_name().map(str::to_owned) {
            None => match field.text().await {
                Ok(text) => inputs.push(name, text),
                Err(e) => return bad(format!("field {name}: {e}")),
            },
            Some(filename) => {
                let content_type = field.content_type().map(str::to_owned);
                let path = std::env::temp_dir().join(format!(
                    "flowscale-upload-{}-{}",
                    std::process::id(),
                    unique()
                ));
                spool.0.push(path.clone());
                let mut file = match tokio::fs::File::create(&path).await {
                    Ok(f) => f,
                    Err(e) => {
                        return ApiError(flowscale::Error::Config(e.to_string())).into_response();
                    }
                };
                loop {
                    match field.chunk().await {
                        Ok(Some(chunk)) => {
                            if let Err(e) = file.write_all(&chunk).await {
                                return bad(format!("field {name}: {e}"));
                            }
                        }
                        Ok(None) => break,
                        Err(e) => return bad(format!("field {name}: {e}")),
                    }
                }
                if let Err(e) = file.flush().await {
                    return bad(format!("field {name}: {e}"));
                }
                let mut input = Input::file(&path).with_filename(filename);
                if let Some(ct) = content_type {
                    input = input.with_content_type(ct);
                }
                inputs.push(name, input);
            }
        }
    }
    let result = s
        .client
        .execute_workflow_and_wait(&workflow_id, inputs, group.group_id.as_deref(), &s.wait)
        .await;
    drop(spool);
    match result {
        Ok(r) => Json(json!({
            "run_id": r.run_id,
            "workflow_id": r.workflow_id,
            "status": r.status,
            "outputs": r.outputs.iter().map(|o| json!({
                "name": o.name, "download_url": o.download_url, "generation_status": o.generation_status
            })).collect::<Vec<_>>(),
        }))
        .into_response(),
        Err(e) => ApiError(e).into_response(),
    }
}

fn unique() -> u64 {
    use std::sync::atomic::{AtomicU64, Ordering};
    static NEXT: AtomicU64 = AtomicU64::new(0);
    NEXT.fetch_add(1, Ordering::Relaxed)
}

#[allow(dead_code)] // `main` is unused when a test includes this file as a module.
#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut _simulator = None;
    let client = if std::env::var_os(flowscale::ENV_API_KEY).is_some() {
        AsyncClient::from_env()?
    } else {
        let server = flowscale::mock::MockServer::start();
        server.register(
            flowscale::mock::Workflow::new("demo")
                .outputs(["image"])
                .duration(Duration::from_secs(1)),
        );
        println!(
            "No FLOWSCALE_API_KEY set: serving the simulator at {} (workflow `demo`)",
            server.url()
        );
        let client = server.async_client();
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
