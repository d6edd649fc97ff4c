//! The checkpoint's own chat template (Jinja, from tokenizer_config.json) rendered with
//! minijinja the way transformers' `apply_chat_template` renders it.
//!
//! transformers renders with `trim_blocks` and `lstrip_blocks`, loop controls, a
//! `raise_exception` function and its own `tojson` ([`python_json`]); templates also call
//! Python string methods (`.strip()`, `.startswith()`), which minijinja-contrib's pycompat
//! provides. The variables are `messages`, `tools`, `add_generation_prompt`, `bos_token`,
//! `eos_token` and any extra ones a template reads (`enable_thinking`).

mod python_json;

use std::path::Path;

use minijinja::syntax::SyntaxConfig;
use minijinja::value::Serde;
use minijinja::{Environment, Error, ErrorKind, Value};
use serde::Serialize;
use serde_json::{Map, Value as Json};

use crate::{ModelError, json_file};

/// A conversation to render: messages, optional tools, and template variables.
#[derive(Debug, Clone)]
pub struct Chat {
    messages: Value,
    tools: Option<Value>,
    add_generation_prompt: bool,
    variables: Vec<(String, Value)>,
}

impl Chat {
    /// A conversation of one user message, ready for the assistant's answer.
    pub fn user(text: &str) -> Self {
        #[derive(Serialize)]
        struct Message<'a> {
            role: &'a str,
            content: &'a str,
        }
        Self {
            messages: Value::from(Serde([Message {
                role: "user",
                content: text,
            }])),
            tools: None,
            add_generation_prompt: true,
            variables: Vec::new(),
        }
    }

    /// Messages from a JSON array (`[{"role": ..., "content": ...}, ...]`, tool calls
    /// included). Keys keep the order they have in the text, as they would in Python.
    pub fn from_json(messages: &str) -> Result<Self, ModelError> {
        let messages = parse_json(messages, "messages")?;
        if !matches!(messages.kind(), minijinja::value::ValueKind::Seq) {
            return Err(ModelError::ChatTemplate(
                "messages must be a JSON array of message objects".to_owned(),
            ));
        }
        Ok(Self {
            messages,
            tools: None,
            add_generation_prompt: true,
            variables: Vec::new(),
        })
    }

    /// The tools the model may call, as a JSON array of tool schemas (rendered by the
    /// template, usually through `tojson`, so their key order is kept).
    pub fn with_tools_json(mut self, tools: &str) -> Result<Self, ModelError> {
        self.tools = Some(parse_json(tools, "tools")?);
        Ok(self)
    }

    /// Whether to end with the header of an assistant turn (default true).
    pub fn with_generation_prompt(mut self, yes: bool) -> Self {
        self.add_generation_prompt = yes;
        self
    }

    /// An extra template variable (`enable_thinking`, ...).
    pub fn with_variable(mut self, name: &str, value: impl Serialize) -> Self {
        self.variables
            .push((name.to_owned(), Value::from(Serde(value))));
        self
    }
}

fn parse_json(text: &str, what: &str) -> Result<Value, ModelError> {
    serde_json::from_str(text)
        .map_err(|e| ModelError::ChatTemplate(format!("{what} is not valid JSON: {e}")))
}

/// A chat template with the special tokens it may refer to.
#[derive(Debug)]
pub struct ChatTemplate {
    env: Environment<'static>,
    bos_token: Option<String>,
    eos_token: Option<String>,
}

const TEMPLATE: &str = "chat";

