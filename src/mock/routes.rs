//! The simulator's HTTP side (axum): one handler per endpoint of the FlowScale contract,
//! plus a gate in front of them that records requests, checks the key, and injects faults.

use std::time::Instant;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{DefaultBodyLimit, FromRequest, Multipart, Path, Query, Request, State};
use axum::http::{HeaderValue, StatusCode, Uri, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use futures_util::stream;
use serde_json::{Value, json};

use super::answer::{Shared, error, lock, success};
use super::state::download_url;
use super::vocabulary::{Fault, MockWorkflow, RecordedFile, RecordedRequest, Route, Shapes};
use crate::wire::catalog::ValueKind;
use crate::wire::types::RunStatus;

/// Files larger than this are counted but not kept in memory.
const KEEP_BYTES: u64 = 16 * 1024 * 1024;

pub(crate) fn router(state: Shared) -> Router {
    Router::new()
        .route("/api/v1/comfy/health", get(health))
        .route("/api/v1/comfy/queue", get(queue))
        .route("/api/v1/comfy/workflows", get(workflows))
        .route("/api/v1/runs", post(execute).get(list_runs))
        .route("/api/v1/runs/output", get(output))
        .route("/api/v1/runs/{run_id}", get(get_run))
        .route("/api/v1/runs/{run_id}/cancel", post(cancel))
        .route("/files/{run_id}/{*file}", get(download))
        .fallback(not_found)
        .layer(middleware::from_fn_with_state(state.clone(), gate))
        .layer(DefaultBodyLimit::disable())
        .with_state(state)
}

/// FastAPI's validation error.
fn unprocessable(missing: &[(&str, &str)], msg: &str, kind: &str) -> Response {
    let detail: Vec<Value> = missing
        .iter()
        .map(|(place, name)| json!({"loc": [place, name], "msg": msg, "type": kind}))
        .collect();
    (
        StatusCode::UNPROCESSABLE_ENTITY,
        axum::Json(json!({"detail": detail})),
    )
        .into_response()
}

fn query_pairs(uri: &Uri) -> Vec<(String, String)> {
    Query::<Vec<(String, String)>>::try_from_uri(uri)
        .map(|q| q.0)
        .unwrap_or_default()
}

fn query_value(uri: &Uri, key: &str) -> Option<String> {
    query_pairs(uri)
        .into_iter()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v)
}

fn route_of(method: &str, path: &str) -> Route {
    match (method, path) {
        (_, "/api/v1/comfy/health") => Route::Health,
        (_, "/api/v1/comfy/queue") => Route::Queue,
        (_, "/api/v1/comfy/workflows") => Route::Workflows,
        ("POST", "/api/v1/runs") => Route::Execute,
        (_, "/api/v1/runs") => Route::RunList,
        (_, "/api/v1/runs/output") => Route::Output,
        (_, p) if p.starts_with("/api/v1/runs/") && p.ends_with("/cancel") => Route::Cancel,
        (_, p) if p.starts_with("/api/v1/runs/") => Route::RunDetails,
        (_, p) if p.starts_with("/files/") => Route::Download,
        _ => Route::Any,
    }
}

/// A fault for the download handler to apply.
#[derive(Clone)]
struct DownloadFault(Fault);

/// Which entry of the request log a request is, for handlers that add to it.
#[derive(Clone, Copy)]
struct RecordIndex(usize);

