//! What every route of the simulator shares: its state behind one lock, and FlowScale's
//! answer envelopes (`{"status": "success", "data"}`, `{"status": "error", "errors"}`).

use std::sync::{Arc, Mutex, MutexGuard};

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use super::state::State as Sim;

/// The simulator's state, as every handler gets it.
pub(super) type Shared = Arc<Mutex<Sim>>;

pub(super) fn lock(state: &Shared) -> MutexGuard<'_, Sim> {
    state.lock().unwrap_or_else(|e| e.into_inner())
}

pub(super) fn success(data: Value) -> Response {
    axum::Json(json!({"status": "success", "data": data})).into_response()
}

pub(super) fn error(status: u16, message: &str) -> Response {
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    (
        status,
        axum::Json(json!({"status": "error", "errors": message})),
    )
        .into_response()
}
