//! An OpenAI chat request read for the in-kernel model: the conversation rendered with
//! the checkpoint's own chat template (tools included) and tokenized, and the settings
//! of its generation.

use std::path::Path;

use fak_models::{Chat, ChatTemplate, SamplingParams, Tokenizer};
use fak_ops::Sampler;
use serde::Deserialize;
use serde_json::{Map, Value, json};

use crate::entropy::random_bytes;
use crate::source::SourceError;

/// What one request asks the model to do.
#[derive(Clone, Debug, PartialEq)]
pub struct Turn {
    /// The rendered conversation's token ids.
    pub prompt: Vec<u32>,
    /// Most tokens to sample (a stop token counted), never past the context.
    pub max_tokens: usize,
    pub sampling: SamplingParams,
    pub seed: u64,
    /// `stream_options.include_usage`: a streamed answer ends with a usage chunk.
    pub include_usage: bool,
}

/// The sampling a checkpoint recommends (generation_config.json), used for whatever a
/// request leaves out, as vLLM does. Without the file: OpenAI's defaults.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct SamplingDefaults(pub SamplingParams);

#[derive(Deserialize)]
struct GenerationConfig {
    temperature: Option<f32>,
    top_p: Option<f32>,
    top_k: Option<usize>,
}

impl SamplingDefaults {
    /// OpenAI's: temperature 1, no top-p or top-k cut.
    pub const OPENAI: SamplingDefaults = SamplingDefaults(SamplingParams {
        temperature: 1.0,
        top_k: 0,
        top_p: 1.0,
    });

    pub fn from_dir(dir: &Path) -> Result<SamplingDefaults, String> {
        // A GGUF file carries no sampling defaults.
        if dir.is_file() {
            return Ok(Self::OPENAI);
        }
        let path = dir.join("generation_config.json");
        let text = match std::fs::read_to_string(&path) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Self::OPENAI),
            Err(e) => return Err(format!("cannot read {}: {e}", path.display())),
        };
        let config: GenerationConfig = serde_json::from_str(&text)
            .map_err(|e| format!("{} is not a generation config: {e}", path.display()))?;
        let base = Self::OPENAI.0;
        Ok(SamplingDefaults(SamplingParams {
            temperature: config.temperature.unwrap_or(base.temperature),
            top_k: config.top_k.unwrap_or(base.top_k),
            top_p: config.top_p.unwrap_or(base.top_p),
        }))
    }
}

/// What a turn is read against: the served model and its limits.
pub struct Reader<'a> {
    pub model: &'a str,
    pub template: &'a ChatTemplate,
    pub tokenizer: &'a Tokenizer,
    pub context: usize,
    pub defaults: SamplingDefaults,
}

