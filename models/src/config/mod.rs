//! config.json, read per architecture family into one resolved [`ModelConfig`].
//!
//! Loading refuses an `architectures` value it does not implement and every key its family
//! does not list (see [`family`]), each by name. Values the forward pass cannot honour (an
//! activation other than SiLU, an unknown RoPE scaling) are refused too.

mod block;
mod family;
mod rope;

use std::path::Path;

use serde::Deserialize;
use serde_json::{Map, Value};

pub use block::{LocalAttention, MlpActivation};
pub use family::Architecture;
pub use rope::{RopeParams, RopeScaling};

use crate::{ModelError, json_file};

/// The dtype config.json says the weights were saved in (`torch_dtype`, or `dtype` in
/// newer transformers). Informational: weights are used in the dtype each tensor is stored in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConfigDtype {
    Bf16,
    F16,
    F32,
}

/// A Llama-family model's shape and switches, resolved from config.json.
#[derive(Debug, Clone, PartialEq)]
pub struct ModelConfig {
    pub architecture: Architecture,
    pub hidden_size: usize,
    pub intermediate_size: usize,
    pub num_layers: usize,
    pub num_heads: usize,
    pub num_kv_heads: usize,
    pub head_dim: usize,
    /// Rows of the embedding and output matrices (may exceed the tokenizer's vocabulary).
    pub vocab_size: usize,
    pub rms_norm_eps: f32,
    pub rope: RopeParams,
    /// `max_position_embeddings`.
    pub max_position_embeddings: usize,
    /// The output projection is the embedding matrix (no `lm_head.weight`).
    pub tie_word_embeddings: bool,
    /// Bias on the Q, K and V projections (Qwen2, Llama `attention_bias`).
    pub qkv_bias: bool,
    /// Bias on the attention output projection (Llama `attention_bias`).
    pub o_bias: bool,
    /// Bias on the MLP projections (Llama `mlp_bias`).
    pub mlp_bias: bool,
    /// RMSNorm on every query and key head before RoPE (Qwen3, Gemma 3).
    pub qk_norm: bool,
    pub dtype: Option<ConfigDtype>,
    /// The MLP's gate activation.
    pub mlp_activation: MlpActivation,
    /// Multiplies the embedding rows before the first layer (Gemma: `sqrt(hidden_size)`).
    pub embedding_scale: Option<f32>,
    /// RMSNorm on the attention output and on the MLP output before each joins the residual
    /// stream (Gemma 3's post-attention and post-feed-forward norms).
    pub sandwich_norms: bool,
    /// Queries are scaled by `1/sqrt(query_pre_attn_scalar)` (`head_dim` in the Hugging Face
    /// families).
    pub query_pre_attn_scalar: usize,
    /// Interleaved sliding-window layers with their own RoPE (Gemma 3); the other layers
    /// use `rope` and attend over the whole context.
    pub local_attention: Option<LocalAttention>,
}

/// Every key some family reads; [`Architecture::allows_key`] decides which a family may have.
#[derive(Debug, Deserialize)]
struct RawConfig {
    model_type: String,
    hidden_size: usize,
    intermediate_size: usize,
    num_hidden_layers: usize,
    num_attention_heads: usize,
    num_key_value_heads: Option<usize>,
    head_dim: Option<usize>,
    hidden_act: String,
    max_position_embeddings: usize,
    rms_norm_eps: Option<f64>,
    rope_theta: Option<f64>,
    tie_word_embeddings: Option<bool>,
    vocab_size: usize,
    torch_dtype: Option<String>,
    dtype: Option<String>,
    attention_bias: Option<bool>,
    mlp_bias: Option<bool>,
    use_sliding_window: Option<bool>,
    max_window_layers: Option<usize>,
    layer_types: Option<Vec<String>>,
}

