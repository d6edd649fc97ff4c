//! fak-gateway: `fak serve`, an OpenAI- and Anthropic-compatible HTTP gateway that puts
//! the governance kernel between a client and its model.
//!
//! A client that speaks the OpenAI chat-completions wire (`POST /v1/chat/completions`) or
//! the Anthropic Messages wire (`POST /v1/messages`) is pointed at the gateway instead of
//! its model server. Each request passes the gate ([`gate`]) on the way up (tool results
//! in the transcript are screened; a quarantined one reaches the model only as its stub)
//! and on the way down (each proposed tool call is repaired and decided; a refused one is
//! removed and replaced by a notice, and a `fak` object lists every decision and code).
//!
//! The model comes from a [`source::ModelSource`]: the proxy
//! ([`source::proxy::ProxySource`]) to an OpenAI-compatible upstream, or a model directory
//! run inside the gateway by the models crate ([`source::in_kernel::InKernelSource`]), its
//! KV cache a kernel object shared by every request. The Anthropic wire is translated to
//! OpenAI on the way up and back on the way down ([`anthropic`]).
//!
//! Around the gate: one shared key ([`auth`]), a JSON access log, Prometheus metrics and
//! load shedding ([`ops`]), conversations whose taint is kept until they go idle
//! ([`traces`]), and graceful shutdown ([`server`]).

pub mod anthropic;
mod auth;
pub mod config;
mod entropy;
pub mod error;
mod exchange;
pub mod gate;
mod ops;
mod routes;
pub mod server;
pub mod source;
mod sse;
mod state;
pub mod traces;

pub use config::{ApiKey, Config, ConfigError, Limits};
pub use error::{ApiError, ErrorKind, Wire};
pub use server::{Gateway, ServeError, run, shutdown_signal};
pub use source::in_kernel::{InKernelError, InKernelOptions, InKernelSource};
pub use source::proxy::{ProxyError, ProxySource};
pub use source::{ModelSource, SourceError};