impl Reader<'_> {
    /// Reads `request` (an OpenAI chat request the gateway has validated and screened).
    /// A parameter the model cannot honour is refused by name, never ignored.
    pub fn read(&self, request: &Value) -> Result<Turn, SourceError> {
        let body = request
            .as_object()
            .ok_or_else(|| refused("the request body must be a JSON object"))?;
        let requested = body.get("model").and_then(Value::as_str).unwrap_or("");
        if requested != self.model {
            return Err(SourceError::UnknownModel {
                requested: requested.to_string(),
                served: self.model.to_string(),
            });
        }
        refuse_unsupported(body)?;
        let prompt = self.prompt(body)?;
        if prompt.len() >= self.context {
            return Err(refused(format!(
                "messages: the rendered prompt is {} tokens; the model is served with a \
                 context of {} tokens (--context), which leaves no room for an answer",
                prompt.len(),
                self.context
            )));
        }
        let room = self.context - prompt.len();
        let max_tokens = match body.get("max_completion_tokens").or(body.get("max_tokens")) {
            None | Some(Value::Null) => room,
            Some(v) => match v.as_u64() {
                Some(n) if n > 0 => usize::try_from(n).unwrap_or(usize::MAX).min(room),
                _ => return Err(refused("max_tokens: a positive integer is required")),
            },
        };
        let sampling = self.sampling(body)?;
        let seed = match body.get("seed") {
            // Unseeded sampling differs request to request, as clients expect.
            None | Some(Value::Null) => u64::from_le_bytes(random_bytes::<8>()),
            // OpenAI's seed is a signed integer: its bits are the sampler's key.
            Some(v) => v
                .as_u64()
                .or_else(|| v.as_i64().map(|s| s as u64))
                .ok_or_else(|| refused("seed: an integer is required"))?,
        };
        let include_usage = body
            .get("stream_options")
            .and_then(|o| o.get("include_usage"))
            .and_then(Value::as_bool)
            .unwrap_or(false);
        Ok(Turn {
            prompt,
            max_tokens,
            sampling,
            seed,
            include_usage,
        })
    }

    fn prompt(&self, body: &Map<String, Value>) -> Result<Vec<u32>, SourceError> {
        let messages = body
            .get("messages")
            .and_then(Value::as_array)
            .ok_or_else(|| refused("messages: a non-empty array is required"))?;
        let messages = messages
            .iter()
            .enumerate()
            .map(|(i, m)| template_message(i, m))
            .collect::<Result<Vec<_>, _>>()?;
        let mut chat = Chat::from_json(&Value::Array(messages).to_string()).map_err(bad_chat)?;
        if let Some(tools) = body
            .get("tools")
            .and_then(Value::as_array)
            .filter(|t| !t.is_empty())
        {
            chat = chat
                .with_tools_json(&Value::Array(tools.clone()).to_string())
                .map_err(bad_chat)?;
        }
        let text = self.template.render(&chat).map_err(bad_chat)?;
        // The template writes the bos and every special token itself.
        self.tokenizer
            .encode(&text, false)
            .map_err(|e| SourceError::Engine(e.to_string()))
    }

    fn sampling(&self, body: &Map<String, Value>) -> Result<SamplingParams, SourceError> {
        let number = |key: &str, default: f32| match body.get(key) {
            None | Some(Value::Null) => Ok(default),
            Some(v) => v
                .as_f64()
                .map(|x| x as f32)
                .ok_or_else(|| refused(format!("{key}: a number is required"))),
        };
        let base = self.defaults.0;
        let top_k = match body.get("top_k") {
            None | Some(Value::Null) => base.top_k,
            // vLLM's extension; -1 (like 0) keeps every token.
            Some(v) => match v.as_i64() {
                Some(-1 | 0) => 0,
                Some(k) if k > 0 => usize::try_from(k).unwrap_or(usize::MAX),
                _ => return Err(refused("top_k: -1, 0 or a positive integer is required")),
            },
        };
        let params = SamplingParams {
            temperature: number("temperature", base.temperature)?,
            top_k,
            top_p: number("top_p", base.top_p)?,
        };
        // The sampler checks the ranges; its message names the parameter.
        Sampler::new(params, 0).map_err(|e| refused(e.to_string()))?;
        Ok(params)
    }
}

/// Parameters that change what the model must produce, which this source does not do:
/// refused with 400 rather than answered as if they were honoured.
fn refuse_unsupported(body: &Map<String, Value>) -> Result<(), SourceError> {
    let set = |key: &str| body.get(key).filter(|v| !v.is_null());
    let unsupported = |key: &str, what: &str| {
        Err(refused(format!(
            "{key}: {what} is not supported by the in-kernel model"
        )))
    };
    if set("stop").is_some_and(|s| s.as_array().is_none_or(|a| !a.is_empty())) {
        return unsupported("stop", "a stop sequence");
    }
    if set("logprobs").is_some_and(|v| v != &Value::Bool(false)) || set("top_logprobs").is_some() {
        return unsupported("logprobs", "returning log probabilities");
    }
    if set("response_format").is_some_and(|f| f.get("type") != Some(&json!("text"))) {
        return unsupported("response_format", "constrained output");
    }
    for key in ["presence_penalty", "frequency_penalty"] {
        if set(key).is_some_and(|v| v.as_f64() != Some(0.0)) {
            return unsupported(key, "a penalty");
        }
    }
    if set("logit_bias").is_some_and(|b| b.as_object().is_none_or(|o| !o.is_empty())) {
        return unsupported("logit_bias", "a logit bias");
    }
    if set("tool_choice").is_some_and(|c| c != &json!("auto")) {
        return unsupported("tool_choice", "a tool choice other than \"auto\"");
    }
    Ok(())
}

