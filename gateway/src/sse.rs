//! Server-sent events: framing, and the response that carries a gated stream.

use std::convert::Infallible;

use axum::body::{Body, Bytes};
use axum::http::{HeaderValue, header};
use axum::response::Response;
use futures_util::{StreamExt, stream};
use serde_json::Value;

use crate::exchange::GatedStream;
use crate::gate::stream::GateEvent;

/// One event: `event:` line when named, one `data:` line (JSON has no raw newlines), blank
/// line.
pub fn frame(event: Option<&str>, data: &Value) -> String {
    match event {
        Some(name) => format!("event: {name}\ndata: {data}\n\n"),
        None => format!("data: {data}\n\n"),
    }
}

/// A streaming response whose body is `render` applied to each gated event and, if the
/// stream did not fail, once more to `None` for the closing frames. Nothing is sent after
/// a failure.
pub fn response(
    events: GatedStream,
    mut render: impl FnMut(Option<GateEvent>) -> String + Send + 'static,
) -> Response {
    let mut failed = false;
    let body = events
        .map(Some)
        .chain(stream::once(std::future::ready(None)))
        .filter_map(move |event| {
            let out = match event {
                _ if failed => None,
                Some(e @ GateEvent::Fail(_)) => {
                    failed = true;
                    Some(render(Some(e)))
                }
                other => Some(render(other)),
            };
            std::future::ready(out.map(|s| Ok::<_, Infallible>(Bytes::from(s))))
        });
    let mut response = Response::new(Body::from_stream(body));
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/event-stream"),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    response
}