impl ModelConfig {
    /// Reads `dir/config.json`, or the metadata of `dir` when it is a GGUF file.
    pub fn from_dir(dir: &Path) -> Result<Self, ModelError> {
        if crate::gguf::is_gguf(dir) {
            return Self::from_gguf(&crate::gguf::GgufFile::open(dir)?);
        }
        let path = dir.join("config.json");
        Self::parse(&path, &json_file::read_text(&path, "the model's config")?)
    }

    /// Parses the text of a config.json (`path` is used in errors).
    pub fn parse(path: &Path, text: &str) -> Result<Self, ModelError> {
        let map: Map<String, Value> = json_file::parse(path, text)?;
        let architecture = architecture(&map)?;
        let mut unknown: Vec<&str> = map
            .keys()
            .map(String::as_str)
            .filter(|k| !architecture.allows_key(k))
            .collect();
        if !unknown.is_empty() {
            unknown.sort_unstable();
            return Err(ModelError::UnknownConfigKeys {
                architecture: architecture.class_name().to_owned(),
                keys: unknown.join(", "),
            });
        }
        let raw: RawConfig = json_file::parse(path, text)?;
        resolve(architecture, raw, &map)
    }

    /// Values in one row of K (or V) for one token: `num_kv_heads * head_dim`.
    pub fn kv_dim(&self) -> usize {
        self.num_kv_heads * self.head_dim
    }

    /// Values of all query heads of one token: `num_heads * head_dim`.
    pub fn q_dim(&self) -> usize {
        self.num_heads * self.head_dim
    }

    /// The most positions a sequence may hold: `max_position_embeddings` (sliding-window
    /// layers attend over their window of them).
    pub fn context(&self) -> usize {
        self.max_position_embeddings
    }
}

/// The one supported class in `architectures`.
fn architecture(map: &Map<String, Value>) -> Result<Architecture, ModelError> {
    let names: Vec<&str> = match map.get("architectures") {
        Some(Value::Array(a)) => a.iter().filter_map(Value::as_str).collect(),
        _ => Vec::new(),
    };
    match names.as_slice() {
        [name] => {
            Architecture::from_class_name(name).ok_or_else(|| ModelError::UnknownArchitecture {
                found: (*name).to_owned(),
                supported: Architecture::supported(),
            })
        }
        _ => Err(ModelError::UnknownArchitecture {
            found: map
                .get("architectures")
                .map_or("(no architectures key)".to_owned(), Value::to_string),
            supported: Architecture::supported(),
        }),
    }
}

