//! A gated OpenAI completion as an Anthropic message.

use serde_json::{Value, json};

use super::stop_reason;
use crate::source::SourceError;

/// The Anthropic `message` for a completion that has passed the gate (its `fak` object
/// is carried over).
pub fn from_openai(completion: &Value) -> Result<Value, SourceError> {
    let choice = completion
        .pointer("/choices/0")
        .ok_or_else(|| SourceError::Garbage("the completion has no choice".into()))?;
    let message = &choice["message"];
    let mut content = Vec::new();
    if let Some(text) = message.get("content").and_then(Value::as_str)
        && !text.is_empty()
    {
        content.push(json!({"type": "text", "text": text}));
    }
    for call in message
        .get("tool_calls")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        content.push(tool_use_block(call)?);
    }
    let finish = choice
        .get("finish_reason")
        .and_then(Value::as_str)
        .unwrap_or("stop");
    let mut out = json!({
        "id": format!("msg_{}", completion.get("id").and_then(Value::as_str).unwrap_or("fak")),
        "type": "message",
        "role": "assistant",
        "model": completion.get("model").cloned().unwrap_or(Value::Null),
        "content": content,
        "stop_reason": stop_reason(finish),
        "stop_sequence": null,
        "usage": usage(completion.get("usage")),
    });
    if let Some(fak) = completion.get("fak") {
        out["fak"] = fak.clone();
    }
    Ok(out)
}

/// An OpenAI `tool_calls[]` entry as a `tool_use` block (arguments parsed to `input`).
pub fn tool_use_block(call: &Value) -> Result<Value, SourceError> {
    let arguments = call
        .pointer("/function/arguments")
        .and_then(Value::as_str)
        .unwrap_or("{}");
    let input: Value = if arguments.trim().is_empty() {
        json!({})
    } else {
        serde_json::from_str(arguments)
            .map_err(|e| SourceError::Garbage(format!("tool call arguments are not JSON ({e})")))?
    };
    Ok(json!({
        "type": "tool_use",
        "id": call.get("id").cloned().unwrap_or(Value::Null),
        "name": call.pointer("/function/name").cloned().unwrap_or(Value::Null),
        "input": input,
    }))
}

/// Anthropic `usage` from OpenAI `usage` (zeros when the source gave none). Prompt tokens
/// the source took from its cache (`prompt_tokens_details.cached_tokens`) are Anthropic's
/// `cache_read_input_tokens`, and `input_tokens` counts only the rest, as Anthropic's do.
pub fn usage(usage: Option<&Value>) -> Value {
    let count = |pointer: &str| {
        usage
            .and_then(|u| u.pointer(pointer))
            .and_then(Value::as_u64)
    };
    let prompt = count("/prompt_tokens").unwrap_or(0);
    let mut out = json!({
        "input_tokens": prompt,
        "output_tokens": count("/completion_tokens").unwrap_or(0),
    });
    if let Some(cached) = count("/prompt_tokens_details/cached_tokens") {
        out["input_tokens"] = prompt.saturating_sub(cached).into();
        out["cache_read_input_tokens"] = cached.into();
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_and_tool_calls_become_blocks_with_anthropic_stop_reason() {
        let completion = json!({"id": "c1", "model": "m", "fak": {"trace_id": "t"},
            "usage": {"prompt_tokens": 5, "completion_tokens": 2},
            "choices": [{"index": 0, "finish_reason": "tool_calls", "message": {
                "role": "assistant", "content": "looking",
                "tool_calls": [{"id": "call_1", "type": "function",
                    "function": {"name": "web_search", "arguments": "{\"q\":\"x\"}"}}]}}]});
        let m = from_openai(&completion).unwrap();
        assert_eq!(m["content"][0], json!({"type": "text", "text": "looking"}));
        assert_eq!(m["content"][1]["input"], json!({"q": "x"}));
        assert_eq!(m["stop_reason"], "tool_use");
        assert_eq!(m["usage"], json!({"input_tokens": 5, "output_tokens": 2}));
        assert_eq!(m["fak"]["trace_id"], "t");
    }

    #[test]
    fn cached_prompt_tokens_are_cache_reads_apart_from_input_tokens() {
        let u = json!({"prompt_tokens": 100, "completion_tokens": 7,
            "prompt_tokens_details": {"cached_tokens": 64}});
        assert_eq!(
            usage(Some(&u)),
            json!({"input_tokens": 36, "output_tokens": 7, "cache_read_input_tokens": 64})
        );
    }
}
