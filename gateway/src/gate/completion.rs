//! The gate on a whole (non-streamed) completion: every proposed call decided, refused
//! ones replaced by notices in the message text.

use serde_json::Value;

use super::adjudicate::{Adjudicator, ProposedCall, finish_reason};
use super::report::DecisionRecord;
use crate::source::SourceError;

/// Decides every tool call of every choice in place. A response the gate cannot read is
/// garbage: nothing of it reaches the client, so no call goes through undecided.
pub fn gate_completion(
    adjudicator: &Adjudicator,
    response: &mut Value,
) -> Result<Vec<DecisionRecord>, SourceError> {
    let choices = response
        .get_mut("choices")
        .and_then(Value::as_array_mut)
        .ok_or_else(|| SourceError::Garbage("the completion has no choices array".into()))?;
    let mut records = Vec::new();
    for choice in choices {
        let finish = choice
            .get("finish_reason")
            .and_then(Value::as_str)
            .map(str::to_string);
        let message = choice
            .get_mut("message")
            .and_then(Value::as_object_mut)
            .ok_or_else(|| SourceError::Garbage("a choice has no message object".into()))?;
        if message.get("function_call").is_some_and(|f| !f.is_null()) {
            return Err(SourceError::Garbage(
                "the completion uses the deprecated function_call field".into(),
            ));
        }
        let proposed = match message.remove("tool_calls") {
            None | Some(Value::Null) => Vec::new(),
            Some(Value::Array(calls)) => {
                calls.iter().map(proposed_call).collect::<Result<_, _>>()?
            }
            Some(_) => return Err(SourceError::Garbage("tool_calls is not an array".into())),
        };
        let mut delivered = Vec::new();
        let mut notices = Vec::new();
        for call in proposed {
            let ruling = adjudicator.rule(call);
            delivered.extend(ruling.delivered.as_ref().map(ProposedCall::to_openai));
            notices.extend(ruling.notice);
            records.push(ruling.record);
        }
        if !notices.is_empty() {
            let text = match message.get("content").and_then(Value::as_str) {
                Some(t) if !t.is_empty() => format!("{t}\n\n{}", notices.join("\n")),
                _ => notices.join("\n"),
            };
            message.insert("content".into(), Value::String(text));
        }
        let delivered_any = !delivered.is_empty();
        if delivered_any {
            message.insert("tool_calls".into(), Value::Array(delivered));
        }
        if let Some(finish) = finish {
            choice["finish_reason"] = finish_reason(&finish, delivered_any).into();
        }
    }
    Ok(records)
}

/// One `tool_calls[]` entry of a whole message. Arguments given as an object (some
/// servers do) are taken as their JSON text.
pub fn proposed_call(entry: &Value) -> Result<ProposedCall, SourceError> {
    let function = entry.get("function");
    let name = function
        .and_then(|f| f.get("name"))
        .and_then(Value::as_str)
        .ok_or_else(|| SourceError::Garbage("a tool call has no function name".into()))?;
    let arguments = match function.and_then(|f| f.get("arguments")) {
        Some(Value::String(s)) => s.clone(),
        None | Some(Value::Null) => String::new(),
        Some(other) => other.to_string(),
    };
    let id = entry.get("id").and_then(Value::as_str).unwrap_or_default();
    Ok(ProposedCall {
        id: id.to_string(),
        name: name.to_string(),
        arguments,
    })
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use serde_json::json;

    use super::*;
    use crate::gate::adjudicate::ToolSchemas;
    use crate::gate::starter_kernel;

    fn adjudicator() -> Adjudicator {
        Adjudicator {
            kernel: starter_kernel(),
            trace: "t".into(),
            schemas: ToolSchemas::default(),
            tally: Arc::default(),
        }
    }

    fn tool_call(id: &str, name: &str, args: &str) -> Value {
        json!({"id": id, "type": "function", "function": {"name": name, "arguments": args}})
    }

    #[test]
    fn refused_call_is_removed_and_named_in_the_text() {
        let mut response = json!({"choices": [{"index": 0, "finish_reason": "tool_calls",
            "message": {"role": "assistant", "content": null, "tool_calls": [
                tool_call("c1", "read_file", r#"{"path":"./a"}"#),
                tool_call("c2", "run_shell", r#"{"cmd":"rm -rf /"}"#)]}}]});
        let records = gate_completion(&adjudicator(), &mut response).unwrap();
        let message = &response["choices"][0]["message"];
        assert_eq!(message["tool_calls"].as_array().unwrap().len(), 1);
        assert_eq!(message["tool_calls"][0]["id"], "c1");
        assert!(message["content"].as_str().unwrap().contains("run_shell"));
        assert_eq!(response["choices"][0]["finish_reason"], "tool_calls");
        assert_eq!(records.len(), 2);
        assert_eq!(records[1].code, Some("POLICY_BLOCK"));
    }

    #[test]
    fn every_call_refused_leaves_no_tool_calls_and_finishes_as_stop() {
        let mut response = json!({"choices": [{"index": 0, "finish_reason": "tool_calls",
            "message": {"role": "assistant", "content": "let me",
                "tool_calls": [tool_call("c2", "run_shell", "{}")]}}]});
        gate_completion(&adjudicator(), &mut response).unwrap();
        let choice = &response["choices"][0];
        assert!(choice["message"].get("tool_calls").is_none());
        assert_eq!(choice["finish_reason"], "stop");
        assert!(
            choice["message"]["content"]
                .as_str()
                .unwrap()
                .starts_with("let me\n\n[fak]")
        );
    }

    #[test]
    fn unreadable_completions_are_garbage_not_passed_through() {
        for mut bad in [
            json!({"nope": 1}),
            json!({"choices": [{"index": 0}]}),
            json!({"choices": [{"message": {"tool_calls": "x"}}]}),
            json!({"choices": [{"message": {"tool_calls": [{"id": "c"}]}}]}),
            json!({"choices": [{"message": {"function_call": {"name": "run_shell"}}}]}),
        ] {
            assert!(matches!(
                gate_completion(&adjudicator(), &mut bad),
                Err(SourceError::Garbage(_))
            ));
        }
    }
}
