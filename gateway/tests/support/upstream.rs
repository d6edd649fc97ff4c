//! A recording mock of an OpenAI-compatible model server, on loopback, for the tests, the
//! Python end-to-end clients and the bench.
//!
//! It records every request it receives (the `Authorization` and `x-api-key` headers and
//! the body) so a test can prove what reached it. What it answers is chosen by the model
//! name (faults) and by the last user message (scripted tool calls):
//!
//! | model | answer |
//! |---|---|
//! | `mock-model` | scripted by the last user message, below |
//! | `mock-slow-MS` | the same, after MS milliseconds |
//! | `mock-500` | 500 with an OpenAI-shaped error |
//! | `mock-garbage` | 200 with a body that is not JSON |
//! | `mock-stream-cut` | a stream that proposes a tool call and drops the connection |
//! | `mock-stream-garbage` | a stream whose first event is not JSON |
//! | anything else | 404, as vLLM answers an unknown model |
//!
//! | last user message contains | tool calls proposed |
//! |---|---|
//! | `tools` | `read_file` (`./README.md`) and `delete_file` (`./data`) |
//! | `search` | `web_search` |
//! | `write` | `write_file` (`./notes.txt`) |
//! | otherwise | none: the text `Hello from the mock upstream.` |

#![allow(dead_code)]

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use futures_util::StreamExt;
use serde_json::{Value, json};

pub const MODEL: &str = "mock-model";
pub const GREETING: &str = "Hello from the mock upstream.";

/// One request as the upstream received it.
#[derive(Clone, Debug)]
pub struct Recorded {
    pub authorization: Option<String>,
    pub x_api_key: Option<String>,
    /// The body exactly as it arrived.
    pub body: String,
}

/// Everything the upstream has received (or nothing, for a long bench run).
#[derive(Clone, Debug, Default)]
pub struct Recorder {
    requests: Arc<Mutex<Vec<Recorded>>>,
    discard: bool,
}

impl Recorder {
    /// A recorder that keeps nothing, so a long load run does not grow the mock.
    pub fn discarding() -> Recorder {
        Recorder {
            discard: true,
            ..Recorder::default()
        }
    }

    pub fn all(&self) -> Vec<Recorded> {
        self.requests.lock().unwrap().clone()
    }

    fn record(&self, r: Recorded) {
        if !self.discard {
            self.requests.lock().unwrap().push(r);
        }
    }
}

/// Starts the mock on an ephemeral loopback port; it serves until the runtime ends.
pub async fn start() -> (SocketAddr, Recorder) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let recorder = Recorder::default();
    let app = app(recorder.clone());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (addr, recorder)
}

pub fn app(recorder: Recorder) -> Router {
    Router::new()
        .route("/v1/chat/completions", post(chat))
        .route("/v1/models", get(models))
        .with_state(recorder)
}

async fn models() -> Response {
    axum::Json(json!({"object": "list", "data": [
        {"id": MODEL, "object": "model", "created": 0, "owned_by": "fak-tests"}]}))
    .into_response()
}

async fn chat(State(recorder): State<Recorder>, headers: HeaderMap, body: Bytes) -> Response {
    let text = String::from_utf8_lossy(&body).into_owned();
    let header_text = |name: &str| {
        headers
            .get(name)
            .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
    };
    recorder.record(Recorded {
        authorization: header_text("authorization"),
        x_api_key: header_text("x-api-key"),
        body: text.clone(),
    });
    let Ok(request) = serde_json::from_str::<Value>(&text) else {
        return error(StatusCode::BAD_REQUEST, "body is not JSON");
    };
    let model = request["model"].as_str().unwrap_or("").to_string();
    let streaming = request["stream"].as_bool().unwrap_or(false);
    match model.as_str() {
        MODEL => {}
        "mock-500" => return error(StatusCode::INTERNAL_SERVER_ERROR, "the engine crashed"),
        "mock-garbage" => return (StatusCode::OK, "this is not json").into_response(),
        "mock-stream-cut" => return cut_stream(),
        "mock-stream-garbage" => return sse_response("data: {not json\n\n".to_string()),
        m if m.starts_with("mock-slow-") => {
            let ms: u64 = m["mock-slow-".len()..].parse().unwrap_or(1000);
            tokio::time::sleep(Duration::from_millis(ms)).await;
        }
        other => {
            return error(
                StatusCode::NOT_FOUND,
                &format!("The model `{other}` does not exist."),
            );
        }
    }
    let calls = scripted_calls(&last_user_text(&request));
    if streaming {
        let usage = request.pointer("/stream_options/include_usage") == Some(&json!(true));
        sse_response(stream_body(&model, &calls, usage))
    } else {
        axum::Json(completion(&model, &calls)).into_response()
    }
}

