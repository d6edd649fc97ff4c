//! What a transcript becomes as text before it becomes tokens: one segment a span.
//!
//! With the model's chat template the conversation is rendered one message longer at a
//! time, and each message's segment is what its message added to the render, markup
//! included. That only works when adding a message leaves the earlier render as it was and
//! the template shows the message's text; a template that refuses the conversation (roles
//! that must alternate, no tool role), re-renders earlier turns, or drops a tool call gets
//! the plain rendering instead, with the reason. The tool list the planner reads is part of
//! the system message; it becomes a span of its own (`tool_schema`).

use serde::Serialize;
use serde_json::{Value, json};

use crate::admission::Trust;
use crate::kv::{SpanKind, SpanMeta, SpanTrust};
use crate::scenario::arm::{ArmRun, CallRecord, Wiring};
use crate::scenario::planner::reading::TOOLS_HEADER;
use crate::scenario::transcript::{Message, Role};
use fak_models::{Chat, ChatTemplate};

/// How the messages became text.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "rendering", rename_all = "snake_case")]
pub enum Rendering {
    /// The model's own chat template.
    ChatTemplate,
    /// One `role: text` line a message, because the template could not render the
    /// transcript message by message (`reason` says why).
    Plain { reason: String },
}

/// One span's worth of text.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Segment {
    pub text: String,
    pub meta: SpanMeta,
    /// The transcript message it comes from.
    pub message: usize,
}

/// The segments of `arm`'s transcript, in order, and how they were rendered. `template`
/// is the model's chat template, or why it has none that can be used.
pub fn segments(
    arm: &ArmRun,
    template: Result<&ChatTemplate, String>,
) -> (Vec<Segment>, Rendering) {
    let messages = arm.transcript.messages();
    let (texts, rendering) = match template.and_then(|t| by_template(messages, t)) {
        Ok(texts) => (texts, Rendering::ChatTemplate),
        Err(reason) => (
            messages.iter().map(plain).collect(),
            Rendering::Plain { reason },
        ),
    };
    let metas = metas(arm);
    let mut out = Vec::new();
    for (i, (text, meta)) in texts.into_iter().zip(metas).enumerate() {
        match tool_list_at(&messages[i], &text) {
            Some(cut) => {
                let (brief, tools) = text.split_at(cut);
                out.push(Segment {
                    text: brief.to_string(),
                    meta,
                    message: i,
                });
                out.push(Segment {
                    text: tools.to_string(),
                    meta: SpanMeta::new(SpanKind::ToolSchema, SpanTrust::Trusted),
                    message: i,
                });
            }
            None => out.push(Segment {
                text,
                meta,
                message: i,
            }),
        }
    }
    (out, rendering)
}

/// Where the tool list starts in a system message's rendered `text` (None for any other
/// message, or a system message that lists no tools).
fn tool_list_at(message: &Message, text: &str) -> Option<usize> {
    if message.role != Role::System {
        return None;
    }
    let at = message.text.find(TOOLS_HEADER)?;
    let brief = &message.text[..at];
    let start = text.find(&message.text)?;
    (at > 0).then_some(start + brief.len())
}

/// Each message's text as the template adds it, or why the template cannot be used.
fn by_template(messages: &[Message], template: &ChatTemplate) -> Result<Vec<String>, String> {
    let chat: Vec<Value> = messages.iter().map(chat_message).collect();
    let mut rendered = String::new();
    let mut texts = Vec::with_capacity(messages.len());
    for (i, message) in messages.iter().enumerate() {
        let role = role_name(message);
        let upto = Chat::from_json(&Value::Array(chat[..=i].to_vec()).to_string())
            .map_err(|e| e.to_string())?
            .with_generation_prompt(false);
        let text = template
            .render(&upto)
            .map_err(|e| format!("the chat template refuses message {i} ({role}): {e}"))?;
        let added = text.strip_prefix(rendered.as_str()).ok_or_else(|| {
            format!(
                "the chat template renders the earlier messages differently once message {i} \
                 ({role}) follows, so the transcript cannot be appended one message at a time"
            )
        })?;
        if !shows(message, added) {
            return Err(format!(
                "the chat template leaves out the text of message {i} ({role})"
            ));
        }
        texts.push(added.to_string());
        rendered = text;
    }
    Ok(texts)
}

