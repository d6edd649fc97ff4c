//! The fused run: the kernel arm's transcript fed into the in-kernel model's KV cache.
//!
//! Each message of the transcript becomes one span of a [`Session`](crate::kv::Session)
//! with the kind DESIGN §3 names (system, tool_schema, user, assistant, tool_result), its
//! source tool and its trust. The transcript holds what the model was shown, so a result
//! admission quarantined enters only as the kernel's stub: its bytes never become tokens.
//! A late verdict ([`Revocation`]) marks an admitted result's span quarantined, excises
//! it, and checks the session against a cold rebuild byte for byte.
//!
//! A model holds only so many positions: when the transcript renders to more, the session
//! holds as many whole messages, from the first, as fit, and the report says how many.

mod render;
mod revoke;
mod session;

pub use render::{Rendering, Segment, segments};
pub use revoke::{Revocation, RevokeTarget};
pub use session::{FusedReport, FusedSession, Rendered, Withheld};

use fak_models::ModelError;

use crate::kv::KvError;

/// Why a fused run could not go on.
#[derive(Debug, thiserror::Error)]
pub enum FusedError {
    /// `--revoke` named a tool the kernel arm never called.
    #[error(
        "the kernel arm made no call to {tool}, so there is no result to revoke (it called: {called})"
    )]
    NoSuchCall { tool: String, called: String },
    /// Every call to the tool ended without its result entering the session.
    #[error("no result of {tool} entered the session, so there is nothing to revoke ({what})")]
    NothingAdmitted { tool: String, what: String },
    /// The model's context holds not even the first message.
    #[error(
        "the model was loaded for {context} positions; the transcript's first message alone needs more (the whole transcript renders to {needed} tokens)"
    )]
    ContextTooSmall { context: usize, needed: usize },
    /// The revoked result lies past what the model's context held.
    #[error(
        "the result of {tool} (turn {turn}) lies past the {context} positions the model holds, so it never entered the session"
    )]
    NotFed {
        tool: String,
        turn: u32,
        context: usize,
    },
    #[error("cannot tokenize message {message} of the transcript: {source}")]
    Tokenize { message: usize, source: ModelError },
    #[error("cannot decode the session's tokens: {0}")]
    Decode(ModelError),
    #[error(transparent)]
    Kv(#[from] KvError),
}
