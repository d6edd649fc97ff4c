//! The gate on a streamed completion.
//!
//! Text deltas pass through as they arrive. Tool-call deltas are taken out of the stream
//! and assembled; when the choice's `finish_reason` arrives every assembled call is
//! decided, and only then are the delivered calls sent (each whole, in one delta), the
//! notices for withheld calls sent as text, and the finishing chunk sent with the `fak`
//! extension. A stream that fails or ends before its finish never releases the calls it
//! was holding.

use std::collections::BTreeMap;

use serde_json::{Map, Value, json};

use super::adjudicate::{Adjudicator, ProposedCall, finish_reason};
use super::report::{AdmissionRecord, DecisionRecord, extension};
use crate::source::SourceError;

/// What the gate lets out of the stream.
#[derive(Clone, Debug, PartialEq)]
pub enum GateEvent {
    /// An OpenAI `chat.completion.chunk`.
    Chunk(Value),
    /// The stream failed; nothing more follows.
    Fail(SourceError),
}

/// A tool call being assembled from its deltas.
#[derive(Debug, Default)]
struct Pending {
    id: String,
    name: String,
    arguments: String,
}

/// The state of one streamed completion.
#[derive(Debug)]
pub struct StreamGate {
    adjudicator: Adjudicator,
    admissions: Vec<AdmissionRecord>,
    decisions: Vec<DecisionRecord>,
    /// Calls held back, by (choice index, call index).
    pending: BTreeMap<(u64, u64), Pending>,
    finished: bool,
    failed: bool,
}

impl StreamGate {
    pub fn new(adjudicator: Adjudicator, admissions: Vec<AdmissionRecord>) -> StreamGate {
        StreamGate {
            adjudicator,
            admissions,
            decisions: Vec::new(),
            pending: BTreeMap::new(),
            finished: false,
            failed: false,
        }
    }

    /// Takes the next upstream item (`None` when the upstream stream has ended) and says
    /// what goes out. After a failure nothing more goes out.
    pub fn step(&mut self, item: Option<Result<Value, SourceError>>) -> Vec<GateEvent> {
        if self.failed {
            return Vec::new();
        }
        let result = match item {
            Some(Ok(chunk)) => self.chunk(chunk),
            Some(Err(e)) => Err(e),
            None if self.finished && self.pending.is_empty() => Ok(Vec::new()),
            None => Err(SourceError::Garbage(
                "the stream ended before its finish_reason".into(),
            )),
        };
        result.unwrap_or_else(|e| {
            self.failed = true;
            self.pending.clear();
            vec![GateEvent::Fail(e)]
        })
    }

    fn chunk(&mut self, mut chunk: Value) -> Result<Vec<GateEvent>, SourceError> {
        let Some(choices) = chunk.get_mut("choices").and_then(Value::as_array_mut) else {
            return Err(SourceError::Garbage("a chunk has no choices array".into()));
        };
        let mut before = Vec::new();
        let mut finishing = false;
        let mut keep = false;
        for choice in choices.iter_mut() {
            let index = choice.get("index").and_then(Value::as_u64).unwrap_or(0);
            if let Some(delta) = choice.get_mut("delta").and_then(Value::as_object_mut) {
                if delta.get("function_call").is_some_and(|f| !f.is_null()) {
                    return Err(SourceError::Garbage(
                        "the stream uses the deprecated function_call field".into(),
                    ));
                }
                if let Some(calls) = delta.remove("tool_calls") {
                    self.hold(index, &calls)?;
                }
                keep |= !delta.is_empty();
            }
            if let Some(finish) = choice.get("finish_reason").and_then(Value::as_str) {
                let finish = finish.to_string();
                let (calls, notices) = self.decide(index);
                let delivered_any = !calls.is_empty();
                if delivered_any {
                    before.push(json!({"index": index, "delta": {"tool_calls": calls}}));
                }
                if !notices.is_empty() {
                    before.push(json!({"index": index,
                        "delta": {"content": format!("\n\n{}", notices.join("\n"))}}));
                }
                choice["finish_reason"] = finish_reason(&finish, delivered_any).into();
                finishing = true;
                keep = true;
            }
        }
        keep |= choices.is_empty();
        let mut out: Vec<GateEvent> = before
            .into_iter()
            .map(|choice| GateEvent::Chunk(with_choices(&chunk, choice)))
            .collect();
        if finishing {
            self.finished = true;
            chunk["fak"] = extension(&self.adjudicator.trace, &self.decisions, &self.admissions);
        }
        if keep || chunk.get("usage").is_some_and(|u| !u.is_null()) {
            out.push(GateEvent::Chunk(chunk));
        }
        Ok(out)
    }

    /// Adds tool-call deltas to the calls being held for choice `choice`.
    fn hold(&mut self, choice: u64, calls: &Value) -> Result<(), SourceError> {
        let Some(calls) = calls.as_array() else {
            return Err(SourceError::Garbage(
                "delta.tool_calls is not an array".into(),
            ));
        };
        for (position, delta) in calls.iter().enumerate() {
            let index = delta
                .get("index")
                .and_then(Value::as_u64)
                .unwrap_or(position as u64);
            let pending = self.pending.entry((choice, index)).or_default();
            let text = |v: Option<&Value>| v.and_then(Value::as_str).unwrap_or("").to_string();
            let id = text(delta.get("id"));
            if !id.is_empty() {
                pending.id = id;
            }
            let function = delta.get("function");
            pending
                .name
                .push_str(&text(function.and_then(|f| f.get("name"))));
            pending
                .arguments
                .push_str(&text(function.and_then(|f| f.get("arguments"))));
        }
        Ok(())
    }