fn resolve(
    architecture: Architecture,
    raw: RawConfig,
    map: &Map<String, Value>,
) -> Result<ModelConfig, ModelError> {
    if raw.model_type != architecture.model_type() {
        return Err(ModelError::ConfigValue {
            key: "model_type",
            value: format!("{:?}", raw.model_type),
            reason: format!(
                "{architecture} is saved with model_type {:?}",
                architecture.model_type()
            ),
        });
    }
    if raw.hidden_act != "silu" {
        return Err(ModelError::ConfigValue {
            key: "hidden_act",
            value: format!("{:?}", raw.hidden_act),
            reason: "only \"silu\" (SwiGLU MLP) is implemented".to_owned(),
        });
    }
    for (key, value) in [
        ("hidden_size", raw.hidden_size),
        ("intermediate_size", raw.intermediate_size),
        ("num_hidden_layers", raw.num_hidden_layers),
        ("num_attention_heads", raw.num_attention_heads),
        ("max_position_embeddings", raw.max_position_embeddings),
        ("vocab_size", raw.vocab_size),
    ] {
        positive(key, value)?;
    }
    let num_heads = raw.num_attention_heads;
    let num_kv_heads = positive(
        "num_key_value_heads",
        raw.num_key_value_heads.unwrap_or(num_heads),
    )?;
    if !num_heads.is_multiple_of(num_kv_heads) {
        return Err(ModelError::ConfigValue {
            key: "num_key_value_heads",
            value: num_kv_heads.to_string(),
            reason: format!("must divide num_attention_heads ({num_heads})"),
        });
    }
    // Qwen3Config defaults head_dim to 128; the others derive it from the hidden size.
    let head_dim = match (raw.head_dim, architecture) {
        (Some(d), _) => d,
        (None, Architecture::Qwen3) => 128,
        (None, _) => raw.hidden_size / num_heads,
    };
    if head_dim == 0 || !head_dim.is_multiple_of(2) {
        return Err(ModelError::ConfigValue {
            key: "head_dim",
            value: head_dim.to_string(),
            reason: "must be even and > 0 (RoPE rotates pairs)".to_owned(),
        });
    }
    let rms_norm_eps = raw.rms_norm_eps.unwrap_or(1e-6);
    if !(rms_norm_eps.is_finite() && rms_norm_eps >= 0.0) {
        return Err(ModelError::ConfigValue {
            key: "rms_norm_eps",
            value: rms_norm_eps.to_string(),
            reason: "must be finite and >= 0".to_owned(),
        });
    }
    let theta = raw.rope_theta.unwrap_or(10_000.0);
    if !(theta.is_finite() && theta > 1.0) {
        return Err(ModelError::ConfigValue {
            key: "rope_theta",
            value: theta.to_string(),
            reason: "must be finite and > 1".to_owned(),
        });
    }
    let attention_bias = raw.attention_bias.unwrap_or(false);
    let rope = RopeParams {
        theta,
        scaling: rope::parse_scaling(map.get("rope_scaling"))?,
    };
    Ok(ModelConfig {
        architecture,
        hidden_size: raw.hidden_size,
        intermediate_size: raw.intermediate_size,
        num_layers: raw.num_hidden_layers,
        num_heads,
        num_kv_heads,
        head_dim,
        vocab_size: raw.vocab_size,
        rms_norm_eps: rms_norm_eps as f32,
        rope,
        max_position_embeddings: raw.max_position_embeddings,
        tie_word_embeddings: raw.tie_word_embeddings.unwrap_or(false),
        qkv_bias: architecture == Architecture::Qwen2 || attention_bias,
        o_bias: architecture == Architecture::Llama && attention_bias,
        mlp_bias: raw.mlp_bias.unwrap_or(false),
        qk_norm: architecture == Architecture::Qwen3,
        dtype: dtype(raw.dtype.as_deref().or(raw.torch_dtype.as_deref()))?,
        mlp_activation: MlpActivation::Silu,
        embedding_scale: None,
        sandwich_norms: false,
        query_pre_attn_scalar: head_dim,
        local_attention: local_attention(architecture, &raw, map, rope)?,
    })
}

fn positive(key: &'static str, value: usize) -> Result<usize, ModelError> {
    if value == 0 {
        return Err(ModelError::ConfigValue {
            key,
            value: "0".to_owned(),
            reason: "must be > 0".to_owned(),
        });
    }
    Ok(value)
}

/// `max_window_layers` when a Qwen config leaves it out (`Qwen2Config`'s and
/// `Qwen3Config`'s default).
const QWEN_MAX_WINDOW_LAYERS: usize = 28;

