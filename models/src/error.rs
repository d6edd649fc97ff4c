//! The one error type of the crate: every refusal names the file, key or tensor at fault.

use std::path::PathBuf;

use fak_backends::BackendError;
use fak_ops::OpsError;
use thiserror::Error;

use crate::kv_cache::KvCacheError;

/// Why a checkpoint could not be loaded, or a prompt could not be run.
#[derive(Debug, Error)]
pub enum ModelError {
    /// A file the model directory must contain is not there.
    #[error("{path}: missing ({what})")]
    MissingFile { path: PathBuf, what: &'static str },
    /// A file exists but could not be read.
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// A JSON file is malformed or has a value of the wrong type; `key` is the path inside it.
    #[error("{path}: {key}: {message}")]
    Json {
        path: PathBuf,
        key: String,
        message: String,
    },
    /// A GGUF file is malformed, truncated, or holds what this crate cannot use.
    #[error("{path}: {source}")]
    Gguf {
        path: PathBuf,
        #[source]
        source: crate::gguf::GgufError,
    },
    /// `architectures` names a model class this crate does not implement.
    #[error("config.json: architecture {found:?} is not supported (supported: {supported})")]
    UnknownArchitecture { found: String, supported: String },
    /// config.json carries keys this crate does not understand for its architecture.
    #[error(
        "config.json: {architecture} does not understand the key(s) {keys}; refusing to guess what they change"
    )]
    UnknownConfigKeys { architecture: String, keys: String },
    /// A config value that is invalid (zero heads) or not supported (another activation, a
    /// RoPE variant this crate does not implement).
    #[error("config.json: {key} = {value}: {reason}")]
    ConfigValue {
        key: &'static str,
        value: String,
        reason: String,
    },
    /// A safetensors file is malformed or truncated.
    #[error("{path}: not a valid safetensors file: {reason}")]
    Safetensors { path: PathBuf, reason: String },
    /// A tensor the config implies is not in the checkpoint.
    #[error("tensor {name} is missing from the checkpoint")]
    MissingTensor { name: String },
    /// A tensor has another shape than the config implies.
    #[error("tensor {name}: expected shape {expected:?}, found {found:?}")]
    TensorShape {
        name: String,
        expected: Vec<usize>,
        found: Vec<usize>,
    },
    /// A tensor is stored in a dtype the engine does not compute with.
    #[error("tensor {name}: dtype {found} is not supported (expected BF16, F16 or F32)")]
    TensorDtype { name: String, found: String },
    /// The checkpoint holds tensors the config does not account for (a config with fewer
    /// layers than the weights, a module this architecture does not have).
    #[error(
        "the checkpoint holds {count} tensor(s) this config does not use, first {first}; config and weights do not match"
    )]
    UnusedTensors { count: usize, first: String },
    /// tokenizer.json could not be loaded, or a text could not be encoded or decoded.
    #[error("tokenizer: {0}")]
    Tokenizer(String),
    /// The chat template is missing, does not parse, or refused the conversation.
    #[error("chat template: {0}")]
    ChatTemplate(String),
    /// A prompt with no tokens.
    #[error("the prompt is empty: it encodes to no tokens")]
    EmptyPrompt,
    /// A prompt that does not leave room for one generated token.
    #[error(
        "the prompt has {tokens} tokens, but the context holds {context} positions (room for at least one new token is needed)"
    )]
    PromptTooLong { tokens: usize, context: usize },
    /// A forward call past the positions the model was loaded for.
    #[error("positions {start}..{end} are past the context of {context} positions")]
    ContextExceeded {
        start: usize,
        end: usize,
        context: usize,
    },
    /// A token id outside the model's vocabulary.
    #[error("token id {id} is outside the vocabulary of {vocab} rows")]
    TokenOutOfRange { id: u32, vocab: usize },
    /// A generation or load parameter outside its valid range.
    #[error("{param} = {value}: {reason}")]
    InvalidParam {
        param: &'static str,
        value: String,
        reason: &'static str,
    },
    #[error(transparent)]
    KvCache(#[from] KvCacheError),
    #[error(transparent)]
    Backend(#[from] BackendError),
    #[error(transparent)]
    Ops(#[from] OpsError),
}

impl ModelError {
    /// An I/O error on `path`, reported as [`ModelError::MissingFile`] when the file is not
    /// there.
    pub(crate) fn io(path: &std::path::Path, what: &'static str, source: std::io::Error) -> Self {
        if source.kind() == std::io::ErrorKind::NotFound {
            Self::MissingFile {
                path: path.to_owned(),
                what,
            }
        } else {
            Self::Io {
                path: path.to_owned(),
                source,
            }
        }
    }
}
