//! The forward pass: one function for a prefill chunk and for a decoded token, written once
//! against [`Backend`] so it runs unchanged on every backend.
//!
//! Per layer (pre-norm Llama block, with the family switches of [`crate::ModelConfig`]):
//! `h = rms_norm(x)`; `q, k, v = proj(h) (+ bias)`; Qwen3 and Gemma 3 normalise every q and
//! k head; RoPE (rotate-half pairs, the HF layout) on q and k, from the layer's table (Gemma
//! 3's local layers have their own); k and v are stored through the [`KvCache`]; attention
//! over the cached positions (a local layer's window of them); `x += o_proj(attn)`;
//! `x += down(act(gate(h')) * up(h'))` with `h' = rms_norm(x)` and `act` SiLU or GELU.
//! With sandwich norms (Gemma 3) each of the two outputs is normalised before it is added.
//! Gemma also scales the embeddings. Finally the norm and the output projection, only for
//! the rows whose logits are asked for; the last layer, once its keys and values are stored,
//! goes on with those rows only.

use fak_backends::Backend;
use fak_ops::RopeLayout;

use crate::kv_cache::{KvCache, KvLayer};
use crate::{MlpActivation, Model, ModelConfig, ModelError};

/// Which positions of a forward call get logits. Rows that are not asked for skip the final
/// norm and the output projection (the largest matmul of a small model).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Logits {
    /// None: the call only fills the cache (a prefill chunk that is not the last).
    None,
    /// The last token's (to pick the next token).
    Last,
    /// Every token's (for comparisons with a reference).
    All,
}

/// The activation buffers of a forward call, kept between calls so decoding allocates no
/// new buffers per token. Resized when the number of tokens per call changes.
#[derive(Debug)]
pub struct Activations<B: Backend> {
    buffers: Option<Buffers<B>>,
    /// The last layer's buffers for the rows that reach the logits, when fewer than all.
    kept: Option<Buffers<B>>,
    positions: Vec<u32>,
}

#[derive(Debug)]
struct Buffers<B: Backend> {
    tokens: usize,
    /// The residual stream, `tokens x hidden`.
    x: B::Tensor,
    normed: B::Tensor,
    q: B::Tensor,
    k: B::Tensor,
    v: B::Tensor,
    /// Attention output, `tokens x q_dim`; also the scratch of Qwen3's query norm.
    attn: B::Tensor,
    /// Scratch of Qwen3's key norm, `tokens x kv_dim`.
    k_normed: B::Tensor,
    /// Output of o_proj and down_proj, `tokens x hidden`.
    out: B::Tensor,
    gate: B::Tensor,
    up: B::Tensor,
    mlp: B::Tensor,
    /// Final-norm rows and their logits, for the last row-count asked for.
    logits: Option<(usize, B::Tensor, B::Tensor)>,
}

impl<B: Backend> Default for Activations<B> {
    fn default() -> Self {
        Self::new()
    }
}

impl<B: Backend> Activations<B> {
    /// No buffers yet; the first forward call allocates them.
    pub fn new() -> Self {
        Self {
            buffers: None,
            kept: None,
            positions: Vec::new(),
        }
    }
}

impl<B: Backend> Buffers<B> {
    fn new(backend: &B, c: &ModelConfig, tokens: usize) -> Result<Self, ModelError> {
        let zeros = |per_token: usize| backend.zeros(tokens * per_token);
        Ok(Self {
            tokens,
            x: zeros(c.hidden_size)?,
            normed: zeros(c.hidden_size)?,
            q: zeros(c.q_dim())?,
            k: zeros(c.kv_dim())?,
            v: zeros(c.kv_dim())?,
            attn: zeros(c.q_dim())?,
            k_normed: zeros(c.kv_dim())?,
            out: zeros(c.hidden_size)?,
            gate: zeros(c.intermediate_size)?,
            up: zeros(c.intermediate_size)?,
            mlp: zeros(c.intermediate_size)?,
            logits: None,
        })
    }
}