/// Records the request, checks the key on API routes, waits the configured latency, and
/// injects the next pending fault. A request with a wrong key consumes no fault, so a
/// scheduled fault always reaches the next request that would otherwise succeed.
async fn gate(State(state): State<Shared>, mut req: Request, next: Next) -> Response {
    let method = req.method().as_str().to_owned();
    let path = req.uri().path().to_owned();
    let route = route_of(&method, &path);
    let api_key = req
        .headers()
        .get("x-api-key")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let range = req
        .headers()
        .get(header::RANGE)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let (latency, key_refusal, fault) = {
        let mut sim = lock(&state);
        sim.requests.push(RecordedRequest {
            method,
            path: path.clone(),
            query: query_pairs(req.uri()),
            api_key: api_key.clone(),
            range,
            fields: vec![],
            files: vec![],
        });
        let index = sim.requests.len() - 1;
        req.extensions_mut().insert(RecordIndex(index));
        let key_refusal = match api_key {
            _ if !path.starts_with("/api/") => None,
            None => Some((401, "Missing API key: send it in the X-API-KEY header")),
            Some(k) if k != sim.api_key => Some((403, "Invalid API key")),
            Some(_) => None,
        };
        let fault = match key_refusal {
            None => sim.take_fault(route),
            Some(_) => None,
        };
        (sim.latency, key_refusal, fault)
    };
    if !latency.is_zero() {
        tokio::time::sleep(latency).await;
    }
    if let Some((status, message)) = key_refusal {
        return error(status, message);
    }
    match fault {
        None => next.run(req).await,
        Some(fault @ (Fault::CutBodyAfter(_) | Fault::IgnoreRange | Fault::ChangedContent)) => {
            // Applied by the download handler, which knows the body.
            req.extensions_mut().insert(DownloadFault(fault));
            next.run(req).await
        }
        Some(Fault::Delay(d)) => {
            tokio::time::sleep(d).await;
            next.run(req).await
        }
        Some(Fault::UnknownShape) => {
            let resp = next.run(req).await;
            let body = axum::body::to_bytes(resp.into_body(), usize::MAX)
                .await
                .unwrap_or_default();
            let inner: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
            success(json!({"unknown": inner}))
        }
        Some(Fault::DelayAnswer(d)) => {
            let resp = next.run(req).await;
            tokio::time::sleep(d).await;
            resp
        }
        Some(Fault::Status(s)) => error(s, "Simulated failure"),
        Some(Fault::BadGatewayHtml) => (
            StatusCode::BAD_GATEWAY,
            [(header::CONTENT_TYPE, "text/html")],
            "<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n\
             <center><h1>502 Bad Gateway</h1></center>\r\n<hr><center>nginx</center>\r\n\
             </body>\r\n</html>\r\n",
        )
            .into_response(),
        Some(Fault::TooManyRequests { retry_after_secs }) => {
            let mut resp = error(429, "Too many requests");
            resp.headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(retry_after_secs));
            resp
        }
        Some(Fault::DropConnection) => broken(Bytes::new(), None),
        Some(Fault::TruncateBody) => {
            let resp = next.run(req).await;
            let (parts, body) = resp.into_parts();
            let full = axum::body::to_bytes(body, usize::MAX)
                .await
                .unwrap_or_default();
            let half = full.slice(..full.len() / 2);
            let mut resp = broken(half, Some(full.len()));
            *resp.status_mut() = parts.status;
            if let Some(ct) = parts.headers.get(header::CONTENT_TYPE) {
                resp.headers_mut().insert(header::CONTENT_TYPE, ct.clone());
            }
            resp
        }
    }
}

/// A response whose body sends `head`, then breaks the connection.
fn broken(head: Bytes, announced: Option<usize>) -> Response {
    let chunks: Vec<Result<Bytes, std::io::Error>> = vec![
        Ok(head),
        Err(std::io::Error::new(
            std::io::ErrorKind::ConnectionReset,
            "simulated connection drop",
        )),
    ];
    let mut resp = Response::new(Body::from_stream(stream::iter(chunks)));
    if let Some(len) = announced {
        resp.headers_mut()
            .insert(header::CONTENT_LENGTH, HeaderValue::from(len));
    }
    resp
}

/// A run as the shape mode has it: the OpenAPI file's runs have no `_id` nor `team_id`.
fn shaped(mut run: Value, shapes: Shapes) -> Value {
    if shapes == Shapes::Spec
        && let Some(fields) = run.as_object_mut()
    {
        fields.remove("_id");
        fields.remove("team_id");
    }
    run
}

async fn not_found() -> Response {
    error(404, "Not Found")
}