/// One message as chat templates read it (transformers' form): content as one string,
/// tool-call arguments as a JSON object where they parse, `developer` as `system`.
fn template_message(i: usize, message: &Value) -> Result<Value, SourceError> {
    let mut out = message
        .as_object()
        .cloned()
        .ok_or_else(|| refused(format!("messages[{i}]: an object is required")))?;
    if out.get("role").and_then(Value::as_str) == Some("developer") {
        out.insert("role".into(), json!("system"));
    }
    match out.get("content") {
        None | Some(Value::Null | Value::String(_)) => {}
        Some(Value::Array(parts)) => {
            let text = parts
                .iter()
                .enumerate()
                .map(|(j, part)| match part.get("type").and_then(Value::as_str) {
                    Some("text") => part
                        .get("text")
                        .and_then(Value::as_str)
                        .ok_or_else(|| refused(format!("messages[{i}].content[{j}].text: a string is required"))),
                    other => Err(refused(format!(
                        "messages[{i}].content[{j}]: a {} part cannot be read by the in-kernel model (text only)",
                        other.unwrap_or("typeless")
                    ))),
                })
                .collect::<Result<String, _>>()?;
            out.insert("content".into(), Value::String(text));
        }
        Some(_) => {
            return Err(refused(format!(
                "messages[{i}].content: a string or an array of parts is required"
            )));
        }
    }
    if let Some(Value::Array(calls)) = out.get_mut("tool_calls") {
        for call in calls {
            if let Some(arguments) = call.pointer_mut("/function/arguments")
                && let Some(parsed) = arguments
                    .as_str()
                    .and_then(|text| serde_json::from_str::<Value>(text).ok())
                    .filter(Value::is_object)
            {
                *arguments = parsed;
            }
        }
    }
    Ok(Value::Object(out))
}

fn refused(message: impl Into<String>) -> SourceError {
    SourceError::Refused(message.into())
}

