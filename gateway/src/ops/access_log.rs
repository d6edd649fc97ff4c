//! The access log and per-request bookkeeping: one JSON line per request on standard
//! output, written when the response body ends (so a stream's line carries its whole
//! latency and every verdict it produced). Lines never hold bodies or tool arguments.

use std::io::Write;
use std::sync::Arc;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use axum::extract::{Request, State};
use axum::http::{HeaderValue, Method};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use serde_json::json;

use super::guard::hold_until_body_ends;
use crate::error::Wire;
use crate::gate::report::Tally;
use crate::state::AppState;
use crate::traces::{self, TRACE_HEADER};

/// The client's `X-Trace-Id`, if it sent one, for the handlers to use.
#[derive(Clone, Debug, Default)]
pub struct TraceHint(pub Option<String>);

/// Writes the line when dropped with the response body.
struct Finish {
    state: Arc<AppState>,
    start: Instant,
    method: Method,
    path: String,
    status: u16,
    trace: String,
    tally: Arc<Tally>,
}

impl Drop for Finish {
    fn drop(&mut self) {
        let seconds = self.start.elapsed().as_secs_f64();
        let marks = self.tally.marks();
        self.state
            .metrics
            .request(&self.path, self.status, seconds, &marks);
        let mut verdicts = serde_json::Map::new();
        for mark in &marks {
            let n = verdicts.entry(mark.outcome).or_insert(json!(0));
            *n = json!(n.as_u64().unwrap_or(0) + 1);
        }
        let ts_ms = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_millis() as u64)
            .unwrap_or(0);
        let line = json!({
            "ts_ms": ts_ms,
            "method": self.method.as_str(),
            "path": self.path,
            "status": self.status,
            "latency_ms": (seconds * 1e6).round() / 1e3,
            "trace_id": self.trace,
            "verdicts": verdicts,
        });
        // A log line that cannot be written must not fail the request it describes.
        let _ = writeln!(std::io::stdout().lock(), "{line}");
    }
}

/// Reads or refuses the client's trace id, lends each request a tally, echoes or mints
/// `X-Trace-Id`, and logs the request when its body ends.
pub async fn observe(
    State(state): State<Arc<AppState>>,
    mut request: Request,
    next: Next,
) -> Response {
    let start = Instant::now();
    let method = request.method().clone();
    let path = request.uri().path().to_string();
    let tally = Arc::new(Tally::default());
    let (hint, mut response) = match request
        .headers()
        .get(TRACE_HEADER)
        .map(traces::parse_header)
    {
        Some(Err(e)) => (None, e.on(Wire::for_path(&path)).into_response()),
        parsed => {
            let hint = parsed.and_then(Result::ok);
            request.extensions_mut().insert(TraceHint(hint.clone()));
            request.extensions_mut().insert(Arc::clone(&tally));
            (hint, next.run(request).await)
        }
    };
    // Chat handlers set the conversation's id; other requests echo the client's or get one.
    let trace = match response.headers().get(TRACE_HEADER) {
        Some(v) => String::from_utf8_lossy(v.as_bytes()).into_owned(),
        None => {
            let id = hint.unwrap_or_else(traces::mint);
            if let Ok(v) = HeaderValue::from_str(&id) {
                response.headers_mut().insert(TRACE_HEADER, v);
            }
            id
        }
    };
    let status = response.status().as_u16();
    hold_until_body_ends(
        response,
        Finish {
            state,
            start,
            method,
            path,
            status,
            trace,
            tally,
        },
    )
}