impl ChatTemplate {
    /// The template of `dir`: `chat_template.jinja` where transformers saved it as its own
    /// file, otherwise `chat_template` in tokenizer_config.json.
    /// A GGUF file's template comes from its metadata ([`ChatTemplate::from_gguf`]).
    pub fn from_dir(dir: &Path) -> Result<Self, ModelError> {
        if crate::gguf::is_gguf(dir) {
            return Self::from_gguf(&crate::gguf::GgufFile::open(dir)?);
        }
        let config_path = dir.join("tokenizer_config.json");
        let config: Map<String, Json> = json_file::read(&config_path, "the tokenizer config")?;
        let jinja = dir.join("chat_template.jinja");
        let source = if jinja.exists() {
            json_file::read_text(&jinja, "the chat template")?
        } else {
            template_source(config.get("chat_template")).ok_or_else(|| {
                ModelError::ChatTemplate(format!(
                    "{} has no chat_template (and there is no chat_template.jinja): this checkpoint cannot render a chat",
                    config_path.display()
                ))
            })?
        };
        Self::new(
            source,
            token_text(config.get("bos_token")),
            token_text(config.get("eos_token")),
        )
    }

    /// A template from its source and special tokens.
    pub fn new(
        source: String,
        bos_token: Option<String>,
        eos_token: Option<String>,
    ) -> Result<Self, ModelError> {
        let mut env = Environment::new();
        let syntax = SyntaxConfig::builder()
            .trim_blocks(true)
            .lstrip_blocks(true)
            .build()
            .map_err(|e| ModelError::ChatTemplate(e.to_string()))?;
        env.set_syntax(syntax);
        env.set_unknown_method_callback(minijinja_contrib::pycompat::unknown_method_callback);
        env.add_filter("tojson", python_json::tojson);
        env.add_function("raise_exception", raise_exception);
        env.add_template_owned(TEMPLATE, source)
            .map_err(|e| ModelError::ChatTemplate(format!("does not parse: {e}")))?;
        Ok(Self {
            env,
            bos_token,
            eos_token,
        })
    }

    /// The prompt text of `chat`. A template that refuses the conversation (roles out of
    /// order, an unknown role) is an error carrying its message.
    pub fn render(&self, chat: &Chat) -> Result<String, ModelError> {
        let mut context = vec![
            ("messages".to_owned(), chat.messages.clone()),
            (
                "tools".to_owned(),
                chat.tools.clone().unwrap_or(Value::from(())),
            ),
            (
                "add_generation_prompt".to_owned(),
                Value::from(chat.add_generation_prompt),
            ),
            ("bos_token".to_owned(), Value::from(self.bos_token.clone())),
            ("eos_token".to_owned(), Value::from(self.eos_token.clone())),
        ];
        context.extend(chat.variables.iter().cloned());
        let template = self
            .env
            .get_template(TEMPLATE)
            .map_err(|e| ModelError::ChatTemplate(e.to_string()))?;
        template
            .render(Value::from_pairs(context))
            .map_err(|e| ModelError::ChatTemplate(describe(&e)))
    }
}

/// `raise_exception(message)`: how templates refuse a conversation.
fn raise_exception(message: String) -> Result<Value, Error> {
    Err(Error::new(ErrorKind::InvalidOperation, message))
}

/// An error with its chain of causes, on one line.
fn describe(e: &Error) -> String {
    let mut text = e.to_string();
    let mut source = std::error::Error::source(e);
    while let Some(cause) = source {
        text.push_str(&format!(": {cause}"));
        source = cause.source();
    }
    text
}

/// `chat_template` as a string, or the `default` entry of a list of named templates.
fn template_source(value: Option<&Json>) -> Option<String> {
    match value? {
        Json::String(s) => Some(s.clone()),
        Json::Array(named) => named
            .iter()
            .find(|t| t.get("name").and_then(Json::as_str) == Some("default"))
            .and_then(|t| t.get("template"))
            .and_then(Json::as_str)
            .map(str::to_owned),
        _ => None,
    }
}

/// A special token as tokenizer_config.json writes it: a string or `{"content": ...}`.
fn token_text(value: Option<&Json>) -> Option<String> {
    match value? {
        Json::String(s) => Some(s.clone()),
        Json::Object(o) => o.get("content").and_then(Json::as_str).map(str::to_owned),
        _ => None,
    }
}