    /// Decides the calls held for `choice`: the delivered calls (renumbered from 0) and
    /// the notices for the withheld ones.
    fn decide(&mut self, choice: u64) -> (Vec<Value>, Vec<String>) {
        let keys: Vec<(u64, u64)> = self
            .pending
            .range((choice, 0)..=(choice, u64::MAX))
            .map(|(k, _)| *k)
            .collect();
        let mut calls = Vec::new();
        let mut notices = Vec::new();
        for key in keys {
            let Some(p) = self.pending.remove(&key) else {
                continue;
            };
            let ruling = self.adjudicator.rule(ProposedCall {
                id: p.id,
                name: p.name,
                arguments: p.arguments,
            });
            if let Some(call) = &ruling.delivered {
                let mut entry = call.to_openai();
                entry["index"] = calls.len().into();
                calls.push(entry);
            }
            notices.extend(ruling.notice);
            self.decisions.push(ruling.record);
        }
        (calls, notices)
    }
}

/// A copy of `chunk`'s envelope (id, model, created...) carrying one choice.
fn with_choices(chunk: &Value, choice: Value) -> Value {
    let mut envelope: Map<String, Value> = chunk
        .as_object()
        .map(|o| {
            o.iter()
                .filter(|(k, _)| !matches!(k.as_str(), "choices" | "usage" | "fak"))
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect()
        })
        .unwrap_or_default();
    envelope.insert("choices".into(), Value::Array(vec![choice]));
    Value::Object(envelope)
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::gate::adjudicate::ToolSchemas;
    use crate::gate::starter_kernel;

    fn gate() -> StreamGate {
        StreamGate::new(
            Adjudicator {
                kernel: starter_kernel(),
                trace: "t".into(),
                schemas: ToolSchemas::default(),
                tally: Arc::default(),
            },
            Vec::new(),
        )
    }

    fn chunk(delta: Value, finish: Option<&str>) -> Option<Result<Value, SourceError>> {
        Some(Ok(
            json!({"id": "x", "object": "chat.completion.chunk", "model": "m",
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]}),
        ))
    }

    fn call_delta(index: u64, id: Option<&str>, name: Option<&str>, args: &str) -> Value {
        let mut f = json!({"arguments": args});
        if let Some(n) = name {
            f["name"] = n.into();
        }
        let mut d = json!({"index": index, "function": f});
        if let Some(id) = id {
            d["id"] = id.into();
            d["type"] = "function".into();
        }
        json!({"tool_calls": [d]})
    }

    fn chunks(events: &[GateEvent]) -> Vec<&Value> {
        events
            .iter()
            .map(|e| match e {
                GateEvent::Chunk(c) => c,
                GateEvent::Fail(f) => panic!("unexpected failure {f}"),
            })
            .collect()
    }

    #[test]
    fn text_streams_through_and_calls_wait_for_the_finish() {
        let mut g = gate();
        let text = g.step(chunk(json!({"role": "assistant", "content": "Hi"}), None));
        assert_eq!(chunks(&text)[0]["choices"][0]["delta"]["content"], "Hi");
        let held = [
            g.step(chunk(
                call_delta(0, Some("c1"), Some("read_file"), ""),
                None,
            )),
            g.step(chunk(call_delta(0, None, None, "{\"path\":"), None)),
            g.step(chunk(call_delta(0, None, None, "\"./a\"}"), None)),
            g.step(chunk(
                call_delta(1, Some("c2"), Some("run_shell"), "{}"),
                None,
            )),
        ];
        assert!(
            held.iter().all(Vec::is_empty),
            "tool-call deltas must be held back"
        );
        let end = g.step(chunk(json!({}), Some("tool_calls")));
        let end = chunks(&end);
        assert_eq!(end.len(), 3);
        let calls = &end[0]["choices"][0]["delta"]["tool_calls"];
        assert_eq!(calls.as_array().unwrap().len(), 1);
        assert_eq!(calls[0]["function"]["arguments"], "{\"path\":\"./a\"}");
        assert_eq!(calls[0]["index"], 0);
        assert!(
            end[1]["choices"][0]["delta"]["content"]
                .as_str()
                .unwrap()
                .contains("run_shell")
        );
        assert_eq!(end[2]["choices"][0]["finish_reason"], "tool_calls");
        assert_eq!(end[2]["fak"]["decisions"][1]["code"], "POLICY_BLOCK");
        assert!(g.step(None).is_empty());
    }

    #[test]
    fn a_stream_that_fails_or_ends_early_never_releases_held_calls() {
        let mut g = gate();
        g.step(chunk(
            call_delta(0, Some("c1"), Some("read_file"), "{}"),
            None,
        ));
        assert!(matches!(g.step(None)[..], [GateEvent::Fail(_)]));
        assert!(g.step(chunk(json!({}), Some("tool_calls"))).is_empty());

        let mut g = gate();
        g.step(chunk(
            call_delta(0, Some("c1"), Some("read_file"), "{}"),
            None,
        ));
        let failed = g.step(Some(Err(SourceError::Timeout { seconds: 1 })));
        assert_eq!(
            failed,
            vec![GateEvent::Fail(SourceError::Timeout { seconds: 1 })]
        );
    }

    #[test]
    fn usage_chunk_after_the_finish_passes_through() {
        let mut g = gate();
        g.step(chunk(json!({"content": "ok"}), Some("stop")));
        let usage = g.step(Some(Ok(json!({"id": "x", "choices": [],
            "usage": {"prompt_tokens": 3, "completion_tokens": 1}}))));
        assert_eq!(chunks(&usage)[0]["usage"]["prompt_tokens"], 3);
        assert!(g.step(None).is_empty());
    }
}