fn error(status: StatusCode, message: &str) -> Response {
    (
        status,
        axum::Json(json!({"error": {"message": message, "type": "mock_error"}})),
    )
        .into_response()
}

fn last_user_text(request: &Value) -> String {
    request["messages"]
        .as_array()
        .into_iter()
        .flatten()
        .rfind(|m| m["role"] == "user")
        .and_then(|m| m["content"].as_str())
        .unwrap_or("")
        .to_string()
}

/// (id, name, arguments) of the calls the script proposes.
fn scripted_calls(prompt: &str) -> Vec<(&'static str, &'static str, &'static str)> {
    if prompt.contains("tools") {
        vec![
            ("call_read", "read_file", r#"{"path": "./README.md"}"#),
            ("call_delete", "delete_file", r#"{"path": "./data"}"#),
        ]
    } else if prompt.contains("search") {
        vec![(
            "call_search",
            "web_search",
            r#"{"query": "weather in Paris"}"#,
        )]
    } else if prompt.contains("write") {
        vec![(
            "call_write",
            "write_file",
            r#"{"path": "./notes.txt", "content": "hi"}"#,
        )]
    } else {
        Vec::new()
    }
}

fn completion(model: &str, calls: &[(&str, &str, &str)]) -> Value {
    let (content, finish) = if calls.is_empty() {
        (json!(GREETING), "stop")
    } else {
        (Value::Null, "tool_calls")
    };
    let mut message = json!({"role": "assistant", "content": content});
    if !calls.is_empty() {
        message["tool_calls"] = calls
            .iter()
            .map(|(id, name, args)| {
                json!({"id": id, "type": "function", "function": {"name": name, "arguments": args}})
            })
            .collect();
    }
    json!({
        "id": "chatcmpl-mock", "object": "chat.completion", "created": 1, "model": model,
        "choices": [{"index": 0, "message": message, "finish_reason": finish}],
        "usage": {"prompt_tokens": 11, "completion_tokens": 7, "total_tokens": 18},
    })
}

fn chunk(model: &str, delta: Value, finish: Option<&str>) -> String {
    let c = json!({"id": "chatcmpl-mock", "object": "chat.completion.chunk", "created": 1,
        "model": model, "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]});
    format!("data: {c}\n\n")
}

/// Text word by word, each call's arguments in three pieces, as servers stream them.
fn stream_body(model: &str, calls: &[(&str, &str, &str)], usage: bool) -> String {
    let mut out = chunk(model, json!({"role": "assistant", "content": ""}), None);
    if calls.is_empty() {
        for word in GREETING.split_inclusive(' ') {
            out += &chunk(model, json!({"content": word}), None);
        }
    }
    for (i, (id, name, args)) in calls.iter().enumerate() {
        out += &chunk(
            model,
            json!({"tool_calls": [{"index": i, "id": id, "type": "function",
                "function": {"name": name, "arguments": ""}}]}),
            None,
        );
        let third = args.len() / 3;
        for piece in [&args[..third], &args[third..2 * third], &args[2 * third..]] {
            out += &chunk(
                model,
                json!({"tool_calls": [{"index": i, "function": {"arguments": piece}}]}),
                None,
            );
        }
    }
    let finish = if calls.is_empty() {
        "stop"
    } else {
        "tool_calls"
    };
    out += &chunk(model, json!({}), Some(finish));
    if usage {
        let u = json!({"id": "chatcmpl-mock", "object": "chat.completion.chunk", "created": 1,
            "model": model, "choices": [],
            "usage": {"prompt_tokens": 11, "completion_tokens": 7, "total_tokens": 18}});
        out += &format!("data: {u}\n\n");
    }
    out + "data: [DONE]\n\n"
}

fn sse_response(body: String) -> Response {
    ([(header::CONTENT_TYPE, "text/event-stream")], body).into_response()
}

/// A stream that proposes a tool call, then fails mid-way.
fn cut_stream() -> Response {
    let first = chunk(
        "mock-stream-cut",
        json!({"tool_calls": [{"index": 0, "id": "call_cut", "type": "function",
            "function": {"name": "read_file", "arguments": "{\"path\": "}}]}),
        None,
    );
    // The pause lets the headers and the first event leave before the connection drops.
    let parts = futures_util::stream::iter([Ok(Bytes::from(first))]).chain(
        futures_util::stream::once(async {
            tokio::time::sleep(Duration::from_millis(100)).await;
            Err(std::io::Error::other("connection dropped"))
        }),
    );
    (
        [(header::CONTENT_TYPE, "text/event-stream")],
        Body::from_stream(parts),
    )
        .into_response()
}
