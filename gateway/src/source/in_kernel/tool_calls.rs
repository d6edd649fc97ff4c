//! Tool calls in generated text, in the Hermes form Qwen2.5 and Qwen3 checkpoints are
//! trained to write: `<tool_call>\n{"name": ..., "arguments": {...}}\n</tool_call>`.
//!
//! The parser takes text as the tokens decode and says what of it is plain text (safe to
//! stream now) and what is a call (for the gate). A tail that may be the start of the
//! opening tag is held back until the next text shows whether it is.

use serde_json::Value;

const OPEN: &str = "<tool_call>";
const CLOSE: &str = "</tool_call>";

/// A part of the generated text, in order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Piece {
    Text(String),
    /// A call: the tool's name and its arguments as JSON text. A block that is not a call
    /// envelope becomes a call with no name holding the block's text, so the gate refuses
    /// it; it never reaches the client as text an agent might parse as a call itself.
    Call {
        name: String,
        arguments: String,
    },
}

/// Splits streamed text into [`Piece`]s.
#[derive(Debug, Default)]
pub struct ToolCallParser {
    /// Text not yet given out: a possible partial tag, or the body of an open call.
    pending: String,
    in_call: bool,
}

impl ToolCallParser {
    /// Takes the next decoded text; returns what is now known.
    pub fn push(&mut self, text: &str) -> Vec<Piece> {
        self.pending.push_str(text);
        let mut pieces = Vec::new();
        loop {
            if self.in_call {
                let Some(end) = self.pending.find(CLOSE) else {
                    break;
                };
                pieces.push(call(&self.pending[..end]));
                self.pending.drain(..end + CLOSE.len());
                self.in_call = false;
            } else if let Some(start) = self.pending.find(OPEN) {
                push_text(&mut pieces, &self.pending[..start]);
                self.pending.drain(..start + OPEN.len());
                self.in_call = true;
            } else {
                let cut = self.pending.len() - partial_tag_len(&self.pending);
                push_text(&mut pieces, &self.pending[..cut]);
                self.pending.drain(..cut);
                break;
            }
        }
        pieces
    }

    /// The end of the text: a held-back tail is text after all; a call left open (the
    /// generation stopped inside it) is a call whose body is what was written.
    pub fn finish(self) -> Vec<Piece> {
        let mut pieces = Vec::new();
        if self.in_call {
            pieces.push(call(&self.pending));
        } else {
            push_text(&mut pieces, &self.pending);
        }
        pieces
    }
}

fn push_text(pieces: &mut Vec<Piece>, text: &str) {
    if !text.is_empty() {
        pieces.push(Piece::Text(text.to_string()));
    }
}

/// Bytes at the end of `text` that are a proper prefix of the opening tag.
fn partial_tag_len(text: &str) -> usize {
    (1..OPEN.len())
        .rev()
        .find(|&n| text.ends_with(&OPEN[..n]))
        .unwrap_or(0)
}

