//! Conversations (traces): the id taint is kept under, and when the kernel may forget it.
//!
//! A conversation is named by the client's `X-Trace-Id`, or else by an id derived from
//! how it opens (its system and first user message), so every turn of one conversation
//! lands on the same trace. Two conversations that open identically share a derived id;
//! that shares taint too, which errs on the closed side.
//!
//! Forgetting taint early would fail open, so the table is bounded two ways: a trace idle
//! for longer than the idle limit (default 24 h) is forgotten, and when the table is full
//! a new trace is refused (503) rather than an old one evicted.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::http::HeaderValue;
use fak_kernel::Kernel;
use fak_kernel::canonical::{canonical_json, sha256_hex};
use serde_json::Value;

use crate::entropy::random_bytes;
use crate::error::{ApiError, ErrorKind};
use crate::gate::transcript::Screened;

/// The header a client names its conversation with, echoed on every response.
pub const TRACE_HEADER: &str = "x-trace-id";
/// Longest `X-Trace-Id` accepted, in bytes.
pub const MAX_TRACE_ID_BYTES: usize = 128;
/// Screened tool results remembered per conversation; past this they are screened anew.
/// Each entry is a digest and a stub of about 100 bytes, never the result itself.
const MAX_MEMO_ENTRIES: usize = 256;

/// One live conversation.
#[derive(Debug)]
pub struct Conversation {
    last_seen: Mutex<Instant>,
    /// Tool results already screened in this conversation, by digest: a transcript is
    /// re-sent every turn, and screening it once keeps each stub's id stable.
    memo: Mutex<HashMap<String, Screened>>,
}

impl Conversation {
    fn new(now: Instant) -> Conversation {
        Conversation {
            last_seen: Mutex::new(now),
            memo: Mutex::new(HashMap::new()),
        }
    }

    pub fn recall(&self, digest: &str) -> Option<Screened> {
        self.memo
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(digest)
            .cloned()
    }

    pub fn remember(&self, digest: String, screened: Screened) {
        let mut memo = self.memo.lock().unwrap_or_else(|e| e.into_inner());
        if memo.len() < MAX_MEMO_ENTRIES {
            memo.insert(digest, screened);
        }
    }
}

/// The live conversations, shared by every request.
#[derive(Debug)]
pub struct Traces {
    kernel: Arc<Kernel>,
    live: Mutex<HashMap<String, Arc<Conversation>>>,
    max: usize,
    idle: Duration,
}

impl Traces {
    pub fn new(kernel: Arc<Kernel>, max: usize, idle: Duration) -> Traces {
        Traces {
            kernel,
            live: Mutex::new(HashMap::new()),
            max,
            idle,
        }
    }

    /// The conversation `id`, created if new. A full table refuses a new id with 503.
    pub fn enter(&self, id: &str, now: Instant) -> Result<Arc<Conversation>, ApiError> {
        let mut live = self.live.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(c) = live.get(id) {
            *c.last_seen.lock().unwrap_or_else(|e| e.into_inner()) = now;
            return Ok(Arc::clone(c));
        }
        if live.len() >= self.max {
            self.evict_idle(&mut live, now);
        }
        if live.len() >= self.max {
            return Err(ApiError::new(
                ErrorKind::Overloaded,
                format!(
                    "{} conversations are live (the --max-traces bound); a new one can start \
                     when one has been idle for {} s",
                    self.max,
                    self.idle.as_secs()
                ),
            )
            .retry_after(60));
        }
        let c = Arc::new(Conversation::new(now));
        live.insert(id.to_string(), Arc::clone(&c));
        Ok(c)
    }

    /// Forgets every conversation idle for longer than the idle limit; returns how many.
    pub fn sweep(&self, now: Instant) -> usize {
        let mut live = self.live.lock().unwrap_or_else(|e| e.into_inner());
        self.evict_idle(&mut live, now)
    }

    fn evict_idle(&self, live: &mut HashMap<String, Arc<Conversation>>, now: Instant) -> usize {
        let before = live.len();
        live.retain(|id, c| {
            let seen = *c.last_seen.lock().unwrap_or_else(|e| e.into_inner());
            let keep = now.saturating_duration_since(seen) <= self.idle;
            if !keep {
                self.kernel.end_trace(id);
            }
            keep
        });
        before - live.len()
    }

