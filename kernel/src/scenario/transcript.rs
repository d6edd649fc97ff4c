//! The transcript: every message of a run, exactly as the model reads it.
//!
//! The planner sees nothing else: whatever it decides, it decides from these messages. A
//! tool result is stored as the model-visible text the tool path produced (the result
//! itself, a tool error, a refusal, or a quarantine stub), never the raw result behind a
//! stub. The roles match the span kinds of the kernel's KV cache (DESIGN §3: system,
//! user, assistant, tool_result), so a fused run can append each message as one span.

use serde::Serialize;

/// Who a message is from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// The operator's instructions and the tool list.
    System,
    /// The task.
    User,
    /// A model turn: a tool call or the final answer.
    Assistant,
    /// What came back from a tool call.
    ToolResult,
}

/// One message.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Message {
    pub role: Role,
    /// For a tool call and its result: the tool's name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tool: Option<String>,
    pub text: String,
}

/// The messages of one run, in order.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Transcript {
    messages: Vec<Message>,
}

impl Transcript {
    /// A transcript opened by the system prompt and the task.
    pub fn new(system: impl Into<String>, task: impl Into<String>) -> Transcript {
        Transcript {
            messages: vec![
                Message {
                    role: Role::System,
                    tool: None,
                    text: system.into(),
                },
                Message {
                    role: Role::User,
                    tool: None,
                    text: task.into(),
                },
            ],
        }
    }

    pub fn push(&mut self, role: Role, tool: Option<&str>, text: impl Into<String>) {
        self.messages.push(Message {
            role,
            tool: tool.map(String::from),
            text: text.into(),
        });
    }

    pub fn messages(&self) -> &[Message] {
        &self.messages
    }

    /// The first message with `role`.
    pub fn first(&self, role: Role) -> Option<&Message> {
        self.messages.iter().find(|m| m.role == role)
    }

    /// Whether `needle` appears in any message the model was given (everything but its
    /// own turns).
    pub fn model_was_shown(&self, needle: &str) -> bool {
        self.messages
            .iter()
            .any(|m| m.role != Role::Assistant && m.text.contains(needle))
    }
}