/// The sliding window and the layers it applies to, as transformers decides them: Mistral
/// windows every layer (4096 when the key is absent, as `MistralConfig` defaults); Qwen only
/// with `use_sliding_window`, then the layers `layer_types` marks `sliding_attention`, or
/// without `layer_types` those from `max_window_layers` on.
fn local_attention(
    architecture: Architecture,
    raw: &RawConfig,
    map: &Map<String, Value>,
    rope: RopeParams,
) -> Result<Option<LocalAttention>, ModelError> {
    let window = match map.get("sliding_window") {
        None => Some(4096),
        Some(Value::Null) => None,
        Some(v) => Some(
            v.as_u64()
                .and_then(|w| usize::try_from(w).ok())
                .filter(|&w| w > 0)
                .ok_or_else(|| ModelError::ConfigValue {
                    key: "sliding_window",
                    value: v.to_string(),
                    reason: "must be null or a positive integer".to_owned(),
                })?,
        ),
    };
    let n = raw.num_hidden_layers;
    let mut layer_types = Vec::with_capacity(n);
    for kind in raw.layer_types.iter().flatten() {
        layer_types.push(match kind.as_str() {
            "full_attention" => false,
            "sliding_attention" => true,
            other => {
                return Err(ModelError::ConfigValue {
                    key: "layer_types",
                    value: format!("{other:?}"),
                    reason: "expected \"full_attention\" or \"sliding_attention\"".to_owned(),
                });
            }
        });
    }
    if raw.layer_types.is_some() && layer_types.len() != n {
        return Err(ModelError::ConfigValue {
            key: "layer_types",
            value: format!("{} entries", layer_types.len()),
            reason: format!("must name one type for each of the {n} layers"),
        });
    }
    let layers: Vec<bool> = match architecture {
        Architecture::Mistral => vec![true; n],
        Architecture::Llama | Architecture::Gemma3 => vec![false; n],
        Architecture::Qwen2 | Architecture::Qwen3 if raw.use_sliding_window != Some(true) => {
            vec![false; n]
        }
        Architecture::Qwen2 | Architecture::Qwen3 if raw.layer_types.is_some() => layer_types,
        Architecture::Qwen2 | Architecture::Qwen3 => {
            let from = raw.max_window_layers.unwrap_or(QWEN_MAX_WINDOW_LAYERS);
            (0..n).map(|i| i >= from).collect()
        }
    };
    Ok(match window {
        Some(window) if layers.contains(&true) => Some(LocalAttention {
            window,
            rope,
            layers,
        }),
        _ => None,
    })
}

