//! The architecture families this crate runs, and the config.json keys each one understands.
//!
//! A key in config.json is either read (it changes the forward pass, so the code must honour
//! it), known and ignored (listed below with the reason it changes nothing), or unknown:
//! then loading stops and names it. Guessing what an unknown key means is how a loader runs
//! the wrong model silently.

use std::fmt;

/// A model class from config.json's `architectures`, with the `model_type` it is saved with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Architecture {
    /// `LlamaForCausalLM`: Llama 2, Llama 3.x, SmolLM2 and other Llama-shaped checkpoints.
    Llama,
    /// `MistralForCausalLM`: Llama with a sliding attention window.
    Mistral,
    /// `Qwen2ForCausalLM`: Qwen2 and Qwen2.5 (bias on the Q, K and V projections).
    Qwen2,
    /// `Qwen3ForCausalLM`: RMSNorm on each query and key head (QK-norm).
    Qwen3,
    /// Gemma 3's text model, read from GGUF files only (`general.architecture` = `gemma3`):
    /// QK-norm, sandwich norms, GeGLU, scaled embeddings, interleaved sliding-window layers.
    Gemma3,
}

impl Architecture {
    /// The families read from a Hugging Face directory's config.json.
    pub const ALL: [Architecture; 4] = [Self::Llama, Self::Mistral, Self::Qwen2, Self::Qwen3];

    /// The class name config.json's `architectures` holds.
    pub fn class_name(self) -> &'static str {
        match self {
            Self::Llama => "LlamaForCausalLM",
            Self::Mistral => "MistralForCausalLM",
            Self::Qwen2 => "Qwen2ForCausalLM",
            Self::Qwen3 => "Qwen3ForCausalLM",
            Self::Gemma3 => "Gemma3ForCausalLM",
        }
    }

    /// The `model_type` transformers saves with this class.
    pub fn model_type(self) -> &'static str {
        match self {
            Self::Llama => "llama",
            Self::Mistral => "mistral",
            Self::Qwen2 => "qwen2",
            Self::Qwen3 => "qwen3",
            Self::Gemma3 => "gemma3_text",
        }
    }

    pub(crate) fn from_class_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|a| a.class_name() == name)
    }

    /// The supported class names, for error messages.
    pub(crate) fn supported() -> String {
        Self::ALL.map(Self::class_name).join(", ")
    }

    /// Keys this family's config may carry: the ones the loader reads, and the ones it
    /// knows change nothing it computes.
    pub(crate) fn allows_key(self, key: &str) -> bool {
        COMMON_KEYS.contains(&key)
            || IGNORED_KEYS.contains(&key)
            || self.own_keys().contains(&key)
            || self.own_ignored_keys().contains(&key)
    }

    /// Keys only this family reads.
    pub(crate) fn own_keys(self) -> &'static [&'static str] {
        match self {
            Self::Llama => &["attention_bias", "mlp_bias"],
            Self::Mistral => &["sliding_window"],
            Self::Qwen2 => &[
                "sliding_window",
                "use_sliding_window",
                "max_window_layers",
                "layer_types",
            ],
            Self::Qwen3 => &[
                "attention_bias",
                "sliding_window",
                "use_sliding_window",
                "max_window_layers",
                "layer_types",
            ],
            // Read from GGUF metadata (gguf::config), never from a config.json.
            Self::Gemma3 => &[],
        }
    }

    /// Keys only this family carries that change nothing it computes.
    fn own_ignored_keys(self) -> &'static [&'static str] {
        match self {
            Self::Llama => &[
                // transformers computes the same products whatever its value (old releases
                // only split the matmuls into slices).
                "pretraining_tp",
                // SmolLM2's nanotron metadata: transformers reads neither and always rotates
                // half-split pairs for this class.
                "is_llama_config",
                "rope_interleaved",
            ],
            Self::Mistral | Self::Qwen2 | Self::Qwen3 | Self::Gemma3 => &[],
        }
    }
}

impl fmt::Display for Architecture {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.class_name())
    }
}

/// Keys every family reads.
pub(crate) const COMMON_KEYS: &[&str] = &[
    "architectures",
    "model_type",
    "hidden_size",
    "intermediate_size",
    "num_hidden_layers",
    "num_attention_heads",
    "num_key_value_heads",
    "head_dim",
    "hidden_act",
    "max_position_embeddings",
    "rms_norm_eps",
    "rope_theta",
    "rope_scaling",
    "tie_word_embeddings",
    "vocab_size",
    "torch_dtype",
    "dtype",
];

/// Keys every family may carry that change nothing the forward pass computes.
const IGNORED_KEYS: &[&str] = &[
    // Provenance.
    "transformers_version",
    "_name_or_path",
    // Training only: weight init, dropout (0 at inference), the cache flag of `generate`.
    "initializer_range",
    "attention_dropout",
    "use_cache",
    // Special token ids: stop tokens come from generation_config.json, bos from the
    // tokenizer; the forward pass does not read them.
    "bos_token_id",
    "eos_token_id",
    "pad_token_id",
];
