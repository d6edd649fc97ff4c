//! The weights of a Llama-family model, taken from the checkpoint by their own names.
//!
//! Each struct mirrors a module of the Hugging Face checkpoint, so every tensor maps to one
//! line of [`Weights::load`]. Matrices stay in their stored dtype (the CPU backend reads the
//! memory map itself); norm weights and biases are widened to f32 once, here.

use fak_backends::Backend;

use crate::checkpoint::Checkpoint;
use crate::{ModelConfig, ModelError};

/// A projection `y = W x (+ b)`.
#[derive(Debug)]
pub(crate) struct Linear<B: Backend> {
    pub weight: B::Matrix,
    pub bias: Option<B::Tensor>,
}

impl<B: Backend> Linear<B> {
    /// `{prefix}.weight` (`rows x cols`) and, if `bias`, `{prefix}.bias` (`rows`).
    fn load(
        backend: &B,
        checkpoint: &mut Checkpoint,
        prefix: &str,
        (rows, cols): (usize, usize),
        bias: bool,
    ) -> Result<Self, ModelError> {
        let weight =
            backend.matrix(&checkpoint.matrix(&format!("{prefix}.weight"), rows, cols)?)?;
        let bias = if bias {
            Some(backend.upload(&checkpoint.vector(&format!("{prefix}.bias"), rows)?)?)
        } else {
            None
        };
        Ok(Self { weight, bias })
    }

    /// `out = W x (+ b)` for every row of `x`.
    pub fn apply(&self, backend: &B, x: &B::Tensor, out: &mut B::Tensor) -> Result<(), ModelError> {
        backend.matmul(&self.weight, x, out)?;
        if let Some(bias) = &self.bias {
            backend.add_bias(out, bias)?;
        }
        Ok(())
    }
}

/// `model.layers.{i}`.
#[derive(Debug)]
pub(crate) struct Layer<B: Backend> {
    /// Before attention: `input_layernorm`.
    pub attn_norm: B::Tensor,
    pub q_proj: Linear<B>,
    pub k_proj: Linear<B>,
    pub v_proj: Linear<B>,
    pub o_proj: Linear<B>,
    /// Qwen3's per-head RMSNorm of queries and keys (`head_dim` weights each).
    pub q_norm: Option<B::Tensor>,
    pub k_norm: Option<B::Tensor>,
    /// On the attention output, with sandwich norms: Gemma's `post_attention_layernorm`.
    pub attn_out_norm: Option<B::Tensor>,
    /// Before the MLP: Llama's `post_attention_layernorm`, Gemma's
    /// `pre_feedforward_layernorm` (the same place under two names).
    pub mlp_norm: B::Tensor,
    /// On the MLP output, with sandwich norms: `post_feedforward_layernorm`.
    pub mlp_out_norm: Option<B::Tensor>,
    pub gate_proj: Linear<B>,
    pub up_proj: Linear<B>,
    pub down_proj: Linear<B>,
}

/// The whole model's weights.
#[derive(Debug)]
pub(crate) struct Weights<B: Backend> {
    /// `model.embed_tokens.weight`, `vocab x hidden`.
    pub embed_tokens: B::Matrix,
    pub layers: Vec<Layer<B>>,
    /// `model.norm.weight`.
    pub norm: B::Tensor,
    /// `lm_head.weight`; `None` when tied to the embeddings.
    pub lm_head: Option<B::Matrix>,
}

