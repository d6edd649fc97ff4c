//! The Anthropic Messages wire, translated to the OpenAI wire the source speaks and back:
//! [`request`] on the way up, [`response`] for a whole message, [`stream`] for SSE events.

pub mod request;
pub mod response;
pub mod stream;

/// Anthropic's `stop_reason` for an OpenAI `finish_reason`.
pub fn stop_reason(finish: &str) -> &'static str {
    match finish {
        "length" => "max_tokens",
        "tool_calls" => "tool_use",
        _ => "end_turn",
    }
}