impl<B: Backend> Model<B> {
    /// Runs `tokens` at the positions after the ones `kv` holds, stores their keys and values
    /// in `kv`, and returns the logits of the rows `logits` asks for, `[row][vocab_size]`.
    ///
    /// The result depends only on the token sequence: a prompt sent at once, in chunks, or
    /// one token at a time gives the same bits (the ops' determinism contract).
    pub fn forward(
        &self,
        activations: &mut Activations<B>,
        kv: &mut impl KvCache<B>,
        tokens: &[u32],
        logits: Logits,
    ) -> Result<Vec<f32>, ModelError> {
        let (b, c) = (&*self.backend, &self.config);
        let n = tokens.len();
        if n == 0 {
            return Err(ModelError::InvalidParam {
                param: "tokens",
                value: "[]".to_owned(),
                reason: "a forward call needs at least one token",
            });
        }
        if let Some(&id) = tokens.iter().find(|&&t| t as usize >= c.vocab_size) {
            return Err(ModelError::TokenOutOfRange {
                id,
                vocab: c.vocab_size,
            });
        }
        let start = kv.len();
        if start + n > self.context {
            return Err(ModelError::ContextExceeded {
                start,
                end: start + n,
                context: self.context,
            });
        }
        kv.reserve(b, tokens)?;
        let positions = &mut activations.positions;
        positions.clear();
        // Positions fit u32: the context was checked against the RoPE table, which is capped
        // far below u32::MAX.
        positions.extend((start..start + n).map(|p| p as u32));
        let a = match &mut activations.buffers {
            Some(a) if a.tokens == n => a,
            slot => slot.insert(Buffers::new(b, c, n)?),
        };

        b.embed(&self.weights.embed_tokens, tokens, &mut a.x)?;
        if let Some(factor) = c.embedding_scale {
            b.scale(&mut a.x, factor)?;
        }
        let rows = match logits {
            Logits::None => 0,
            Logits::Last => 1,
            Logits::All => n,
        };
        let last_layer = self.weights.layers.len() - 1;
        for (i, layer) in self.weights.layers.iter().enumerate() {
            b.rms_norm(&a.x, &layer.attn_norm, self.norm, &mut a.normed)?;
            layer.k_proj.apply(b, &a.normed, &mut a.k)?;
            layer.v_proj.apply(b, &a.normed, &mut a.v)?;
            if let Some(k_norm) = &layer.k_norm {
                // rms_norm normalises each row of the weight's length: here every head.
                b.rms_norm(&a.k, k_norm, self.norm, &mut a.k_normed)?;
                std::mem::swap(&mut a.k, &mut a.k_normed);
            }
            let (rope, _) = self.layer_attention(i);
            b.rope(
                rope,
                RopeLayout::RotateHalf,
                positions,
                &mut a.k,
                c.num_kv_heads,
            )?;
            let cache = kv.layer(i)?;
            b.kv_store(cache.pool, cache.slots, &a.k, &a.v)?;
            if i < last_layer || rows == n {
                self.attend_and_mlp(i, a, positions, &cache)?;
                continue;
            }
            // Past the last layer's keys and values, only the rows whose logits are asked
            // for are needed: the others' queries, attention and MLP would be thrown away
            // (every op is row by row, so the kept rows' bits do not change).
            if rows == 0 {
                break;
            }
            let kept = (n - rows) * c.hidden_size..n * c.hidden_size;
            let t = match &mut activations.kept {
                Some(t) if t.tokens == rows => t,
                slot => slot.insert(Buffers::new(b, c, rows)?),
            };
            t.x = b.slice(&a.x, kept.clone())?;
            t.normed = b.slice(&a.normed, kept)?;
            self.attend_and_mlp(i, t, &positions[n - rows..], &cache)?;
        }
        kv.commit()?;
        if rows == 0 {
            return Ok(Vec::new());
        }
        let a = match &mut activations.kept {
            Some(t) if rows < n => t,
            _ => a,
        };
        let (normed, out) = match &mut a.logits {
            Some((r, normed, out)) if *r == rows => (normed, out),
            slot => {
                let (normed, out) = (
                    b.zeros(rows * c.hidden_size)?,
                    b.zeros(rows * c.vocab_size)?,
                );
                let (_, normed, out) = slot.insert((rows, normed, out));
                (normed, out)
            }
        };
        b.rms_norm(&a.x, &self.weights.norm, self.norm, normed)?;
        b.matmul(self.weights.output(), normed, out)?;
        Ok(b.download(out)?)
    }
}

impl<B: Backend> Model<B> {
    /// The rest of layer `i` for the rows of `a` (queries at `positions`), once their keys
    /// and values are in `cache` and `a.normed` holds their attention norm: queries,
    /// attention, output projection and the MLP, each added to the residual `a.x`.
    fn attend_and_mlp(
        &self,
        i: usize,
        a: &mut Buffers<B>,
        positions: &[u32],
        cache: &KvLayer<'_, B>,
    ) -> Result<(), ModelError> {
        let (b, c) = (&*self.backend, &self.config);
        let layer = &self.weights.layers[i];
        let (rope, attention) = self.layer_attention(i);
        layer.q_proj.apply(b, &a.normed, &mut a.q)?;
        if let Some(q_norm) = &layer.q_norm {
            b.rms_norm(&a.q, q_norm, self.norm, &mut a.attn)?;
            std::mem::swap(&mut a.q, &mut a.attn);
        }
        b.rope(
            rope,
            RopeLayout::RotateHalf,
            positions,
            &mut a.q,
            c.num_heads,
        )?;
        b.attention(
            attention,
            &a.q,
            positions,
            cache.pool,
            cache.block_table,
            &mut a.attn,
        )?;
        layer.o_proj.apply(b, &a.attn, &mut a.out)?;
        self.add_residual(
            &mut a.x,
            &a.out,
            layer.attn_out_norm.as_ref(),
            &mut a.normed,
        )?;
        b.rms_norm(&a.x, &layer.mlp_norm, self.norm, &mut a.normed)?;
        layer.gate_proj.apply(b, &a.normed, &mut a.gate)?;
        layer.up_proj.apply(b, &a.normed, &mut a.up)?;
        match c.mlp_activation {
            MlpActivation::Silu => b.swiglu(&a.gate, &a.up, &mut a.mlp)?,
            MlpActivation::GeluTanh => b.geglu(&a.gate, &a.up, &mut a.mlp)?,
        }
        layer.down_proj.apply(b, &a.mlp, &mut a.out)?;
        self.add_residual(&mut a.x, &a.out, layer.mlp_out_norm.as_ref(), &mut a.normed)
    }

    /// `x += out`, or with a sandwich norm `x += rms_norm(out)` (`scratch` holds the norm).
    fn add_residual(
        &self,
        x: &mut B::Tensor,
        out: &B::Tensor,
        norm: Option<&B::Tensor>,
        scratch: &mut B::Tensor,
    ) -> Result<(), ModelError> {
        let b = &*self.backend;
        match norm {
            None => b.add(x, out)?,
            Some(weight) => {
                b.rms_norm(out, weight, self.norm, scratch)?;
                b.add(x, scratch)?;
            }
        }
        Ok(())
    }
}