impl<B: Backend> Weights<B> {
    /// Takes every tensor `config` implies from `checkpoint`, and refuses a checkpoint with
    /// tensors left over.
    pub fn load(
        backend: &B,
        checkpoint: &mut Checkpoint,
        config: &ModelConfig,
    ) -> Result<Self, ModelError> {
        let c = config;
        let (hidden, q_dim, kv_dim, mlp) =
            (c.hidden_size, c.q_dim(), c.kv_dim(), c.intermediate_size);
        let norm = |checkpoint: &mut Checkpoint, name: &str, len: usize| {
            Ok::<_, ModelError>(backend.upload(&checkpoint.vector(name, len)?)?)
        };
        let embed_tokens = backend.matrix(&checkpoint.matrix(
            "model.embed_tokens.weight",
            c.vocab_size,
            hidden,
        )?)?;
        let mut layers = Vec::with_capacity(c.num_layers);
        for i in 0..c.num_layers {
            let p = format!("model.layers.{i}");
            let attn = format!("{p}.self_attn");
            let linear = |checkpoint: &mut Checkpoint, name: &str, shape, bias| {
                Linear::load(backend, checkpoint, name, shape, bias)
            };
            let sandwich = |checkpoint: &mut Checkpoint, name: &str| {
                c.sandwich_norms
                    .then(|| norm(checkpoint, &format!("{p}.{name}.weight"), hidden))
                    .transpose()
            };
            let mlp_norm = if c.sandwich_norms {
                "pre_feedforward_layernorm"
            } else {
                "post_attention_layernorm"
            };
            layers.push(Layer {
                attn_norm: norm(checkpoint, &format!("{p}.input_layernorm.weight"), hidden)?,
                q_proj: linear(
                    checkpoint,
                    &format!("{attn}.q_proj"),
                    (q_dim, hidden),
                    c.qkv_bias,
                )?,
                k_proj: linear(
                    checkpoint,
                    &format!("{attn}.k_proj"),
                    (kv_dim, hidden),
                    c.qkv_bias,
                )?,
                v_proj: linear(
                    checkpoint,
                    &format!("{attn}.v_proj"),
                    (kv_dim, hidden),
                    c.qkv_bias,
                )?,
                o_proj: linear(
                    checkpoint,
                    &format!("{attn}.o_proj"),
                    (hidden, q_dim),
                    c.o_bias,
                )?,
                q_norm: c
                    .qk_norm
                    .then(|| norm(checkpoint, &format!("{attn}.q_norm.weight"), c.head_dim))
                    .transpose()?,
                k_norm: c
                    .qk_norm
                    .then(|| norm(checkpoint, &format!("{attn}.k_norm.weight"), c.head_dim))
                    .transpose()?,
                attn_out_norm: sandwich(checkpoint, "post_attention_layernorm")?,
                mlp_norm: norm(checkpoint, &format!("{p}.{mlp_norm}.weight"), hidden)?,
                mlp_out_norm: sandwich(checkpoint, "post_feedforward_layernorm")?,
                gate_proj: linear(
                    checkpoint,
                    &format!("{p}.mlp.gate_proj"),
                    (mlp, hidden),
                    c.mlp_bias,
                )?,
                up_proj: linear(
                    checkpoint,
                    &format!("{p}.mlp.up_proj"),
                    (mlp, hidden),
                    c.mlp_bias,
                )?,
                down_proj: linear(
                    checkpoint,
                    &format!("{p}.mlp.down_proj"),
                    (hidden, mlp),
                    c.mlp_bias,
                )?,
            });
        }
        let weights = Self {
            embed_tokens,
            layers,
            norm: norm(checkpoint, "model.norm.weight", hidden)?,
            lm_head: if c.tie_word_embeddings {
                None
            } else {
                Some(backend.matrix(&checkpoint.matrix(
                    "lm_head.weight",
                    c.vocab_size,
                    hidden,
                )?)?)
            },
        };
        // Tied checkpoints sometimes still carry the (ignored) output matrix, and old ones
        // the RoPE frequencies as a buffer; neither is a weight this config misses.
        checkpoint.finish(|name| {
            (c.tie_word_embeddings && name == "lm_head.weight")
                || name.ends_with(".self_attn.rotary_emb.inv_freq")
        })?;
        Ok(weights)
    }

    /// The output projection: `lm_head`, or the embeddings when tied.
    pub fn output(&self) -> &B::Matrix {
        self.lm_head.as_ref().unwrap_or(&self.embed_tokens)
    }
}
