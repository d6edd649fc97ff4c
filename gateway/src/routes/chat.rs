//! `POST /v1/chat/completions`: the OpenAI wire.

use std::sync::Arc;

use axum::Json;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Extension, State};
use axum::response::{IntoResponse, Response};

use super::with_trace;
use crate::error::{ApiError, Wire};
use crate::exchange::{Answer, exchange, parse_body};
use crate::gate::report::Tally;
use crate::gate::stream::GateEvent;
use crate::ops::access_log::TraceHint;
use crate::sse;
use crate::state::AppState;

pub async fn chat(
    State(state): State<Arc<AppState>>,
    Extension(TraceHint(hint)): Extension<TraceHint>,
    Extension(tally): Extension<Arc<Tally>>,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let result = async {
        let request = parse_body(body, state.limits.max_body_bytes)?;
        exchange(&state, hint, tally, request).await
    }
    .await;
    let exchange = match result {
        Ok(e) => e,
        Err(e) => return e.on(Wire::OpenAi).into_response(),
    };
    let response = match exchange.answer {
        Answer::Whole(completion) => Json(completion).into_response(),
        Answer::Stream(events) => sse::response(events, |event| match event {
            Some(GateEvent::Chunk(chunk)) => sse::frame(None, &chunk),
            Some(GateEvent::Fail(e)) => sse::frame(None, &ApiError::from(e).body()),
            None => "data: [DONE]\n\n".to_string(),
        }),
    };
    with_trace(response, &exchange.trace)
}
