//! `/healthz`, `/readyz`, `/metrics` and `GET /v1/models`.

use std::sync::Arc;

use axum::Json;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;

use crate::error::ApiError;
use crate::state::AppState;

/// Liveness: the process answers.
pub async fn healthz() -> Response {
    Json(json!({"status": "ok"})).into_response()
}

/// Readiness: the model source can answer now.
pub async fn readyz(State(state): State<Arc<AppState>>) -> Response {
    match state.source.ready().await {
        Ok(()) => {
            Json(json!({"status": "ready", "source": state.source.describe()})).into_response()
        }
        Err(e) => (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(json!({"status": "not_ready", "reason": e.to_string()})),
        )
            .into_response(),
    }
}

pub async fn metrics(State(state): State<Arc<AppState>>) -> Response {
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        state.metrics.render(state.traces.len()),
    )
        .into_response()
}

/// The source's model list, as an OpenAI `list`.
pub async fn models(State(state): State<Arc<AppState>>) -> Response {
    match state.source.models().await {
        Ok(list) => Json(list).into_response(),
        Err(e) => ApiError::from(e).into_response(),
    }
}
