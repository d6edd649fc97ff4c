//! Why a KV operation was refused. A refused operation changes nothing.

use std::ops::Range;
use std::path::PathBuf;

use fak_backends::BackendError;
use fak_models::ModelError;
use thiserror::Error;

use super::SpanId;

#[derive(Debug, Error)]
pub enum KvError {
    /// The session has no span of this id (never had, or it was excised).
    #[error("the session has no span {0}")]
    UnknownSpan(SpanId),
    /// A span would overlap one the table already holds.
    #[error("span {range:?} overlaps span {existing} at {existing_range:?}")]
    OverlappingSpans {
        range: Range<usize>,
        existing: SpanId,
        existing_range: Range<usize>,
    },
    /// A span range that is empty or runs past the session's tokens.
    #[error("span range {range:?} is not inside the session's {len} tokens, or is empty")]
    BadSpanRange { range: Range<usize>, len: usize },
    /// Another holder reads this session; cutting or growing it now would change what it
    /// reads (or keep an excised span alive in its view).
    #[error("the session is being read by {readers} lease(s); drop them before changing it")]
    InUse { readers: usize },
    /// Every block is referenced: the pool's budget is spent.
    #[error(
        "the KV pool is full: all {capacity} blocks are referenced ({needed} more needed); \
         raise the KV budget or end sessions"
    )]
    OutOfBlocks { capacity: usize, needed: usize },
    /// A layer the model does not have.
    #[error("the model has {layers} layers; layer {layer} was asked for")]
    NoSuchLayer { layer: usize, layers: usize },
    /// An append of no tokens.
    #[error("an append needs at least one token")]
    EmptyAppend,
    /// A token id outside the model's vocabulary.
    #[error("token id {id} is outside the model's vocabulary of {vocab}")]
    TokenOutOfRange { id: u32, vocab: usize },
    /// More positions than the model was loaded for.
    #[error("the session would hold {requested} positions; the model was loaded for {context}")]
    ContextExceeded { requested: usize, context: usize },
    /// A budget too small for one block.
    #[error("a KV budget of {bytes} bytes holds no block ({block_bytes} bytes each)")]
    BudgetTooSmall { bytes: usize, block_bytes: usize },
    /// A dump that cannot be read or written.
    #[error("KV dump {path}: {source}")]
    DumpIo {
        path: PathBuf,
        source: std::io::Error,
    },
    /// A dump whose bytes are not a valid dump (bad magic, checksum, header or body).
    #[error("KV dump {path} is corrupt: {reason}")]
    DumpCorrupt { path: PathBuf, reason: String },
    /// A dump written by another format version.
    #[error("KV dump {path} has format version {found}; this fak reads version {supported}")]
    DumpVersion {
        path: PathBuf,
        found: u32,
        supported: u32,
    },
    /// A dump of another model (or the same model shaped differently).
    #[error("KV dump {path} was made by model {dump}, not by the loaded model {loaded}")]
    DumpWrongModel {
        path: PathBuf,
        dump: String,
        loaded: String,
    },
    #[error(transparent)]
    Model(#[from] ModelError),
    #[error(transparent)]
    Backend(#[from] BackendError),
}