async fn health(State(state): State<Shared>) -> Response {
    let sim = lock(&state);
    let (running, _) = sim.placement(Instant::now());
    let data: Vec<Value> = (0..sim.containers)
        .map(|i| {
            let busy = running.iter().any(|(c, _)| *c == i);
            let status = if busy { "running" } else { "idle" };
            let name = format!("container #{}", i + 1);
            let url = format!("http://comfy-{}:8188", i + 1);
            match sim.shapes {
                Shapes::Legacy => json!({"url": name, "status": status}),
                Shapes::Spec => json!({"url": url, "status": status}),
                Shapes::Current => json!({"container": name, "status": status}),
                Shapes::Union => json!({"container": name, "url": url, "status": status}),
            }
        })
        .collect();
    success(json!(data))
}

/// The catalog of the registered workflows, by id: the Python SDK beta's shape (`union`,
/// `legacy`), the JS docs' shape with inputs and outputs as JSON text (`current`), none
/// (`spec`: FlowScale's OpenAPI file has no such route). Inputs keep the order they were
/// registered in, as a real catalog keeps its author's order: written as text, since a
/// `serde_json::Value` object would sort them.
async fn workflows(State(state): State<Shared>) -> Response {
    let sim = lock(&state);
    if sim.shapes == Shapes::Spec {
        return error(404, "Not Found");
    }
    let mut registered: Vec<_> = sim.workflows.values().collect();
    registered.sort_by(|a, b| a.id.cmp(&b.id));
    let entries: Vec<CatalogEntry<'_>> = registered
        .into_iter()
        .map(|w| CatalogEntry::of(w, sim.shapes))
        .collect();
    let body = match sim.shapes {
        Shapes::Current => serde_json::to_string(&json_envelope(&entries)),
        _ => serde_json::to_string(&json_envelope(&Listed {
            workflows: &entries,
        })),
    };
    match body {
        Ok(text) => ([(header::CONTENT_TYPE, "application/json")], text).into_response(),
        Err(_) => error(500, "the catalog could not be written"),
    }
}

#[derive(serde::Serialize)]
struct Envelope<T> {
    status: &'static str,
    data: T,
}

fn json_envelope<T>(data: T) -> Envelope<T> {
    Envelope {
        status: "success",
        data,
    }
}

#[derive(serde::Serialize)]
struct Listed<'a> {
    workflows: &'a [CatalogEntry<'a>],
}

/// One catalog entry in either shape: the Python beta's `workflow_id` with an inputs object
/// and a list of outputs, or the JS docs' `id` with both as JSON text.
#[derive(serde::Serialize)]
struct CatalogEntry<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    workflow_id: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    id: Option<&'a str>,
    name: &'a str,
    description: Option<&'a str>,
    inputs: Field<'a>,
    outputs: Field<'a>,
}

/// Inputs or outputs: an object, a list of names, or an object written as JSON text.
#[derive(serde::Serialize)]
#[serde(untagged)]
enum Field<'a> {
    Object(Ordered<'a>),
    Names(Vec<&'a str>),
    Text(String),
}

impl<'a> CatalogEntry<'a> {
    fn of(w: &'a MockWorkflow, shapes: Shapes) -> Self {
        let inputs = Ordered(
            w.inputs
                .iter()
                .map(|(name, kind, _)| {
                    let kind = match kind {
                        ValueKind::Text => "string",
                        other => other.as_str(),
                    };
                    (name.as_str(), kind)
                })
                .collect(),
        );
        let name = w.name.as_deref().unwrap_or(&w.id);
        if shapes == Shapes::Current {
            let outputs = Ordered(w.outputs.iter().map(|o| (o.as_str(), "image")).collect());
            CatalogEntry {
                workflow_id: None,
                id: Some(&w.id),
                name,
                description: Some(w.description.as_deref().unwrap_or_default()),
                inputs: Field::Text(inputs.text()),
                outputs: Field::Text(outputs.text()),
            }
        } else {
            CatalogEntry {
                workflow_id: Some(&w.id),
                id: None,
                name,
                description: w.description.as_deref(),
                inputs: Field::Object(inputs),
                outputs: Field::Names(w.outputs.iter().map(String::as_str).collect()),
            }
        }
    }
}

/// Pairs written as one JSON object, in their order.
struct Ordered<'a>(Vec<(&'a str, &'a str)>);

impl serde::Serialize for Ordered<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_map(self.0.iter().copied())
    }
}

