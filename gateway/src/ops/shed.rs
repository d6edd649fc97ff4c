//! Load shedding: a bound on requests in flight; past it a request is refused at once
//! with 503 and `Retry-After` instead of queueing behind the others.
//!
//! The slot is held until the response body ends, so a long stream counts for its whole
//! length (tower's `ConcurrencyLimit` would free it when the headers leave).

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::guard::hold_until_body_ends;
use crate::error::{ApiError, ErrorKind, Wire};
use crate::state::AppState;

/// Seconds a shed client is asked to wait.
const RETRY_AFTER_S: u64 = 1;

pub async fn shed(State(state): State<Arc<AppState>>, request: Request, next: Next) -> Response {
    match Arc::clone(&state.slots).try_acquire_owned() {
        Ok(permit) => hold_until_body_ends(next.run(request).await, permit),
        Err(_) => {
            state.metrics.shed();
            ApiError::new(
                ErrorKind::Overloaded,
                format!(
                    "the gateway is at its bound of {} requests in flight (--max-concurrent)",
                    state.limits.max_concurrent
                ),
            )
            .retry_after(RETRY_AFTER_S)
            .on(Wire::for_path(request.uri().path()))
            .into_response()
        }
    }
}
