//! Where completions come from: the [`ModelSource`] trait and its implementations.
//!
//! The gateway speaks the OpenAI chat-completions wire to its source whatever wire the
//! client used, so a source only has to produce OpenAI-shaped completions and chunks. The
//! reqwest proxy ([`proxy::ProxySource`]) reaches an upstream server; the in-kernel source
//! ([`in_kernel::InKernelSource`]) runs a model directory with the models crate, its KV cache
//! a kernel object.

pub mod in_kernel;
pub mod proxy;

use std::future::Future;
use std::pin::Pin;

use futures_util::Stream;
use serde_json::Value;

/// A source's answer, boxed so the trait stays object-safe.
pub type SourceFuture<'a, T> = Pin<Box<dyn Future<Output = Result<T, SourceError>> + Send + 'a>>;

/// `chat.completion.chunk` objects in order; the stream ends after the last one.
pub type ChunkStream = Pin<Box<dyn Stream<Item = Result<Value, SourceError>> + Send>>;

/// A producer of OpenAI-wire chat completions.
pub trait ModelSource: std::fmt::Debug + Send + Sync + 'static {
    /// One whole completion for an OpenAI chat request (`stream` is false).
    fn complete(&self, request: Value) -> SourceFuture<'_, Value>;
    /// A streamed completion for an OpenAI chat request (`stream` is true).
    fn stream(&self, request: Value) -> SourceFuture<'_, ChunkStream>;
    /// The models it serves, as an OpenAI `list` object.
    fn models(&self) -> SourceFuture<'_, Value>;
    /// Whether it can answer now (the upstream is reachable, the model is loaded).
    fn ready(&self) -> SourceFuture<'_, ()>;
    /// One line naming the source, for the start-up message.
    fn describe(&self) -> String;
    /// Metrics of its own, registered with the gateway's at start-up.
    fn collectors(&self) -> Vec<Box<dyn prometheus::core::Collector>> {
        Vec::new()
    }
}

/// Why a source gave no usable answer.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum SourceError {
    /// No connection could be made.
    #[error("the upstream is unreachable: {0}")]
    Unreachable(String),
    /// No bytes arrived within the upstream timeout.
    #[error("the upstream sent nothing for {seconds} s")]
    Timeout { seconds: u64 },
    /// The upstream answered with an error status.
    #[error("the upstream answered {status}: {message}")]
    Status { status: u16, message: String },
    /// The upstream answered with something that is not a valid completion.
    #[error("the upstream sent a malformed response: {0}")]
    Garbage(String),
    /// The request names a model this source does not serve.
    #[error("the model {requested:?} is not served here; GET /v1/models lists {served:?}")]
    UnknownModel { requested: String, served: String },
    /// The source cannot answer the request as it stands (a parameter it does not honour,
    /// a prompt longer than its context); the message names the field.
    #[error("{0}")]
    Refused(String),
    /// The in-kernel model failed while answering.
    #[error("the in-kernel model failed: {0}")]
    Engine(String),
}