impl Ordered<'_> {
    /// The object as JSON text (the JS docs' shape).
    fn text(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }
}

async fn queue(State(state): State<Shared>) -> Response {
    let sim = lock(&state);
    let (running, pending) = sim.placement(Instant::now());

    let data: Vec<Value> = (0..sim.containers)
        .map(|i| {
            let here: Vec<Value> = running
                .iter()
                .filter(|(c, _)| *c == i)
                .map(|(_, r)| json!([r.number, r.id, {}, {}, r.outputs]))
                .collect();
            // Pending runs wait in the first container's queue.
            let waiting: Vec<Value> = if i == 0 {
                pending
                    .iter()
                    .map(|r| json!([r.number, r.id, {}, {}, r.outputs]))
                    .collect()
            } else {
                vec![]
            };
            {
                let name = format!("container #{}", i + 1);
                let url = format!("http://comfy-{}:8188", i + 1);
                let queue = json!({"queue_running": here, "queue_pending": waiting});
                match sim.shapes {
                    Shapes::Legacy => json!({"comfy_uri": name, "queue": queue}),
                    Shapes::Spec => json!({"comfy_uri": url, "queue": queue}),
                    Shapes::Current => json!({"container": name, "queue": queue}),
                    Shapes::Union => json!({"container": name, "comfy_uri": url, "queue": queue}),
                }
            }
        })
        .collect();
    success(json!(data))
}

/// The form of `POST /api/v1/runs`: text fields and files.
async fn read_form(req: Request) -> Result<(Vec<(String, String)>, Vec<RecordedFile>), Response> {
    let content_type = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_owned();
    if content_type.starts_with("multipart/form-data") {
        let mut form = Multipart::from_request(req, &())
            .await
            .map_err(IntoResponse::into_response)?;
        let mut fields = vec![];
        let mut files = vec![];
        loop {
            let mut field = match form.next_field().await {
                Ok(Some(f)) => f,
                Ok(None) => break,
                Err(e) => return Err(error(400, &format!("malformed multipart body: {e}"))),
            };
            let name = field.name().unwrap_or_default().to_owned();
            match field.file_name().map(str::to_owned) {
                None => {
                    let text = field.text().await.map_err(|e| error(400, &e.to_string()))?;
                    fields.push((name, text));
                }
                Some(filename) => {
                    let content_type = field.content_type().map(str::to_owned);
                    let mut size = 0u64;
                    let mut bytes = Vec::new();
                    while let Some(chunk) = field
                        .chunk()
                        .await
                        .map_err(|e| error(400, &e.to_string()))?
                    {
                        size += chunk.len() as u64;
                        if size <= KEEP_BYTES {
                            bytes.extend_from_slice(&chunk);
                        }
                    }
                    if size > KEEP_BYTES {
                        bytes.clear();
                    }
                    files.push(RecordedFile {
                        name,
                        filename,
                        content_type,
                        size,
                        bytes,
                    });
                }
            }
        }
        Ok((fields, files))
    } else if content_type.starts_with("application/x-www-form-urlencoded") {
        let fields = axum::Form::<Vec<(String, String)>>::from_request(req, &())
            .await
            .map_err(IntoResponse::into_response)?
            .0;
        Ok((fields, vec![]))
    } else {
        Ok((vec![], vec![]))
    }
}