/// A template that refuses the conversation (roles out of order, an unknown role) is the
/// client's to fix.
fn bad_chat(e: fak_models::ModelError) -> SourceError {
    refused(format!("messages: the chat template refused them: {e}"))
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use super::*;

    fn fixture() -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../data/fixtures/models/qwen3")
    }

    fn read(request: Value) -> Result<Turn, SourceError> {
        let dir = fixture();
        let template = ChatTemplate::from_dir(&dir).unwrap();
        let tokenizer = Tokenizer::from_dir(&dir).unwrap();
        Reader {
            model: "qwen3",
            template: &template,
            tokenizer: &tokenizer,
            context: 1024,
            defaults: SamplingDefaults::from_dir(&dir).unwrap(),
        }
        .read(&request)
    }

    fn chat(extra: Value) -> Value {
        let mut request = json!({"model": "qwen3",
            "messages": [{"role": "user", "content": "hello there"}]});
        for (k, v) in extra.as_object().unwrap() {
            request[k] = v.clone();
        }
        request
    }

    #[test]
    fn a_request_becomes_the_template_rendering_and_the_checkpoint_defaults() {
        let dir = fixture();
        let turn = read(chat(json!({"max_tokens": 5, "seed": 7}))).unwrap();
        let tokenizer = Tokenizer::from_dir(&dir).unwrap();
        let expected = ChatTemplate::from_dir(&dir)
            .unwrap()
            .render(&Chat::user("hello there"))
            .unwrap();
        assert_eq!(turn.prompt, tokenizer.encode(&expected, false).unwrap());
        assert_eq!(turn.max_tokens, 5);
        assert_eq!(turn.seed, 7);
        // generation_config.json: temperature 0.6, top_k 20, top_p 0.95.
        assert_eq!(
            turn.sampling,
            SamplingParams {
                temperature: 0.6,
                top_k: 20,
                top_p: 0.95
            }
        );
        let greedy = read(chat(json!({"temperature": 0, "top_p": 1}))).unwrap();
        assert_eq!(greedy.sampling.temperature, 0.0);
        assert_eq!(greedy.max_tokens, 1024 - greedy.prompt.len());
        let capped = read(chat(json!({"max_completion_tokens": 100_000}))).unwrap();
        assert_eq!(capped.max_tokens, 1024 - capped.prompt.len());
    }

    #[test]
    fn tools_and_text_parts_reach_the_template() {
        let tools = json!([{"type": "function", "function": {"name": "read_file",
            "parameters": {"type": "object"}}}]);
        let with_tools = read(chat(json!({"tools": tools}))).unwrap();
        let plain = read(chat(json!({}))).unwrap();
        assert!(with_tools.prompt.len() > plain.prompt.len());
        let parts = read(json!({"model": "qwen3", "messages": [{"role": "user",
            "content": [{"type": "text", "text": "hello "}, {"type": "text", "text": "there"}]}]}))
        .unwrap();
        assert_eq!(parts.prompt, plain.prompt);
    }

    #[test]
    fn what_the_model_cannot_honour_is_refused_by_name() {
        let message = |extra: Value| match read(chat(extra)) {
            Err(SourceError::Refused(m)) => m,
            other => panic!("expected a refusal, got {other:?}"),
        };
        for (extra, field) in [
            (json!({"stop": ["\n"]}), "stop"),
            (json!({"logprobs": true}), "logprobs"),
            (
                json!({"response_format": {"type": "json_object"}}),
                "response_format",
            ),
            (json!({"presence_penalty": 0.5}), "presence_penalty"),
            (json!({"tool_choice": "required"}), "tool_choice"),
            (json!({"max_tokens": 0}), "max_tokens"),
            (json!({"temperature": -1}), "temperature"),
            (json!({"top_p": 0}), "top_p"),
            (json!({"seed": "x"}), "seed"),
        ] {
            let m = message(extra.clone());
            assert!(m.contains(field), "{extra}: {m}");
        }
        let image = json!({"model": "qwen3", "messages": [{"role": "user",
            "content": [{"type": "image_url", "image_url": {"url": "x"}}]}]});
        assert!(matches!(read(image), Err(SourceError::Refused(m)) if m.contains("image_url")));
        let role = json!({"model": "qwen3", "messages": [{"role": "narrator", "content": "x"}]});
        assert!(matches!(read(role), Err(SourceError::Refused(m)) if m.contains("narrator")));
        // Defaults and explicit no-ops are accepted.
        assert!(
            read(chat(
                json!({"stop": [], "logprobs": false, "tool_choice": "auto",
            "presence_penalty": 0, "response_format": {"type": "text"}})
            ))
            .is_ok()
        );
    }

    #[test]
    fn another_model_name_is_unknown_and_a_long_prompt_is_refused() {
        let other =
            read(json!({"model": "gpt-4o", "messages": [{"role": "user", "content": "x"}]}));
        assert_eq!(
            other,
            Err(SourceError::UnknownModel {
                requested: "gpt-4o".into(),
                served: "qwen3".into()
            })
        );
        let long = "word ".repeat(2000);
        let too_long =
            read(json!({"model": "qwen3", "messages": [{"role": "user", "content": long}]}));
        assert!(matches!(too_long, Err(SourceError::Refused(m)) if m.contains("context of 1024")));
    }
}
