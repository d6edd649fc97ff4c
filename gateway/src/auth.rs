//! Authentication: one shared key, presented as `Authorization: Bearer KEY` or
//! `x-api-key: KEY`, compared in constant time. `/healthz` and `/readyz` are open (probes
//! carry no key); `/metrics` is served to loopback peers, or to others with the key.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::extract::{ConnectInfo, Request, State};
use axum::http::HeaderMap;
use axum::http::header::AUTHORIZATION;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::error::{ApiError, ErrorKind, Wire};
use crate::state::AppState;

pub async fn authenticate(
    State(state): State<Arc<AppState>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    request: Request,
    next: Next,
) -> Response {
    let path = request.uri().path();
    let open_probe = matches!(path, "/healthz" | "/readyz");
    let loopback_metrics = path == "/metrics" && peer.ip().is_loopback();
    let needs_key = !open_probe && !loopback_metrics;
    let admitted = match &state.key {
        _ if !needs_key => true,
        // No key configured: the API is open, but metrics still stay on loopback.
        None => path != "/metrics",
        Some(key) => offered_keys(request.headers()).any(|k| key.matches(k)),
    };
    if admitted {
        return next.run(request).await;
    }
    let why = match (path, &state.key) {
        ("/metrics", None) => "metrics are served to loopback peers only",
        _ if offered_keys(request.headers()).next().is_none() => {
            "no API key: send Authorization: Bearer KEY or x-api-key: KEY"
        }
        _ => "the API key is not valid",
    };
    ApiError::new(ErrorKind::Authentication, why)
        .on(Wire::for_path(path))
        .into_response()
}

/// The keys a request offers, in either header.
fn offered_keys(headers: &HeaderMap) -> impl Iterator<Item = &[u8]> {
    let bearer = headers
        .get_all(AUTHORIZATION)
        .into_iter()
        .filter_map(|v| v.as_bytes().strip_prefix(b"Bearer "));
    let api_key = headers
        .get_all("x-api-key")
        .into_iter()
        .map(|v| v.as_bytes());
    bearer.chain(api_key)
}