async fn execute(State(state): State<Shared>, req: Request) -> Response {
    let index = req.extensions().get::<RecordIndex>().copied();
    let Some(workflow_id) = query_value(req.uri(), "workflow_id") else {
        return unprocessable(&[("query", "workflow_id")], "Field required", "missing");
    };
    let group_id = query_value(req.uri(), "group_id");
    let Some(workflow) = lock(&state).workflows.get(&workflow_id).cloned() else {
        return error(404, &format!("Workflow {workflow_id} not found"));
    };
    let (fields, files) = match read_form(req).await {
        Ok(form) => form,
        Err(resp) => return resp,
    };
    let mut sim = lock(&state);
    if let Some(r) = index.and_then(|RecordIndex(i)| sim.requests.get_mut(i)) {
        r.fields = fields.clone();
        r.files = files.clone();
    }
    let missing: Vec<(&str, &str)> = workflow
        .required()
        .filter(|name| {
            !fields.iter().any(|(k, _)| k == name) && !files.iter().any(|f| f.name == *name)
        })
        .map(|name| ("body", name))
        .collect();
    if !missing.is_empty() {
        return unprocessable(&missing, "Field required", "missing");
    }
    let shapes = sim.shapes;
    let run = sim.create_run(&workflow, group_id, fields, files);
    success(match shapes {
        Shapes::Legacy => json!({"run_id": run.id, "number": run.number, "node_errors": {},
                                 "output_names": run.outputs}),
        Shapes::Current => json!({"run_id": run.id, "workflow_id": run.workflow_id}),
        Shapes::Spec => json!([{"run_id": run.id, "workflow_id": run.workflow_id}]),
        Shapes::Union => json!({"run_id": run.id, "workflow_id": run.workflow_id,
                                "output_names": run.outputs}),
    })
}

async fn output(State(state): State<Shared>, uri: Uri) -> Response {
    let Some(name) = query_value(&uri, "filename") else {
        return unprocessable(&[("query", "filename")], "Field required", "missing");
    };
    let sim = lock(&state);
    let now = Instant::now();
    let Some((run, output)) = sim.run_with_output(&name) else {
        return error(404, &format!("Output {name} not found"));
    };
    if run.timed_out(now) {
        return error(408, "Run timed out");
    }
    if run.status(now) != RunStatus::Completed {
        return StatusCode::NO_CONTENT.into_response();
    }
    success(json!({
        "download_url": download_url(&sim.base_url, &run.id, output),
        "generation_status": "success",
    }))
}

async fn get_run(State(state): State<Shared>, Path(run_id): Path<String>) -> Response {
    let sim = lock(&state);
    match sim.run(&run_id) {
        Some(run) => success(shaped(
            run.to_json(Instant::now(), &sim.base_url),
            sim.shapes,
        )),
        None => error(404, &format!("Run {run_id} not found")),
    }
}

async fn list_runs(State(state): State<Shared>, uri: Uri) -> Response {
    let q = |k: &str| query_value(&uri, k);
    let sort_by = q("sort_by").unwrap_or_else(|| "created_at".into());
    let sort_order = q("sort_order").unwrap_or_else(|| "desc".into());
    if !["created_at", "started_at", "completed_at"].contains(&sort_by.as_str()) {
        return unprocessable(
            &[("query", "sort_by")],
            "Input should be 'created_at', 'started_at' or 'completed_at'",
            "enum",
        );
    }
    if !["asc", "desc"].contains(&sort_order.as_str()) {
        return unprocessable(
            &[("query", "sort_order")],
            "Input should be 'asc' or 'desc'",
            "enum",
        );
    }
    let page = match q("page").map(|p| p.parse::<u64>()) {
        None => 1,
        Some(Ok(p)) if p >= 1 => p,
        _ => {
            return unprocessable(
                &[("query", "page")],
                "Input should be greater than or equal to 1",
                "greater_than_equal",
            );
        }
    };
    let page_size = match q("page_size").map(|p| p.parse::<u64>()) {
        None => 10,
        Some(Ok(p)) if (1..=100).contains(&p) => p,
        _ => {
            return unprocessable(
                &[("query", "page_size")],
                "Input should be between 1 and 100",
                "less_than_equal",
            );
        }
    };
    let group_id = q("group_id");
    let sim = lock(&state);
    // FlowScale's OpenAPI file makes `group_id` a required query parameter of this route:
    // a server that follows it refuses the request without one, as FastAPI does.
    if sim.shapes == Shapes::Spec && group_id.is_none() {
        return unprocessable(&[("query", "group_id")], "Field required", "missing");
    }
    let now = Instant::now();
    let mut runs: Vec<(Option<String>, Value)> = sim
        .runs
        .iter()
        .filter(|r| group_id.is_none() || r.group_id == group_id)
        .map(|r| {
            let key = match sort_by.as_str() {
                "started_at" => r.started_at(now),
                "completed_at" => r.completed_at(now),
                _ => Some(r.created_at()),
            };
            (key, shaped(r.to_json(now, &sim.base_url), sim.shapes))
        })
        .collect();
    // ISO-8601 strings sort by time; runs without the timestamp come last either way.
    runs.sort_by(|a, b| match (&a.0, &b.0) {
        (Some(x), Some(y)) if sort_order == "asc" => x.cmp(y),
        (Some(x), Some(y)) => y.cmp(x),
        (Some(_), None) => std::cmp::Ordering::Less,
        (None, Some(_)) => std::cmp::Ordering::Greater,
        (None, None) => std::cmp::Ordering::Equal,
    });
    let total = runs.len() as u64;
    let total_pages = total.div_ceil(page_size);
    let page_runs: Vec<Value> = runs
        .into_iter()
        .skip(((page - 1) * page_size) as usize)
        .take(page_size as usize)
        .map(|(_, v)| v)
        .collect();
    let data = match sim.shapes {
        Shapes::Legacy => {
            return success(json!({"group_id": group_id, "count": total, "runs": page_runs}));
        }
        // The OpenAPI file types `group_id` as a string.
        Shapes::Spec => {
            let group = group_id.unwrap_or_default();
            return success(json!({"group_id": group, "count": total, "runs": page_runs}));
        }
        Shapes::Current => json!({"runs": page_runs}),
        Shapes::Union => json!({"runs": page_runs, "count": total, "group_id": group_id}),
    };
    axum::Json(json!({
        "status": "success",
        "data": data,
        "meta": {"sort_by": sort_by, "sort_order": sort_order, "page": page, "group_id": group_id,
                 "page_size": page_size, "total_count": total, "total_pages": total_pages},
    }))
    .into_response()
}

