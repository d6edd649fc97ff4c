//! A [`ModelConfig`] from GGUF metadata (`general.architecture` and its `{arch}.*` keys).
//!
//! As for config.json, every key under the architecture's prefix is either read or refused
//! by name: an unknown key may change the forward pass (a logit soft-cap, a RoPE scaling),
//! and running without it would be a silently different model. Keys GGUF leaves implicit
//! take llama.cpp's values for the architecture (Gemma 3: every 6th layer global, local
//! RoPE base 10000), since llama.cpp is what wrote and runs these files.

use crate::ModelError;
use crate::config::{
    Architecture, LocalAttention, MlpActivation, ModelConfig, RopeParams, RopeScaling,
};
use crate::gguf::{GgufFile, Value};

/// The architectures a GGUF file may name.
const SUPPORTED: &str = "gemma3";

/// Keys of `gemma3.*` this reader understands (the prefix omitted).
const GEMMA3_KEYS: &[&str] = &[
    "context_length",
    "embedding_length",
    "block_count",
    "feed_forward_length",
    "attention.head_count",
    "attention.head_count_kv",
    "attention.key_length",
    "attention.value_length",
    "attention.layer_norm_rms_epsilon",
    "attention.sliding_window",
    "attention.sliding_window_pattern",
    "rope.freq_base",
    "rope.freq_base_swa",
    "rope.scaling.type",
    "rope.scaling.factor",
    "final_logit_softcapping",
];

/// Layers per group of local layers and one global layer, when the file does not say.
const GEMMA3_PATTERN: usize = 6;
/// The local layers' RoPE base, when the file does not say.
const GEMMA3_LOCAL_BASE: f64 = 10_000.0;
/// Gemma 3 27B scales queries by `hidden / heads` instead of `head_dim`; its block count.
const GEMMA3_27B_LAYERS: usize = 62;

/// Typed reads of one architecture's metadata keys.
struct Keys<'a> {
    file: &'a GgufFile,
    prefix: &'a str,
}

impl Keys<'_> {
    fn error(&self, key: &str, problem: impl Into<String>) -> ModelError {
        self.file
            .metadata_error(&format!("{}.{key}", self.prefix), problem)
    }

    fn value(&self, key: &str) -> Option<&Value> {
        self.file.get(&format!("{}.{key}", self.prefix))
    }

    fn count(&self, key: &str) -> Result<Option<usize>, ModelError> {
        self.value(key)
            .map(|v| {
                v.as_u64()
                    .and_then(|n| usize::try_from(n).ok())
                    .filter(|&n| n > 0)
                    .ok_or_else(|| {
                        self.error(key, format!("expected a positive integer, found {v:?}"))
                    })
            })
            .transpose()
    }

    fn required_count(&self, key: &str) -> Result<usize, ModelError> {
        self.count(key)?.ok_or_else(|| self.error(key, "missing"))
    }

    fn float(&self, key: &str) -> Result<Option<f64>, ModelError> {
        self.value(key)
            .map(|v| {
                v.as_f64()
                    .filter(|f| f.is_finite())
                    .ok_or_else(|| self.error(key, format!("expected a finite float, found {v:?}")))
            })
            .transpose()
    }
}

impl ModelConfig {
    /// The config of the model a GGUF file holds.
    pub fn from_gguf(file: &GgufFile) -> Result<Self, ModelError> {
        let arch = file
            .get("general.architecture")
            .and_then(Value::as_str)
            .ok_or_else(|| file.metadata_error("general.architecture", "missing"))?;
        if arch != SUPPORTED {
            return Err(file.metadata_error(
                "general.architecture",
                format!("{arch:?} is not supported (supported: {SUPPORTED})"),
            ));
        }
        refuse_unknown_keys(file, arch, GEMMA3_KEYS)?;
        gemma3(&Keys { file, prefix: arch })
    }
}

fn refuse_unknown_keys(file: &GgufFile, arch: &str, known: &[&str]) -> Result<(), ModelError> {
    let prefix = format!("{arch}.");
    let unknown: Vec<&str> = file
        .metadata()
        .keys()
        .filter_map(|k| k.strip_prefix(&prefix))
        .filter(|k| !known.contains(k))
        .collect();
    if unknown.is_empty() {
        return Ok(());
    }
    Err(file.metadata_error(&prefix,
        format!(
            "keys this reader does not understand: {} (they may change the model, so it refuses to guess)",
            unknown.join(", ")
        ),
    ))
}

