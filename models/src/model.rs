//! A loaded model: config, weights on a backend, and the RoPE table for its context.

use std::path::Path;
use std::sync::Arc;

use fak_backends::Backend;
use fak_ops::{AttentionConfig, NormWeight, RmsNormParams, RopeTable};
use sha2::{Digest, Sha256};

use crate::checkpoint::Checkpoint;
use crate::gguf::{self, GgufFile};
use crate::weights::Weights;
use crate::{ModelConfig, ModelError, RopeParams};

/// A Llama-family model ready to run on backend `B`. It holds no per-sequence state: the
/// KV cache and the activations are passed to [`Model::forward`].
#[derive(Debug)]
pub struct Model<B: Backend> {
    pub(crate) backend: Arc<B>,
    pub(crate) config: ModelConfig,
    pub(crate) weights: Weights<B>,
    /// The RoPE of global layers (all layers but the local ones).
    pub(crate) rope: B::Rope,
    pub(crate) context: usize,
    /// Attention of global layers: over every cached position.
    pub(crate) attention: AttentionConfig,
    /// RoPE and windowed attention of the local layers, where the config has them.
    pub(crate) local: Option<(B::Rope, AttentionConfig)>,
    pub(crate) norm: RmsNormParams,
    pub(crate) fingerprint: [u8; 32],
}

impl<B: Backend> Model<B> {
    /// Loads `path` for a context of `context` positions (`None`: the whole context the
    /// config allows, [`ModelConfig::context`]). `path` is a Hugging Face directory
    /// (config.json and safetensors weights) or a GGUF file.
    pub fn load(backend: Arc<B>, path: &Path, context: Option<usize>) -> Result<Self, ModelError> {
        if gguf::is_gguf(path) {
            let file = GgufFile::open(path)?;
            let config = ModelConfig::from_gguf(&file)?;
            let mut checkpoint = file.checkpoint()?;
            return Self::from_checkpoint(backend, config, &mut checkpoint, context);
        }
        let config = ModelConfig::from_dir(path)?;
        let mut checkpoint = Checkpoint::open(path)?;
        Self::from_checkpoint(backend, config, &mut checkpoint, context)
    }

    /// A model from a parsed config and an opened checkpoint.
    pub fn from_checkpoint(
        backend: Arc<B>,
        config: ModelConfig,
        checkpoint: &mut Checkpoint,
        context: Option<usize>,
    ) -> Result<Self, ModelError> {
        let context = match context {
            None => config.context(),
            Some(0) => {
                return Err(ModelError::InvalidParam {
                    param: "context",
                    value: "0".to_owned(),
                    reason: "must be at least one position",
                });
            }
            Some(c) if c > config.context() => {
                return Err(ModelError::InvalidParam {
                    param: "context",
                    value: c.to_string(),
                    reason: "exceeds the positions the config allows (max_position_embeddings)",
                });
            }
            Some(c) => c,
        };
        let fingerprint = fingerprint(&config, checkpoint);
        // Hashing read every weight. Every backend copies the packed ones (the CPU lays them
        // out for its kernel, a GPU uploads them), so their pages need not stay resident
        // beside the copies while the rest load.
        checkpoint.release_packed();
        let weights = Weights::load(&*backend, checkpoint, &config)?;
        let rope_table = |params: &RopeParams| -> Result<B::Rope, ModelError> {
            let table = RopeTable::new(&params.inv_freq(config.head_dim)?, context)?;
            Ok(backend.rope_table(&table)?)
        };
        let rope = rope_table(&config.rope)?;
        let attention = AttentionConfig {
            n_heads: config.num_heads,
            n_kv_heads: config.num_kv_heads,
            head_dim: config.head_dim,
            // A host constant: f64 sqrt is correctly rounded, so every machine gets these bits.
            scale: (1.0 / (config.query_pre_attn_scalar as f64).sqrt()) as f32,
            window: None,
        };
        let local = config
            .local_attention
            .as_ref()
            .map(|l| -> Result<_, ModelError> {
                let windowed = AttentionConfig {
                    window: Some(l.window),
                    ..attention
                };
                Ok((rope_table(&l.rope)?, windowed))
            })
            .transpose()?;
        let norm = RmsNormParams {
            eps: config.rms_norm_eps,
            weight: NormWeight::Scale,
        };
        Ok(Self {
            backend,
            config,
            weights,
            rope,
            context,
            attention,
            local,
            norm,
            fingerprint,
        })
    }

    pub fn config(&self) -> &ModelConfig {
        &self.config
    }

    pub fn backend(&self) -> &Arc<B> {
        &self.backend
    }

    /// What a KV cache's bytes depend on: the parsed config and the weights (see
    /// [`Checkpoint::fingerprint`]). Caches and dumps of different models never mix.
    pub fn fingerprint(&self) -> [u8; 32] {
        self.fingerprint
    }

    /// Positions this model was loaded for: a sequence may hold at most this many tokens.
    pub fn context(&self) -> usize {
        self.context
    }

    /// The RoPE table and attention of layer `layer`: local (windowed) or global.
    pub(crate) fn layer_attention(&self, layer: usize) -> (&B::Rope, &AttentionConfig) {
        match (&self.local, &self.config.local_attention) {
            (Some((rope, attention)), Some(l)) if l.is_local(layer) => (rope, attention),
            _ => (&self.rope, &self.attention),
        }
    }
}

/// SHA-256 of the config as this build parsed it and of the checkpoint's weights. The
/// config's `Debug` form covers every field the forward pass reads (RoPE scaling, norms,
/// biases), so a change of any of them changes the fingerprint.
fn fingerprint(config: &ModelConfig, checkpoint: &Checkpoint) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update(b"fak-model/v1\0");
    h.update(format!("{config:?}").as_bytes());
    h.update(checkpoint.fingerprint());
    h.finalize().into()
}