async fn cancel(State(state): State<Shared>, Path(run_id): Path<String>) -> Response {
    match lock(&state).cancel(&run_id) {
        Ok(()) => success(json!("Run cancelled successfully")),
        Err((status, message)) => error(status, message),
    }
}

async fn download(
    State(state): State<Shared>,
    Path((run_id, file)): Path<(String, String)>,
    fault: Option<axum::Extension<DownloadFault>>,
    headers: axum::http::HeaderMap,
) -> Response {
    let fault = fault.map(|f| f.0.0);
    let sim = lock(&state);
    let Some(run) = sim.run(&run_id) else {
        return error(404, "No such file");
    };
    let mut throttle = None;
    let changed = fault == Some(Fault::ChangedContent);
    let (source, etag) = if let Some(name) = file.strip_prefix("inputs/") {
        match run.files.iter().find(|f| f.filename == name) {
            Some(f) => (
                Source::Held(Bytes::from(f.bytes.clone())),
                format!("\"{run_id}-input-{}\"", f.size),
            ),
            None => return error(404, "No such file"),
        }
    } else {
        let stem = file.rsplit_once('.').map_or(file.as_str(), |(s, _)| s);
        if !run.outputs.iter().any(|o| o == stem)
            || run.status(Instant::now()) != RunStatus::Completed
        {
            return error(404, "No such file");
        }
        throttle = sim.download_throttle;
        let (name, etag) = match changed {
            false => (stem.to_owned(), format!("\"{run_id}-{stem}\"")),
            true => (
                format!("{stem}~changed"),
                format!("\"{run_id}-{stem}-changed\""),
            ),
        };
        (
            Source::Made {
                name,
                size: run.output_size,
            },
            etag,
        )
    };
    drop(sim);
    let len = source.len();
    let text = |name| {
        headers
            .get(name)
            .and_then(|v: &HeaderValue| v.to_str().ok())
    };
    // `If-Range` that does not name this file's ETag: the whole file, as RFC 9110 says.
    let validator_holds = text(header::IF_RANGE).is_none_or(|v| v == etag);
    let range = match fault {
        Some(Fault::IgnoreRange) => None,
        _ => text(header::RANGE)
            .filter(|_| validator_holds)
            .and_then(parse_range),
    };
    let mut status = StatusCode::OK;
    let mut content_range = None;
    let (start, end) = match range {
        Some((start, _)) if start >= len => {
            let mut resp = error(416, "Range Not Satisfiable");
            if let Ok(v) = HeaderValue::from_str(&format!("bytes */{len}")) {
                resp.headers_mut().insert(header::CONTENT_RANGE, v);
            }
            return resp;
        }
        Some((start, end)) => {
            let end = end.map_or(len - 1, |e| e.min(len - 1));
            status = StatusCode::PARTIAL_CONTENT;
            content_range = Some(format!("bytes {start}-{end}/{len}"));
            (start, end + 1)
        }
        None => (0, len),
    };
    let announced = end - start;
    let cut = match fault {
        Some(Fault::CutBodyAfter(n)) => Some(n.min(announced)),
        _ => None,
    };
    let chunk = throttle.map_or(PIECE, |(chunk, _)| chunk.max(1) as u64);
    let gap = throttle.map(|(_, gap)| gap);
    let served = cut.unwrap_or(announced);
    // Made piece by piece as the connection takes them: memory holds one piece.
    let pieces = stream::unfold(Some(0u64), move |at| {
        let source = source.clone();
        async move {
            let at = at?;
            if at >= served {
                let dropped = cut.map(|_| {
                    Err(std::io::Error::new(
                        std::io::ErrorKind::ConnectionReset,
                        "simulated connection drop",
                    ))
                });
                return dropped.map(|e| (e, None));
            }
            let to = (at + chunk).min(served);
            Some((Ok(source.piece(start + at, start + to)), Some(to)))
        }
    });
    let stream = futures_util::StreamExt::then(pieces, move |piece| async move {
        match (&piece, gap) {
            // The bytes sent before a cut reach the client first: an abort at once could
            // drop them from the socket's buffers with the connection.
            (Err(_), _) => tokio::time::sleep(std::time::Duration::from_millis(100)).await,
            (Ok(_), Some(gap)) => tokio::time::sleep(gap).await,
            (Ok(_), None) => {}
        }
        piece
    });
    let mut resp = Response::new(Body::from_stream(stream));
    *resp.status_mut() = status;
    let content_type = crate::wire::form::guess_type(&file);
    let headers = resp.headers_mut();
    if let Ok(value) = HeaderValue::from_str(&content_type) {
        headers.insert(header::CONTENT_TYPE, value);
    }
    headers.insert(header::CONTENT_LENGTH, HeaderValue::from(announced));
    headers.insert(header::ACCEPT_RANGES, HeaderValue::from_static("bytes"));
    if let Ok(value) = HeaderValue::from_str(&etag) {
        headers.insert(header::ETAG, value);
    }
    if let Some(value) = content_range.and_then(|v| HeaderValue::from_str(&v).ok()) {
        headers.insert(header::CONTENT_RANGE, value);
    }
    resp
}

