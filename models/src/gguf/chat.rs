//! The chat template and stop tokens of a GGUF file.

use crate::gguf::{GgufFile, Value};
use crate::{ChatTemplate, ModelError, StopTokens};

/// Gemma's turn format, used when a Gemma file has no `tokenizer.chat_template`.
const GEMMA_TEMPLATE: &str = include_str!("gemma_chat.jinja");

/// Where llama.cpp finds an end-of-turn token no metadata key names: by its text.
const END_OF_TURN: &str = "<end_of_turn>";

fn piece(file: &GgufFile, key: &str) -> Option<String> {
    let id = file.get(key)?.as_u64()?;
    let pieces = file.get("tokenizer.ggml.tokens")?.as_array()?;
    pieces
        .get(usize::try_from(id).ok()?)?
        .as_str()
        .map(str::to_owned)
}

impl ChatTemplate {
    /// `tokenizer.chat_template`, or for Gemma files without one Gemma's turn format.
    pub fn from_gguf(file: &GgufFile) -> Result<Self, ModelError> {
        let source = match file.get("tokenizer.chat_template") {
            Some(Value::String(source)) => source.clone(),
            Some(other) => {
                return Err(ModelError::ChatTemplate(format!(
                    "{}: tokenizer.chat_template is a {}, not a string",
                    file.path().display(),
                    other.type_name()
                )));
            }
            None if file.get("general.architecture").and_then(Value::as_str) == Some("gemma3") => {
                GEMMA_TEMPLATE.to_owned()
            }
            None => {
                return Err(ModelError::ChatTemplate(format!(
                    "{} has no tokenizer.chat_template: this model cannot render a chat",
                    file.path().display()
                )));
            }
        };
        Self::new(
            source,
            piece(file, "tokenizer.ggml.bos_token_id"),
            piece(file, "tokenizer.ggml.eos_token_id"),
        )
    }
}

impl StopTokens {
    /// `tokenizer.ggml.eos_token_id`, `eot_token_id`, and `<end_of_turn>` where the
    /// vocabulary has it (chat models end their turn with it, not with eos).
    pub fn from_gguf(file: &GgufFile) -> Self {
        let mut ids: Vec<u32> = ["tokenizer.ggml.eos_token_id", "tokenizer.ggml.eot_token_id"]
            .iter()
            .filter_map(|key| file.get(key)?.as_u64())
            .filter_map(|id| u32::try_from(id).ok())
            .collect();
        let end_of_turn = file
            .get("tokenizer.ggml.tokens")
            .and_then(Value::as_array)
            .and_then(|pieces| pieces.iter().position(|p| p.as_str() == Some(END_OF_TURN)));
        ids.extend(end_of_turn.and_then(|id| u32::try_from(id).ok()));
        ids.dedup();
        Self(ids)
    }
}
