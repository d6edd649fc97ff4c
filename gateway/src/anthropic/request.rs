//! An Anthropic Messages request as an OpenAI chat request.
//!
//! `system` becomes a system message; a user turn's `tool_result` blocks become `tool`
//! messages (ahead of its text, as the OpenAI wire orders them); an assistant turn's
//! `tool_use` blocks become `tool_calls`. Blocks the gateway cannot carry or screen
//! (images, documents) are refused with 400 naming the block.

use serde_json::{Map, Value, json};

use crate::error::ApiError;
use crate::exchange::{object, required_messages, required_model};

/// Translates the request; every problem is a 400 naming the field.
pub fn to_openai(request: &Value) -> Result<Value, ApiError> {
    let body = object(request)?;
    let model = required_model(body)?;
    let max_tokens = body
        .get("max_tokens")
        .and_then(Value::as_u64)
        .ok_or_else(|| ApiError::invalid("max_tokens: a positive integer is required"))?;
    let turns = required_messages(body)?;
    let mut messages = Vec::new();
    if let Some(system) = body.get("system") {
        let text = text_of(system, "system")?;
        if !text.is_empty() {
            messages.push(json!({"role": "system", "content": text}));
        }
    }
    for (i, turn) in turns.iter().enumerate() {
        translate_turn(turn, i, &mut messages)?;
    }

    let mut out = Map::new();
    out.insert("model".into(), model.into());
    out.insert("messages".into(), Value::Array(messages));
    out.insert("max_tokens".into(), max_tokens.into());
    for key in ["temperature", "top_p"] {
        if let Some(v) = body.get(key) {
            out.insert(key.into(), v.clone());
        }
    }
    if let Some(stop) = body.get("stop_sequences") {
        out.insert("stop".into(), stop.clone());
    }
    if let Some(tools) = body.get("tools") {
        out.insert("tools".into(), translate_tools(tools)?);
    }
    if let Some(choice) = body.get("tool_choice") {
        out.insert("tool_choice".into(), translate_tool_choice(choice)?);
    }
    if body.get("stream").and_then(Value::as_bool) == Some(true) {
        out.insert("stream".into(), true.into());
        // The final message_delta carries output tokens; ask the source to report them.
        out.insert("stream_options".into(), json!({"include_usage": true}));
    }
    Ok(Value::Object(out))
}

fn translate_turn(turn: &Value, i: usize, messages: &mut Vec<Value>) -> Result<(), ApiError> {
    let at = |field: &str| format!("messages[{i}]{field}");
    let role = turn
        .get("role")
        .and_then(Value::as_str)
        .ok_or_else(|| ApiError::invalid(format!("{}: role is required", at(""))))?;
    let blocks = match turn.get("content") {
        Some(Value::String(s)) => vec![json!({"type": "text", "text": s})],
        Some(Value::Array(b)) => b.clone(),
        _ => {
            return Err(ApiError::invalid(format!(
                "{}: a string or an array of blocks is required",
                at(".content")
            )));
        }
    };
    let mut texts = Vec::new();
    let mut calls = Vec::new();
    for (j, block) in blocks.iter().enumerate() {
        let here = at(&format!(".content[{j}]"));
        match (role, block.get("type").and_then(Value::as_str)) {
            (_, Some("text")) => texts.push(
                block
                    .get("text")
                    .and_then(Value::as_str)
                    .ok_or_else(|| ApiError::invalid(format!("{here}: text is required")))?
                    .to_string(),
            ),
            ("user", Some("tool_result")) => {
                let id = block
                    .get("tool_use_id")
                    .and_then(Value::as_str)
                    .ok_or_else(|| ApiError::invalid(format!("{here}: tool_use_id is required")))?;
                let content = match block.get("content") {
                    None => String::new(),
                    Some(c) => text_of(c, &here)?,
                };
                messages.push(json!({"role": "tool", "tool_call_id": id, "content": content}));
            }
            ("assistant", Some("tool_use")) => {
                let field = |name: &str| {
                    block
                        .get(name)
                        .and_then(Value::as_str)
                        .ok_or_else(|| ApiError::invalid(format!("{here}: {name} is required")))
                };
                let input = block.get("input").cloned().unwrap_or_else(|| json!({}));
                calls.push(json!({"id": field("id")?, "type": "function",
                    "function": {"name": field("name")?, "arguments": input.to_string()}}));
            }
            (_, kind) => {
                return Err(ApiError::invalid(format!(
                    "{here}: a {:?} block in a {role} turn is not supported by this gateway",
                    kind.unwrap_or("?")
                )));
            }
        }
    }
    match role {
        "user" if !texts.is_empty() => {
            messages.push(json!({"role": "user", "content": texts.join("\n")}));
        }
        "user" => {}
        "assistant" => {
            let mut m = json!({"role": "assistant",
                "content": if texts.is_empty() { Value::Null } else { texts.join("\n").into() }});
            if !calls.is_empty() {
                m["tool_calls"] = Value::Array(calls);
            }
            messages.push(m);
        }
        other => {
            return Err(ApiError::invalid(format!(
                "{}: role {other:?} is not user or assistant",
                at(".role")
            )));
        }
    }
    Ok(())
}

