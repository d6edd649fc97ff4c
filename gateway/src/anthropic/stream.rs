//! Gated OpenAI chunks as Anthropic Messages SSE events: `message_start`, then for each
//! content block `content_block_start`, its deltas and `content_block_stop`, then
//! `message_delta` (stop reason, usage, and the `fak` object) and `message_stop`.

use serde_json::{Value, json};

use super::response::{tool_use_block, usage};
use super::stop_reason;
use crate::source::SourceError;

/// One SSE event: its name and its data.
pub type Frame = (&'static str, Value);

/// Translation state for one stream.
#[derive(Debug, Default)]
pub struct Translator {
    started: bool,
    /// Index of the text block being written, if one is open.
    open_text: Option<usize>,
    next_index: usize,
    finish: Option<String>,
    usage: Option<Value>,
    fak: Option<Value>,
}

impl Translator {
    /// The events for one gated chunk.
    pub fn chunk(&mut self, chunk: &Value) -> Result<Vec<Frame>, SourceError> {
        let mut frames = Vec::new();
        if !self.started {
            self.started = true;
            frames.push((
                "message_start",
                json!({"type": "message_start", "message": {
                    "id": format!("msg_{}", chunk.get("id").and_then(Value::as_str).unwrap_or("fak")),
                    "type": "message", "role": "assistant",
                    "model": chunk.get("model").cloned().unwrap_or(Value::Null),
                    "content": [], "stop_reason": null, "stop_sequence": null,
                    "usage": {"input_tokens": 0, "output_tokens": 0}}}),
            ));
        }
        if let Some(u) = chunk.get("usage").filter(|u| !u.is_null()) {
            self.usage = Some(u.clone());
        }
        if let Some(fak) = chunk.get("fak") {
            self.fak = Some(fak.clone());
        }
        let Some(choice) = chunk.pointer("/choices/0") else {
            return Ok(frames);
        };
        let delta = &choice["delta"];
        if let Some(text) = delta.get("content").and_then(Value::as_str)
            && !text.is_empty()
        {
            let index = match self.open_text {
                Some(i) => i,
                None => {
                    let i = self.open_block();
                    frames.push((
                        "content_block_start",
                        json!({"type": "content_block_start",
                        "index": i, "content_block": {"type": "text", "text": ""}}),
                    ));
                    self.open_text = Some(i);
                    i
                }
            };
            frames.push((
                "content_block_delta",
                json!({"type": "content_block_delta",
                "index": index, "delta": {"type": "text_delta", "text": text}}),
            ));
        }
        for call in delta
            .get("tool_calls")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            // The gate releases each call whole, so its block opens and closes at once.
            frames.extend(self.close_text());
            let block = tool_use_block(call)?;
            let index = self.open_block();
            let input = block["input"].to_string();
            let mut start = block;
            start["input"] = json!({});
            frames.push((
                "content_block_start",
                json!({"type": "content_block_start",
                "index": index, "content_block": start}),
            ));
            frames.push((
                "content_block_delta",
                json!({"type": "content_block_delta",
                "index": index, "delta": {"type": "input_json_delta", "partial_json": input}}),
            ));
            frames.push((
                "content_block_stop",
                json!({"type": "content_block_stop", "index": index}),
            ));
        }
        if let Some(finish) = choice.get("finish_reason").and_then(Value::as_str) {
            self.finish = Some(finish.to_string());
        }
        Ok(frames)
    }

    /// The closing events, once the gated stream has ended cleanly.
    pub fn finish(&mut self) -> Vec<Frame> {
        let mut frames = self.close_text();
        let mut delta = json!({"type": "message_delta",
            "delta": {"stop_reason": stop_reason(self.finish.as_deref().unwrap_or("stop")),
                      "stop_sequence": null},
            "usage": usage(self.usage.as_ref())});
        if let Some(fak) = self.fak.take() {
            delta["fak"] = fak;
        }
        frames.push(("message_delta", delta));
        frames.push(("message_stop", json!({"type": "message_stop"})));
        frames
    }

    fn open_block(&mut self) -> usize {
        let i = self.next_index;
        self.next_index += 1;
        i
    }

    fn close_text(&mut self) -> Vec<Frame> {
        self.open_text
            .take()
            .map(|i| {
                (
                    "content_block_stop",
                    json!({"type": "content_block_stop", "index": i}),
                )
            })
            .into_iter()
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(frames: &[Frame]) -> Vec<&'static str> {
        frames.iter().map(|(n, _)| *n).collect()
    }

    #[test]
    fn text_then_a_tool_call_makes_two_blocks_in_order() {
        let mut t = Translator::default();
        let a = t
            .chunk(&json!({"id": "x", "model": "m",
                "choices": [{"index": 0, "delta": {"content": "Hi"}}]}))
            .unwrap();
        assert_eq!(
            names(&a),
            [
                "message_start",
                "content_block_start",
                "content_block_delta"
            ]
        );
        let b = t
            .chunk(
                &json!({"choices": [{"index": 0, "delta": {"tool_calls": [{"index": 0,
                "id": "c1", "type": "function",
                "function": {"name": "read_file", "arguments": "{\"path\":\"a\"}"}}]}}]}),
            )
            .unwrap();
        assert_eq!(
            names(&b),
            [
                "content_block_stop",
                "content_block_start",
                "content_block_delta",
                "content_block_stop"
            ]
        );
        assert_eq!(b[1].1["index"], 1);
        assert_eq!(b[2].1["delta"]["partial_json"], "{\"path\":\"a\"}");
        t.chunk(&json!({"fak": {"trace_id": "t"},
            "choices": [{"index": 0, "delta": {}, "finish_reason": "tool_calls"}]}))
            .unwrap();
        let end = t.finish();
        assert_eq!(names(&end), ["message_delta", "message_stop"]);
        assert_eq!(end[0].1["delta"]["stop_reason"], "tool_use");
        assert_eq!(end[0].1["fak"]["trace_id"], "t");
    }
}
