//! One chat exchange, wire-independent: validate, find the conversation, screen the
//! transcript, ask the source, gate the answer.

use std::future::ready;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use futures_util::{Stream, StreamExt, stream};
use serde_json::{Map, Value};

use crate::error::{ApiError, ErrorKind};
use crate::gate::adjudicate::{Adjudicator, ToolSchemas};
use crate::gate::completion::gate_completion;
use crate::gate::report::{Tally, extension};
use crate::gate::stream::{GateEvent, StreamGate};
use crate::gate::transcript::screen_transcript;
use crate::source::SourceError;
use crate::state::AppState;
use crate::traces;

/// Gated events of a streamed answer.
pub type GatedStream = Pin<Box<dyn Stream<Item = GateEvent> + Send>>;

/// A gated answer.
pub enum Answer {
    /// A whole OpenAI completion with its `fak` object.
    Whole(Value),
    Stream(GatedStream),
}

/// The answer and the conversation it belongs to.
pub struct Exchange {
    pub trace: String,
    pub answer: Answer,
}

/// Runs one OpenAI-wire chat request through the gate.
pub async fn exchange(
    state: &AppState,
    hint: Option<String>,
    tally: Arc<Tally>,
    mut request: Value,
) -> Result<Exchange, ApiError> {
    let streaming = validate(&request)?;
    let trace = match hint {
        Some(id) => id,
        None => traces::derive(
            request["messages"]
                .as_array()
                .map(Vec::as_slice)
                .unwrap_or(&[]),
        ),
    };
    let conversation = state.traces.enter(&trace, Instant::now())?;
    let journaled = state.kernel.journal().path().is_some();
    let (request, admissions) = {
        let (kernel, trace, tally) = (Arc::clone(&state.kernel), trace.clone(), Arc::clone(&tally));
        off_the_runtime(journaled, move || {
            screen_transcript(&kernel, &trace, &conversation, &mut request, &tally)
                .map(|admissions| (request, admissions))
        })
        .await??
    };
    let adjudicator = Adjudicator {
        kernel: Arc::clone(&state.kernel),
        trace: trace.clone(),
        schemas: ToolSchemas::from_request(&request),
        tally,
    };
    let answer = if streaming {
        let upstream = state.source.stream(request).await?;
        let gate = Arc::new(Mutex::new(StreamGate::new(adjudicator, admissions)));
        let events = upstream
            .map(Some)
            .chain(stream::once(ready(None)))
            .then(move |item| {
                let gate = Arc::clone(&gate);
                async move {
                    let step = off_the_runtime(journaled, move || {
                        gate.lock().unwrap_or_else(|e| e.into_inner()).step(item)
                    });
                    // A step that could not run fails the stream closed.
                    step.await
                        .unwrap_or_else(|e| vec![GateEvent::Fail(SourceError::Garbage(e.message))])
                }
            })
            .flat_map(stream::iter);
        Answer::Stream(Box::pin(events))
    } else {
        let completion = state.source.complete(request).await?;
        let (completion, decisions) = off_the_runtime(journaled, move || {
            let mut completion = completion;
            gate_completion(&adjudicator, &mut completion).map(|d| (completion, d))
        })
        .await??;
        let mut completion = completion;
        completion["fak"] = extension(&trace, &decisions, &admissions);
        Answer::Whole(completion)
    };
    Ok(Exchange { trace, answer })
}

/// Runs kernel work that writes the audit journal (an fsync per line with `--audit`) on
/// the blocking pool, so a slow disk never stalls the async workers; without a journal
/// file the work is microseconds and runs in place.
async fn off_the_runtime<T: Send + 'static>(
    journaled: bool,
    work: impl FnOnce() -> T + Send + 'static,
) -> Result<T, ApiError> {
    if !journaled {
        return Ok(work());
    }
    tokio::task::spawn_blocking(work)
        .await
        .map_err(|_| ApiError::new(ErrorKind::Internal, "the kernel failed internally"))
}

/// The request body as a JSON object.
pub fn object(request: &Value) -> Result<&Map<String, Value>, ApiError> {
    request
        .as_object()
        .ok_or_else(|| ApiError::invalid("the request body must be a JSON object"))
}

/// `model`, a non-empty string on both wires.
pub fn required_model(body: &Map<String, Value>) -> Result<&str, ApiError> {
    body.get("model")
        .and_then(Value::as_str)
        .filter(|m| !m.is_empty())
        .ok_or_else(|| ApiError::invalid("model: a model name is required"))
}

/// `messages`, a non-empty array on both wires.
pub fn required_messages(body: &Map<String, Value>) -> Result<&Vec<Value>, ApiError> {
    body.get("messages")
        .and_then(Value::as_array)
        .filter(|m| !m.is_empty())
        .ok_or_else(|| ApiError::invalid("messages: a non-empty array is required"))
}

/// Checks the fields the gate relies on; says whether the request streams.
fn validate(request: &Value) -> Result<bool, ApiError> {
    let body = object(request)?;
    required_model(body)?;
    let messages = required_messages(body)?;
    for (i, m) in messages.iter().enumerate() {
        if m.get("role").and_then(Value::as_str).is_none() {
            return Err(ApiError::invalid(format!(
                "messages[{i}]: role is required"
            )));
        }
    }
    if body
        .get("n")
        .and_then(Value::as_u64)
        .is_some_and(|n| n != 1)
    {
        return Err(ApiError::invalid(
            "n: only one choice per request is supported by this gateway",
        ));
    }
    if body
        .get("tools")
        .is_some_and(|t| !t.is_array() && !t.is_null())
    {
        return Err(ApiError::invalid("tools: an array is required"));
    }
    match body.get("stream") {
        None | Some(Value::Null) => Ok(false),
        Some(Value::Bool(b)) => Ok(*b),
        Some(_) => Err(ApiError::invalid("stream: a boolean is required")),
    }
}

/// Parses a request body: 413 past the body bound, 400 naming the JSON problem.
pub fn parse_body(
    body: Result<bytes::Bytes, axum::extract::rejection::BytesRejection>,
    max_body_bytes: usize,
) -> Result<Value, ApiError> {
    let bytes = body.map_err(|rejection| {
        if rejection.status() == axum::http::StatusCode::PAYLOAD_TOO_LARGE {
            ApiError::new(
                ErrorKind::TooLarge,
                format!("the request body exceeds {max_body_bytes} bytes (--max-body-bytes)"),
            )
        } else {
            ApiError::invalid(format!("the request body could not be read: {rejection}"))
        }
    })?;
    serde_json::from_slice(&bytes)
        .map_err(|e| ApiError::invalid(format!("the request body is not valid JSON: {e}")))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn validation_names_the_field_at_fault() {
        let msg = |v: Value| validate(&v).unwrap_err().message;
        assert!(msg(json!([])).contains("JSON object"));
        assert!(msg(json!({"messages": [{"role": "user"}]})).starts_with("model"));
        assert!(msg(json!({"model": "m", "messages": []})).starts_with("messages"));
        assert!(msg(json!({"model": "m", "messages": [{}]})).starts_with("messages[0]"));
        assert!(
            msg(json!({"model": "m", "messages": [{"role": "user"}], "n": 2})).starts_with("n:")
        );
        assert!(
            msg(json!({"model": "m", "messages": [{"role": "user"}], "stream": "yes"}))
                .starts_with("stream")
        );
        assert_eq!(
            validate(&json!({"model": "m", "messages": [{"role": "user"}], "stream": true})),
            Ok(true)
        );
    }
}