/// The call a block's body names. The envelope must be strict JSON with a non-empty
/// `name`; its `arguments` (or `parameters`, as Llama 3 writes them) are passed on as
/// text, where the gate's repair ladder reads them.
fn call(body: &str) -> Piece {
    let body = body.trim();
    let envelope = serde_json::from_str::<Value>(body).ok();
    let name = envelope
        .as_ref()
        .and_then(|e| e.get("name"))
        .and_then(Value::as_str)
        .filter(|n| !n.trim().is_empty());
    match (envelope.as_ref(), name) {
        (Some(envelope), Some(name)) => {
            let arguments = match envelope.get("arguments").or(envelope.get("parameters")) {
                None | Some(Value::Null) => String::new(),
                Some(Value::String(text)) => text.clone(),
                Some(value) => value.to_string(),
            };
            Piece::Call {
                name: name.to_string(),
                arguments,
            }
        }
        _ => Piece::Call {
            name: String::new(),
            arguments: body.to_string(),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TEXT: &str = "Let me check.\n<tool_call>\n{\"name\": \"read_file\", \"arguments\": \
        {\"path\": \"./README.md\"}}\n</tool_call>\n<tool_call>\n{\"name\": \"web_search\", \
        \"arguments\": \"{\\\"q\\\": \\\"weather\\\"}\"}\n</tool_call>";

    fn parse_in_steps(text: &str, step: usize) -> Vec<Piece> {
        let mut parser = ToolCallParser::default();
        let chars: Vec<char> = text.chars().collect();
        let mut pieces: Vec<Piece> = chars
            .chunks(step)
            .flat_map(|c| parser.push(&c.iter().collect::<String>()))
            .collect();
        pieces.extend(parser.finish());
        // Adjacent text pieces are one text, however the input was split.
        pieces.into_iter().fold(Vec::new(), |mut acc, piece| {
            match (acc.last_mut(), piece) {
                (Some(Piece::Text(a)), Piece::Text(b)) => a.push_str(&b),
                (_, piece) => acc.push(piece),
            }
            acc
        })
    }

    #[test]
    fn hermes_calls_are_taken_out_of_the_text_however_the_text_arrives() {
        let expected = vec![
            Piece::Text("Let me check.\n".into()),
            Piece::Call {
                name: "read_file".into(),
                arguments: r#"{"path":"./README.md"}"#.into(),
            },
            Piece::Text("\n".into()),
            Piece::Call {
                name: "web_search".into(),
                arguments: r#"{"q": "weather"}"#.into(),
            },
        ];
        for step in [1, 2, 3, 7, 11, TEXT.len()] {
            assert_eq!(parse_in_steps(TEXT, step), expected, "step {step}");
        }
    }

    #[test]
    fn a_partial_opening_tag_is_held_back_until_the_text_decides() {
        let mut parser = ToolCallParser::default();
        assert_eq!(parser.push("a <tool"), vec![Piece::Text("a ".into())]);
        assert_eq!(
            parser.push("box> b"),
            vec![Piece::Text("<toolbox> b".into())]
        );
        assert_eq!(parser.push("<"), Vec::new());
        assert_eq!(parser.finish(), vec![Piece::Text("<".into())]);
    }

    #[test]
    fn a_block_that_is_not_a_call_envelope_becomes_a_call_with_no_name() {
        let nameless = |body: &str| Piece::Call {
            name: String::new(),
            arguments: body.into(),
        };
        for body in [
            "{\"name\": \"run_shell\", \"arguments\": {\"cmd\": \"rm -rf /\"",
            "run_shell rm -rf /",
            "{\"arguments\": {}}",
            "{\"name\": \"  \"}",
        ] {
            let text = format!("<tool_call>\n{body}\n</tool_call>");
            assert_eq!(parse_in_steps(&text, 4), vec![nameless(body)], "{body}");
        }
        // Stopped inside a block (max_tokens): the truncated body is still a call attempt.
        let truncated = "<tool_call>\n{\"name\": \"delete_file\", \"arguments\": {\"path\": \"/ho";
        assert_eq!(
            parse_in_steps(truncated, 5),
            vec![nameless(truncated[OPEN.len()..].trim())]
        );
    }

    #[test]
    fn llama_style_parameters_and_missing_arguments_are_read() {
        let pieces = parse_in_steps(
            "<tool_call>{\"name\": \"get_time\", \"parameters\": {\"tz\": \"UTC\"}}</tool_call>\
             <tool_call>{\"name\": \"list\"}</tool_call>",
            6,
        );
        assert_eq!(
            pieces,
            vec![
                Piece::Call {
                    name: "get_time".into(),
                    arguments: r#"{"tz":"UTC"}"#.into()
                },
                Piece::Call {
                    name: "list".into(),
                    arguments: String::new()
                },
            ]
        );
    }
}