    pub fn len(&self) -> usize {
        self.live.lock().unwrap_or_else(|e| e.into_inner()).len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// How often the sweeper should run: a quarter of the idle limit, at most a minute.
    pub fn sweep_period(&self) -> Duration {
        (self.idle / 4).clamp(Duration::from_millis(10), Duration::from_secs(60))
    }
}

/// A client's `X-Trace-Id`: visible ASCII, no spaces, at most 128 bytes.
pub fn parse_header(value: &HeaderValue) -> Result<String, ApiError> {
    let bytes = value.as_bytes();
    if bytes.is_empty()
        || bytes.len() > MAX_TRACE_ID_BYTES
        || !bytes.iter().all(|b| b.is_ascii_graphic())
    {
        return Err(ApiError::invalid(format!(
            "X-Trace-Id must be 1 to {MAX_TRACE_ID_BYTES} visible ASCII characters"
        )));
    }
    Ok(String::from_utf8_lossy(bytes).into_owned())
}

/// A fresh random id for a request that names none and has no conversation to derive from.
pub fn mint() -> String {
    format!("t-{}", hex::encode(random_bytes::<16>()))
}

/// The id of the conversation an OpenAI `messages` array belongs to: a digest of its
/// system messages before the first user message, and that first user message.
pub fn derive(messages: &[Value]) -> String {
    fn role(m: &Value) -> &str {
        m.get("role").and_then(Value::as_str).unwrap_or("")
    }
    let opening: Vec<&Value> = match messages.iter().position(|m| role(m) == "user") {
        Some(first_user) => messages[..=first_user]
            .iter()
            .filter(|m| matches!(role(m), "system" | "developer" | "user"))
            .collect(),
        None => messages.iter().take(1).collect(),
    };
    let digest = sha256_hex(
        canonical_json(&Value::from(
            opening.into_iter().cloned().collect::<Vec<_>>(),
        ))
        .as_bytes(),
    );
    format!("d-{}", &digest[..32])
}

#[cfg(test)]
mod tests {
    use fak_kernel::Trust;
    use serde_json::json;

    use super::*;

    fn kernel() -> Arc<Kernel> {
        crate::gate::starter_kernel()
    }

    #[test]
    fn idle_trace_is_forgotten_with_its_taint() {
        let kernel = kernel();
        let traces = Traces::new(Arc::clone(&kernel), 10, Duration::from_secs(60));
        let t0 = Instant::now();
        traces.enter("a", t0).unwrap();
        kernel.admit("a", "web_search", Some(Trust::Untrusted), "hello");
        assert_eq!(traces.sweep(t0 + Duration::from_secs(59)), 0);
        assert!(!kernel.taint_of("a").is_empty());
        assert_eq!(traces.sweep(t0 + Duration::from_secs(61)), 1);
        assert!(kernel.taint_of("a").is_empty());
    }

    #[test]
    fn full_table_refuses_new_traces_but_keeps_serving_live_ones() {
        let traces = Traces::new(kernel(), 2, Duration::from_secs(60));
        let t0 = Instant::now();
        traces.enter("a", t0).unwrap();
        traces.enter("b", t0).unwrap();
        let err = traces.enter("c", t0).unwrap_err();
        assert_eq!(err.status().as_u16(), 503);
        assert_eq!(err.retry_after_s, Some(60));
        assert!(traces.enter("a", t0 + Duration::from_secs(30)).is_ok());
        // Once "b" has been idle past the limit, a new trace takes its place.
        assert!(traces.enter("c", t0 + Duration::from_secs(61)).is_ok());
        assert_eq!(traces.len(), 2);
    }

    #[test]
    fn derived_id_is_stable_across_turns_and_differs_between_openings() {
        let turn1 = vec![
            json!({"role": "system", "content": "be brief"}),
            json!({"role": "user", "content": "hi"}),
        ];
        let mut turn2 = turn1.clone();
        turn2.push(json!({"role": "assistant", "content": "hello"}));
        turn2.push(json!({"role": "user", "content": "more"}));
        assert_eq!(derive(&turn1), derive(&turn2));
        let other = vec![json!({"role": "user", "content": "bye"})];
        assert_ne!(derive(&turn1), derive(&other));
    }

    #[test]
    fn trace_header_must_be_short_visible_ascii() {
        assert_eq!(
            parse_header(&HeaderValue::from_static("run-42")).unwrap(),
            "run-42"
        );
        assert!(parse_header(&HeaderValue::from_static("a b")).is_err());
        let long = "x".repeat(MAX_TRACE_ID_BYTES + 1);
        assert!(parse_header(&HeaderValue::from_str(&long).unwrap()).is_err());
        assert!(mint().starts_with("t-"));
        assert_ne!(mint(), mint());
    }
}