/// A string, or an array of text blocks joined by newlines.
fn text_of(value: &Value, field: &str) -> Result<String, ApiError> {
    match value {
        Value::String(s) => Ok(s.clone()),
        Value::Array(blocks) => blocks
            .iter()
            .map(
                |b| match (b.get("type").and_then(Value::as_str), b.get("text")) {
                    (Some("text"), Some(Value::String(t))) => Ok(t.as_str()),
                    (kind, _) => Err(ApiError::invalid(format!(
                        "{field}: a {:?} block cannot be carried or screened; send text",
                        kind.unwrap_or("?")
                    ))),
                },
            )
            .collect::<Result<Vec<_>, _>>()
            .map(|t| t.join("\n")),
        _ => Err(ApiError::invalid(format!(
            "{field}: a string or an array of text blocks is required"
        ))),
    }
}

fn translate_tools(tools: &Value) -> Result<Value, ApiError> {
    let tools = tools
        .as_array()
        .ok_or_else(|| ApiError::invalid("tools: an array is required"))?;
    tools
        .iter()
        .enumerate()
        .map(|(i, t)| {
            let name = t
                .get("name")
                .and_then(Value::as_str)
                .ok_or_else(|| ApiError::invalid(format!("tools[{i}]: name is required")))?;
            let mut function = json!({
                "name": name,
                "parameters": t.get("input_schema").cloned().unwrap_or_else(|| json!({"type": "object"})),
            });
            if let Some(d) = t.get("description") {
                function["description"] = d.clone();
            }
            Ok(json!({"type": "function", "function": function}))
        })
        .collect::<Result<Vec<_>, _>>()
        .map(Value::Array)
}

fn translate_tool_choice(choice: &Value) -> Result<Value, ApiError> {
    match choice.get("type").and_then(Value::as_str) {
        Some("auto") => Ok("auto".into()),
        Some("any") => Ok("required".into()),
        Some("none") => Ok("none".into()),
        Some("tool") => {
            let name = choice
                .get("name")
                .and_then(Value::as_str)
                .ok_or_else(|| ApiError::invalid("tool_choice: name is required"))?;
            Ok(json!({"type": "function", "function": {"name": name}}))
        }
        _ => Err(ApiError::invalid(
            "tool_choice: type must be auto, any, tool or none",
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tool_use_and_tool_result_become_tool_calls_and_tool_messages() {
        let request = json!({
        "model": "m", "max_tokens": 64, "system": "be brief",
        "tools": [{"name": "web_search", "input_schema": {"type": "object"}}],
        "tool_choice": {"type": "any"},
        "messages": [
            {"role": "user", "content": "find it"},
            {"role": "assistant", "content": [
                {"type": "text", "text": "searching"},
                {"type": "tool_use", "id": "tu1", "name": "web_search", "input": {"q": "x"}}]},
            {"role": "user", "content": [
                {"type": "tool_result", "tool_use_id": "tu1",
                 "content": [{"type": "text", "text": "result"}]},
                {"type": "text", "text": "thanks"}]},
        ]});
        let out = to_openai(&request).unwrap();
        let m = out["messages"].as_array().unwrap();
        assert_eq!(m[0], json!({"role": "system", "content": "be brief"}));
        assert_eq!(
            m[2]["tool_calls"][0]["function"]["arguments"],
            "{\"q\":\"x\"}"
        );
        assert_eq!(
            m[3],
            json!({"role": "tool", "tool_call_id": "tu1", "content": "result"})
        );
        assert_eq!(m[4], json!({"role": "user", "content": "thanks"}));
        assert_eq!(out["tools"][0]["function"]["name"], "web_search");
        assert_eq!(out["tool_choice"], "required");
        assert_eq!(out["max_tokens"], 64);
    }

    #[test]
    fn missing_fields_and_unsupported_blocks_are_named() {
        let err = |v: Value| to_openai(&v).unwrap_err().message;
        assert!(
            err(json!({"model": "m", "messages": [{"role": "user", "content": "x"}]}))
                .contains("max_tokens")
        );
        assert!(err(json!({"max_tokens": 1, "messages": []})).contains("model"));
        let image = json!({"model": "m", "max_tokens": 1, "messages": [{"role": "user",
            "content": [{"type": "image", "source": {}}]}]});
        assert!(err(image).contains("messages[0].content[0]"));
    }
}
