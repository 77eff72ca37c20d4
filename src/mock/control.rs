//! The simulator's own routes, apart from FlowScale's contract: its catalog edited while
//! it runs, so that a test or a demo can show drift (lock, edit, `flowscale lock --check`).
//! They sit beside the gate of FlowScale's routes, not behind it: no key is asked for (they
//! are the operator's, on loopback), no fault is injected, and they are not recorded.
//!
//! - `PUT /_mock/workflows/{id}` with a catalog entry's JSON (`{"name", "description",
//!   "inputs": {name: kind}, "outputs": [name]}`; a kind may be `{"type": "image",
//!   "required": true}`) registers the workflow or replaces its name, description, inputs
//!   and outputs (a workflow already there keeps its timing).
//! - `DELETE /_mock/workflows/{id}` removes it (404 if there is none).

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::response::Response;
use axum::routing::put;
use serde_json::{Value, json};

use super::answer::{Shared, error, lock, success};
use super::vocabulary::MockWorkflow;
use crate::wire::catalog::Workflow;

pub(super) fn router(state: Shared) -> Router {
    Router::new()
        .route("/_mock/workflows/{id}", put(replace).delete(remove))
        .with_state(state)
}

async fn replace(State(state): State<Shared>, Path(id): Path<String>, body: Bytes) -> Response {
    let mut entry: Value = match serde_json::from_slice(&body) {
        Ok(Value::Object(map)) => Value::Object(map),
        _ => return error(400, "the body is not a JSON object (a catalog entry)"),
    };
    // The path names the workflow, whatever the body says.
    entry["workflow_id"] = json!(id);
    if let Some(map) = entry.as_object_mut() {
        map.remove("id");
    }
    let workflow: Workflow = match serde_json::from_value(entry) {
        Ok(w) => w,
        Err(e) => return error(400, &format!("not a catalog entry: {e}")),
    };
    let mut sim = lock(&state);
    let mut mock = sim
        .workflows
        .remove(&id)
        .unwrap_or_else(|| MockWorkflow::new(&id));
    mock.name = Some(workflow.name);
    mock.description = workflow.description;
    mock.inputs = (workflow.inputs.into_iter())
        .map(|i| (i.name, i.kind, i.required.unwrap_or(false)))
        .collect();
    mock.outputs = workflow.outputs.into_iter().map(|o| o.name).collect();
    sim.workflows.insert(id.clone(), mock);
    success(json!({"workflow_id": id}))
}

async fn remove(State(state): State<Shared>, Path(id): Path<String>) -> Response {
    match lock(&state).workflows.remove(&id) {
        Some(_) => success(json!({"workflow_id": id})),
        None => error(404, &format!("no workflow `{id}`")),
    }
}