/// How much of a download is made and sent at once, when no throttle says otherwise.
const PIECE: u64 = 256 * 1024;

/// What a download serves: an input as it was received, or an output made as it is sent.
#[derive(Clone)]
enum Source {
    Held(Bytes),
    Made { name: String, size: Option<usize> },
}

impl Source {
    fn len(&self) -> u64 {
        match self {
            Source::Held(bytes) => bytes.len() as u64,
            Source::Made { size, .. } => super::state::output_len(*size),
        }
    }

    /// Bytes `from..to`.
    fn piece(&self, from: u64, to: u64) -> Bytes {
        match self {
            Source::Held(bytes) => bytes.slice(from as usize..to as usize),
            Source::Made { name, size } => {
                Bytes::from(super::state::output_piece(name, *size, from, to))
            }
        }
    }
}

/// `bytes=N-` or `bytes=N-M` (one range; anything else is ignored, as servers may).
fn parse_range(value: &str) -> Option<(u64, Option<u64>)> {
    let spec = value.trim().strip_prefix("bytes=")?;
    let (start, end) = spec.split_once('-')?;
    let start = start.trim().parse().ok()?;
    let end = match end.trim() {
        "" => None,
        e => Some(e.parse().ok()?),
    };
    (end.is_none_or(|e| e >= start)).then_some((start, end))
}
