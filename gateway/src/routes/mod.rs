//! The router: every endpoint and the layers around them, built in one place.

mod chat;
mod messages;
mod probes;

use std::sync::Arc;

use axum::extract::DefaultBodyLimit;
use axum::http::HeaderValue;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Router, middleware};
use tower_http::catch_panic::CatchPanicLayer;

use crate::auth::authenticate;
use crate::error::{ApiError, ErrorKind};
use crate::ops::access_log::observe;
use crate::ops::shed::shed;
use crate::state::AppState;
use crate::traces::TRACE_HEADER;

/// The gateway's routes. Layers run outside in: panic guard, access log, auth, then
/// (for the model routes only) the concurrency bound.
pub fn router(state: Arc<AppState>) -> Router {
    let model_routes = Router::new()
        .route("/v1/chat/completions", post(chat::chat))
        .route("/v1/messages", post(messages::messages))
        .route("/v1/models", get(probes::models))
        .route_layer(middleware::from_fn_with_state(Arc::clone(&state), shed));
    Router::new()
        .merge(model_routes)
        .route("/healthz", get(probes::healthz))
        .route("/readyz", get(probes::readyz))
        .route("/metrics", get(probes::metrics))
        .fallback(not_found)
        .layer(DefaultBodyLimit::max(state.limits.max_body_bytes))
        .layer(middleware::from_fn_with_state(
            Arc::clone(&state),
            authenticate,
        ))
        .layer(middleware::from_fn_with_state(Arc::clone(&state), observe))
        .layer(CatchPanicLayer::custom(|_| {
            ApiError::new(ErrorKind::Internal, "the gateway failed internally").into_response()
        }))
        .with_state(state)
}

async fn not_found(uri: axum::http::Uri) -> Response {
    ApiError::new(ErrorKind::NotFound, format!("no endpoint {}", uri.path()))
        .on(crate::error::Wire::for_path(uri.path()))
        .into_response()
}

/// Puts the conversation's id on a chat response.
fn with_trace(mut response: Response, trace: &str) -> Response {
    if let Ok(v) = HeaderValue::from_str(trace) {
        response.headers_mut().insert(TRACE_HEADER, v);
    }
    response
}