/// A transcript message in the shape chat templates read (Hugging Face's). A call keeps
/// its arguments as the text the planner wrote.
fn chat_message(m: &Message) -> Value {
    match (m.role, &m.tool) {
        (Role::System, _) => json!({"role": "system", "content": m.text}),
        (Role::User, _) => json!({"role": "user", "content": m.text}),
        (Role::Assistant, Some(tool)) => json!({
            "role": "assistant",
            "tool_calls": [{"type": "function", "function": {"name": tool, "arguments": m.text}}],
        }),
        (Role::Assistant, None) => json!({"role": "assistant", "content": m.text}),
        (Role::ToolResult, tool) => json!({"role": "tool", "name": tool, "content": m.text}),
    }
}

/// Whether a message's rendered text shows what the model must read of it.
fn shows(m: &Message, rendered: &str) -> bool {
    let tool_named = m
        .tool
        .as_deref()
        .is_none_or(|t| m.role != Role::Assistant || rendered.contains(t));
    tool_named && rendered.contains(&m.text)
}

fn role_name(m: &Message) -> &'static str {
    match (m.role, &m.tool) {
        (Role::System, _) => "system",
        (Role::User, _) => "user",
        (Role::Assistant, Some(_)) => "tool call",
        (Role::Assistant, None) => "answer",
        (Role::ToolResult, _) => "tool result",
    }
}

/// The plain rendering: `system: ...`, `user: ...`, `assistant: ...`,
/// `assistant calls TOOL: ARGS`, `tool TOOL: RESULT`, each ending in a newline.
fn plain(m: &Message) -> String {
    let label = match (m.role, &m.tool) {
        (Role::System, _) => "system".to_string(),
        (Role::User, _) => "user".to_string(),
        (Role::Assistant, Some(tool)) => format!("assistant calls {tool}"),
        (Role::Assistant, None) => "assistant".to_string(),
        (Role::ToolResult, tool) => format!("tool {}", tool.as_deref().unwrap_or("?")),
    };
    format!("{label}: {}\n", m.text)
}

/// Each message's span kind, source and trust. The operator's and the user's text and
/// the model's own turns are trusted; a tool result carries the trust admission gave its
/// source; what the kernel wrote in place of a result (a refusal, a hold) is trusted; a
/// result nothing classed (the direct arm, or a result with no call record) is untrusted.
fn metas(arm: &ArmRun) -> Vec<SpanMeta> {
    let mut calls = arm.calls.iter();
    arm.transcript
        .messages()
        .iter()
        .map(|m| {
            let meta = match m.role {
                Role::System => SpanMeta::new(SpanKind::System, SpanTrust::Trusted),
                Role::User => SpanMeta::new(SpanKind::User, SpanTrust::Trusted),
                Role::Assistant => SpanMeta::new(SpanKind::Assistant, SpanTrust::Trusted),
                Role::ToolResult => {
                    SpanMeta::new(SpanKind::ToolResult, result_trust(arm.wiring, calls.next()))
                }
            };
            match &m.tool {
                Some(tool) => meta.with_source(tool.clone()),
                None => meta,
            }
        })
        .collect()
}

fn result_trust(wiring: Wiring, call: Option<&CallRecord>) -> SpanTrust {
    match (wiring, call.map(|c| c.trust)) {
        (Wiring::Kernel, Some(Some(Trust::Trusted) | None)) => SpanTrust::Trusted,
        _ => SpanTrust::Untrusted,
    }
}
