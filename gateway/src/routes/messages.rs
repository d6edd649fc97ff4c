//! `POST /v1/messages`: the Anthropic Messages wire, over the same gate.

use std::sync::Arc;

use axum::Json;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Extension, State};
use axum::response::{IntoResponse, Response};

use super::with_trace;
use crate::anthropic::stream::Translator;
use crate::anthropic::{request, response};
use crate::error::{ApiError, Wire};
use crate::exchange::{Answer, exchange, parse_body};
use crate::gate::report::Tally;
use crate::gate::stream::GateEvent;
use crate::ops::access_log::TraceHint;
use crate::sse;
use crate::state::AppState;

pub async fn messages(
    State(state): State<Arc<AppState>>,
    Extension(TraceHint(hint)): Extension<TraceHint>,
    Extension(tally): Extension<Arc<Tally>>,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let result = async {
        let anthropic = parse_body(body, state.limits.max_body_bytes)?;
        let openai = request::to_openai(&anthropic)?;
        let exchange = exchange(&state, hint, tally, openai).await?;
        let rendered = match exchange.answer {
            Answer::Whole(completion) => {
                Json(response::from_openai(&completion).map_err(ApiError::from)?).into_response()
            }
            Answer::Stream(events) => {
                let mut translator = Translator::default();
                sse::response(events, move |event| render(&mut translator, event))
            }
        };
        Ok::<_, ApiError>(with_trace(rendered, &exchange.trace))
    }
    .await;
    result.unwrap_or_else(|e| e.on(Wire::Anthropic).into_response())
}

fn render(translator: &mut Translator, event: Option<GateEvent>) -> String {
    let frames = match event {
        Some(GateEvent::Chunk(chunk)) => match translator.chunk(&chunk) {
            Ok(frames) => frames,
            Err(e) => return error_frame(ApiError::from(e)),
        },
        Some(GateEvent::Fail(e)) => return error_frame(ApiError::from(e)),
        None => translator.finish(),
    };
    frames
        .iter()
        .map(|(name, data)| sse::frame(Some(name), data))
        .collect()
}

fn error_frame(e: ApiError) -> String {
    sse::frame(Some("error"), &e.on(Wire::Anthropic).body())
}