fn dtype(name: Option<&str>) -> Result<Option<ConfigDtype>, ModelError> {
    Ok(match name {
        None => None,
        Some("bfloat16") => Some(ConfigDtype::Bf16),
        Some("float16") => Some(ConfigDtype::F16),
        Some("float32") => Some(ConfigDtype::F32),
        Some(other) => {
            return Err(ModelError::ConfigValue {
                key: "torch_dtype",
                value: format!("{other:?}"),
                reason: "expected bfloat16, float16 or float32".to_owned(),
            });
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(json: Value) -> Result<ModelConfig, ModelError> {
        ModelConfig::parse(Path::new("config.json"), &json.to_string())
    }

    fn llama() -> Value {
        serde_json::json!({
            "architectures": ["LlamaForCausalLM"], "model_type": "llama", "hidden_size": 64,
            "intermediate_size": 128, "num_hidden_layers": 2, "num_attention_heads": 4,
            "num_key_value_heads": 2, "hidden_act": "silu", "max_position_embeddings": 256,
            "vocab_size": 100, "torch_dtype": "bfloat16", "transformers_version": "4.55.4"
        })
    }

    #[test]
    fn every_key_a_family_reads_is_a_field_of_the_raw_config() {
        // A key listed as read but missing from RawConfig would pass the key check and then
        // be dropped silently; serde_ignored reports exactly the keys RawConfig drops.
        // `architectures`, `rope_scaling` and `sliding_window` are read from the map instead.
        let read_from_the_map = ["architectures", "rope_scaling", "sliding_window"];
        let mut json = llama();
        let value_of = |key: &str| -> Value {
            match key {
                "attention_bias" | "mlp_bias" | "use_sliding_window" | "tie_word_embeddings" => {
                    false.into()
                }
                "layer_types" => serde_json::json!(["full_attention"]),
                "rms_norm_eps" | "rope_theta" => 1e4.into(),
                "dtype" => "float32".into(),
                _ => 4.into(),
            }
        };
        let read: Vec<&str> = Architecture::ALL
            .iter()
            .flat_map(|a| a.own_keys().iter())
            .chain(family::COMMON_KEYS)
            .copied()
            .collect();
        for &key in &read {
            if json.get(key).is_none() {
                json[key] = value_of(key);
            }
        }
        let text = json.to_string();
        let de = &mut serde_json::Deserializer::from_str(&text);
        let mut dropped = Vec::new();
        let _: RawConfig = serde_ignored::deserialize(de, |p| dropped.push(p.to_string())).unwrap();
        dropped.retain(|k| read.contains(&k.as_str()) && !read_from_the_map.contains(&k.as_str()));
        assert!(dropped.is_empty(), "read keys RawConfig drops: {dropped:?}");
    }

    #[test]
    fn unknown_keys_are_refused_by_name() {
        let mut json = llama();
        json["use_sliding_window"] = true.into();
        json["zz_new_feature"] = 1.into();
        let err = parse(json).unwrap_err().to_string();
        assert!(
            err.contains("LlamaForCausalLM") && err.contains("use_sliding_window, zz_new_feature"),
            "{err}"
        );
    }

    #[test]
    fn unknown_architecture_is_refused_by_name() {
        let mut json = llama();
        json["architectures"] = serde_json::json!(["GemmaForCausalLM"]);
        let err = parse(json).unwrap_err().to_string();
        assert!(
            err.contains("\"GemmaForCausalLM\"") && err.contains("Qwen3ForCausalLM"),
            "{err}"
        );
    }

    #[test]
    fn a_missing_required_key_is_named() {
        let mut json = llama();
        json.as_object_mut().unwrap().remove("hidden_size");
        let err = parse(json).unwrap_err().to_string();
        assert!(err.contains("hidden_size"), "{err}");
    }

    #[test]
    fn activation_other_than_silu_is_refused() {
        let mut json = llama();
        json["hidden_act"] = "gelu".into();
        let err = parse(json).unwrap_err().to_string();
        assert!(err.contains("hidden_act") && err.contains("gelu"), "{err}");
    }

    #[test]
    fn dtype_is_read_from_either_key() {
        let mut json = llama();
        json.as_object_mut().unwrap().remove("torch_dtype");
        json["dtype"] = "float16".into();
        assert_eq!(parse(json).unwrap().dtype, Some(ConfigDtype::F16));
    }

    #[test]
    fn mistral_windows_every_layer_4096_by_default_and_keeps_its_context() {
        let mut json = llama();
        json["architectures"] = serde_json::json!(["MistralForCausalLM"]);
        json["model_type"] = "mistral".into();
        json["max_position_embeddings"] = 32768.into();
        let config = parse(json.clone()).unwrap();
        let local = config.local_attention.as_ref().unwrap();
        assert_eq!((local.window, &local.layers[..]), (4096, &[true, true][..]));
        assert_eq!(config.context(), 32768);
        json["sliding_window"] = Value::Null;
        assert_eq!(parse(json).unwrap().local_attention, None);
    }

    fn qwen2() -> Value {
        let mut json = llama();
        json["architectures"] = serde_json::json!(["Qwen2ForCausalLM"]);
        json["model_type"] = "qwen2".into();
        json["num_hidden_layers"] = 4.into();
        json["sliding_window"] = 64.into();
        json
    }

    #[test]
    fn qwen_windows_only_with_use_sliding_window_from_max_window_layers_or_by_layer_type() {
        let local = |json: Value| parse(json).unwrap().local_attention.map(|l| l.layers);
        let mut json = qwen2();
        assert_eq!(local(json.clone()), None);
        json["use_sliding_window"] = true.into();
        json["max_window_layers"] = 2.into();
        assert_eq!(local(json.clone()), Some(vec![false, false, true, true]));
        json["layer_types"] = serde_json::json!([
            "sliding_attention",
            "full_attention",
            "full_attention",
            "sliding_attention"
        ]);
        assert_eq!(local(json.clone()), Some(vec![true, false, false, true]));
        json["layer_types"] = serde_json::json!(["sliding_attention"]);
        let err = parse(json).unwrap_err().to_string();
        assert!(
            err.contains("layer_types") && err.contains("4 layers"),
            "{err}"
        );
    }
}
