//! Hugging Face Llama-family checkpoints and Gemma 3 GGUF files, run on any fak backend.
//!
//! A model directory as people download it (config.json, safetensors weights, tokenizer.json,
//! tokenizer_config.json, generation_config.json) becomes:
//!
//! - a [`ModelConfig`], read per architecture family (Llama 2/3 with llama3 RoPE scaling,
//!   Mistral, Qwen2/2.5 with QKV bias, Qwen3 with QK-norm, SmolLM2 as Llama), refusing
//!   unknown architectures and unknown config keys by name;
//! - a [`Checkpoint`]: the safetensors files memory-mapped (single or sharded), tensors
//!   taken by their own names and shapes, never copied;
//! - a [`Model`] generic over [`fak_backends::Backend`]: one forward pass for prefill and
//!   decode ([`Model::forward`]) that writes keys and values through the [`KvCache`]
//!   interface, because the cache belongs to the kernel, not the model ([`SequenceKv`] is the
//!   simple private implementation);
//! - a [`Tokenizer`] (the `tokenizers` crate), a [`ChatTemplate`] (minijinja, rendering like
//!   transformers' `apply_chat_template`, tools included) and [`StopTokens`];
//! - [`generate`]: prefill in chunks, then greedy or seeded sampling.
//!
//! A GGUF file ([`gguf`]) is accepted wherever a model directory is: its metadata gives the
//! config, tokenizer, chat template and stop tokens, and its tensors (quantized blocks kept
//! packed) are handed out under the Hugging Face names, so one loader and one forward pass
//! serve both.
//!
//! The forward pass inherits the ops' determinism: a sequence prefilled at once, in chunks,
//! or one token at a time gives the same KV bytes and logits.

mod chat;
mod checkpoint;
mod config;
mod error;
mod forward;
mod generation;
pub mod gguf;
mod json_file;
mod kv_cache;
mod model;
mod sequence_kv;
mod tokenizer;
mod weights;

pub use chat::{Chat, ChatTemplate};
pub use checkpoint::Checkpoint;
pub use config::{
    Architecture, ConfigDtype, LocalAttention, MlpActivation, ModelConfig, RopeParams, RopeScaling,
};
pub use error::ModelError;
/// Sampling parameters of [`GenerateOptions`], from the ops crate that implements them.
pub use fak_ops::SamplingParams;
pub use forward::{Activations, Logits};
pub use generation::{GenerateOptions, Generation, StopReason, StopTokens, generate};
pub use kv_cache::{KvCache, KvCacheError, KvLayer, commit_reserved, slot_of};
pub use model::Model;
pub use sequence_kv::SequenceKv;
pub use tokenizer::{TextStream, Tokenizer};