fn gemma3(k: &Keys) -> Result<ModelConfig, ModelError> {
    let hidden = k.required_count("embedding_length")?;
    let num_layers = k.required_count("block_count")?;
    let num_heads = k.required_count("attention.head_count")?;
    let num_kv_heads = k.count("attention.head_count_kv")?.unwrap_or(num_heads);
    if !num_heads.is_multiple_of(num_kv_heads) {
        return Err(k.error(
            "attention.head_count_kv",
            format!("{num_kv_heads} does not divide attention.head_count ({num_heads})"),
        ));
    }
    let head_dim = k
        .count("attention.key_length")?
        .unwrap_or(hidden / num_heads);
    if let Some(v) = k.count("attention.value_length")?
        && v != head_dim
    {
        return Err(k.error(
            "attention.value_length",
            format!(
                "{v} differs from attention.key_length ({head_dim}), which fak does not support"
            ),
        ));
    }
    if !head_dim.is_multiple_of(2) {
        return Err(k.error("attention.key_length", "must be even (RoPE rotates pairs)"));
    }
    let eps = k
        .float("attention.layer_norm_rms_epsilon")?
        .ok_or_else(|| k.error("attention.layer_norm_rms_epsilon", "missing"))?;
    if let Some(cap) = k.float("final_logit_softcapping")?
        && cap != 0.0
    {
        return Err(k.error(
            "final_logit_softcapping",
            format!("{cap}: logit soft-capping is not implemented"),
        ));
    }
    let theta = |key: &str, default: Option<f64>| -> Result<f64, ModelError> {
        let base = k
            .float(key)?
            .or(default)
            .ok_or_else(|| k.error(key, "missing"))?;
        if base <= 1.0 {
            return Err(k.error(key, format!("{base} must be > 1")));
        }
        Ok(base)
    };
    let global_rope = RopeParams {
        theta: theta("rope.freq_base", None)?,
        scaling: rope_scaling(k)?,
    };
    let local_attention = k
        .count("attention.sliding_window")?
        .map(|window| -> Result<_, ModelError> {
            let pattern = match k.value("attention.sliding_window_pattern") {
                None => GEMMA3_PATTERN,
                Some(v) if v.as_u64().is_some() => k
                    .count("attention.sliding_window_pattern")?
                    .expect("present"),
                Some(v) => {
                    return Err(k.error(
                        "attention.sliding_window_pattern",
                        format!(
                            "a per-layer {} is not supported, only a period",
                            v.type_name()
                        ),
                    ));
                }
            };
            // llama.cpp applies the file's RoPE scaling to the global layers only.
            let rope = RopeParams {
                theta: theta("rope.freq_base_swa", Some(GEMMA3_LOCAL_BASE))?,
                scaling: RopeScaling::None,
            };
            Ok(LocalAttention::every_but_each_nth(
                window, rope, pattern, num_layers,
            ))
        })
        .transpose()?;
    let vocab_size = k
        .file
        .tensor("token_embd.weight")
        .map_err(|source| ModelError::Gguf {
            path: k.file.path().to_path_buf(),
            source,
        })?
        .shape()[0];
    Ok(ModelConfig {
        architecture: Architecture::Gemma3,
        hidden_size: hidden,
        intermediate_size: k.required_count("feed_forward_length")?,
        num_layers,
        num_heads,
        num_kv_heads,
        head_dim,
        vocab_size,
        rms_norm_eps: eps as f32,
        rope: global_rope,
        max_position_embeddings: k.required_count("context_length")?,
        // llama.cpp uses token_embd as the output matrix when output.weight is absent.
        tie_word_embeddings: k.file.tensor("output.weight").is_err(),
        qkv_bias: false,
        o_bias: false,
        mlp_bias: false,
        qk_norm: true,
        dtype: None,
        mlp_activation: MlpActivation::GeluTanh,
        // f32 as llama.cpp computes it (`sqrtf(n_embd)`), correctly rounded.
        embedding_scale: Some((hidden as f64).sqrt() as f32),
        sandwich_norms: true,
        query_pre_attn_scalar: if num_layers == GEMMA3_27B_LAYERS {
            hidden / num_heads
        } else {
            head_dim
        },
        local_attention,
    })
}

/// `rope.scaling.type` (none or linear) and its factor.
fn rope_scaling(k: &Keys) -> Result<RopeScaling, ModelError> {
    let kind = k.value("rope.scaling.type").map(|v| {
        v.as_str().ok_or_else(|| {
            k.error(
                "rope.scaling.type",
                format!("expected a string, found {v:?}"),
            )
        })
    });
    match kind.transpose()? {
        None | Some("none") => Ok(RopeScaling::None),
        Some("linear") => {
            let factor = k
                .float("rope.scaling.factor")?
                .ok_or_else(|| k.error("rope.scaling.factor", "missing for linear scaling"))?;
            if factor <= 0.0 {
                return Err(k.error("rope.scaling.factor", format!("{factor} must be > 0")));
            }
            Ok(RopeScaling::Linear { factor })
        }
        Some(other) => Err(k.error(
            "rope.scaling.type",
            format!("{other:?} is not supported (supported: none, linear)"),
        )),
    }
}
