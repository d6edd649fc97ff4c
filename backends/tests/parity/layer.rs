//! A whole decoder layer and a whole tiny model, written once over `B: Backend` and run on
//! the CPU and on Vulkan: logits and every KV byte identical.
//!
//! The model is Qwen2-shaped (q/k/v biases, rotate-half RoPE, GQA, SwiGLU, tied
//! embedding) at a tiny size with odd dimensions; the device run prefills in chunks and
//! decodes one token at a time, the CPU run prefills everything at once, so the test also
//! holds the device to the chunking invariance.

use fak_backends::{
    Backend, BackendError, BackendFn, HostMatrix, KV_BLOCK_TOKENS, KvLayout, WeightDtype,
};
use fak_ops::{
    AttentionConfig, NormWeight, RmsNormParams, RopeLayout, RopeTable, inv_freq_from_base,
};

use fak_backends::parity::Rng;

use crate::common::{assert_mostly_finite, assert_same_bits, compare, vulkan};

const HIDDEN: usize = 70;
const N_HEADS: usize = 7;
const N_KV_HEADS: usize = 1;
const HEAD_DIM: usize = 10;
const FFN: usize = 97;
const VOCAB: usize = 131;
const LAYERS: usize = 2;
const NORM: RmsNormParams = RmsNormParams {
    eps: 1.0e-6,
    weight: NormWeight::Scale,
};

/// Host weights of one layer.
#[derive(Clone)]
struct LayerWeights {
    attn_norm: Vec<f32>,
    wq: HostMatrix,
    wk: HostMatrix,
    wv: HostMatrix,
    bq: Vec<f32>,
    bk: Vec<f32>,
    bv: Vec<f32>,
    wo: HostMatrix,
    mlp_norm: Vec<f32>,
    gate: HostMatrix,
    up: HostMatrix,
    down: HostMatrix,
}

impl LayerWeights {
    fn random(rng: &mut Rng, dtype: WeightDtype) -> Self {
        let q = N_HEADS * HEAD_DIM;
        let kv = N_KV_HEADS * HEAD_DIM;
        // Ordinary values at a scale that keeps activations O(1): this test is about a
        // realistic forward pass, the op tests cover edge values.
        let matrix = |rng: &mut Rng, rows, cols: usize| {
            rng.matrix(dtype, rows, cols, 1.5 / (cols as f32).sqrt(), u64::MAX)
                .unwrap()
        };
        Self {
            attn_norm: rng
                .values(HIDDEN, 1.0)
                .iter()
                .map(|v| 1.0 + 0.2 * v)
                .collect(),
            wq: matrix(rng, q, HIDDEN),
            wk: matrix(rng, kv, HIDDEN),
            wv: matrix(rng, kv, HIDDEN),
            bq: rng.values(q, 0.5),
            bk: rng.values(kv, 0.5),
            bv: rng.values(kv, 0.5),
            wo: matrix(rng, HIDDEN, q),
            mlp_norm: rng
                .values(HIDDEN, 1.0)
                .iter()
                .map(|v| 1.0 + 0.2 * v)
                .collect(),
            gate: matrix(rng, FFN, HIDDEN),
            up: matrix(rng, FFN, HIDDEN),
            down: matrix(rng, HIDDEN, FFN),
        }
    }
}

/// One layer's weights on a backend.
struct Layer<B: Backend> {
    attn_norm: B::Tensor,
    wq: B::Matrix,
    wk: B::Matrix,
    wv: B::Matrix,
    bq: B::Tensor,
    bk: B::Tensor,
    bv: B::Tensor,
    wo: B::Matrix,
    mlp_norm: B::Tensor,
    gate: B::Matrix,
    up: B::Matrix,
    down: B::Matrix,
}

impl<B: Backend> Layer<B> {
    fn load(b: &B, w: &LayerWeights) -> Result<Self, BackendError> {
        Ok(Self {
            attn_norm: b.upload(&w.attn_norm)?,
            wq: b.matrix(&w.wq)?,
            wk: b.matrix(&w.wk)?,
            wv: b.matrix(&w.wv)?,
            bq: b.upload(&w.bq)?,
            bk: b.upload(&w.bk)?,
            bv: b.upload(&w.bv)?,
            wo: b.matrix(&w.wo)?,
            mlp_norm: b.upload(&w.mlp_norm)?,
            gate: b.matrix(&w.gate)?,
            up: b.matrix(&w.up)?,
            down: b.matrix(&w.down)?,
        })
    }

    /// `x` (tokens x HIDDEN) through the layer, storing K and V at `positions`.
    fn forward(
        &self,
        b: &B,
        rope: &B::Rope,
        kv: &mut B::Kv,
        block_table: &[u32],
        positions: &[u32],
        x: &mut B::Tensor,
    ) -> Result<(), BackendError> {
        let t = positions.len();
        let config = AttentionConfig {
            n_heads: N_HEADS,
            n_kv_heads: N_KV_HEADS,
            head_dim: HEAD_DIM,
            scale: 1.0 / (HEAD_DIM as f32).sqrt(),
            window: None,
        };
        let mut h = b.zeros(t * HIDDEN)?;
        b.rms_norm(x, &self.attn_norm, NORM, &mut h)?;
        let mut q = b.zeros(t * N_HEADS * HEAD_DIM)?;
        let mut k = b.zeros(t * N_KV_HEADS * HEAD_DIM)?;
        let mut v = b.zeros(t * N_KV_HEADS * HEAD_DIM)?;
        b.matmul(&self.wq, &h, &mut q)?;
        b.matmul(&self.wk, &h, &mut k)?;
        b.matmul(&self.wv, &h, &mut v)?;
        b.add_bias(&mut q, &self.bq)?;
        b.add_bias(&mut k, &self.bk)?;
        b.add_bias(&mut v, &self.bv)?;
        b.rope(rope, RopeLayout::RotateHalf, positions, &mut q, N_HEADS)?;
        b.rope(rope, RopeLayout::RotateHalf, positions, &mut k, N_KV_HEADS)?;
        let slots: Vec<u32> = positions
            .iter()
            .map(|&p| {
                let p = p as usize;
                (block_table[p / KV_BLOCK_TOKENS] as usize * KV_BLOCK_TOKENS + p % KV_BLOCK_TOKENS)
                    as u32
            })
            .collect();
        b.kv_store(kv, &slots, &k, &v)?;
        let mut attn = b.zeros(t * N_HEADS * HEAD_DIM)?;
        b.attention(&config, &q, positions, kv, block_table, &mut attn)?;
        let mut o = b.zeros(t * HIDDEN)?;
        b.matmul(&self.wo, &attn, &mut o)?;
        b.add(x, &o)?;
        b.rms_norm(x, &self.mlp_norm, NORM, &mut h)?;
        let mut g = b.zeros(t * FFN)?;
        let mut u = b.zeros(t * FFN)?;
        b.matmul(&self.gate, &h, &mut g)?;
        b.matmul(&self.up, &h, &mut u)?;
        let mut act = b.zeros(t * FFN)?;
        b.swiglu(&g, &u, &mut act)?;
        b.matmul(&self.down, &act, &mut o)?;
        b.add(x, &o)
    }
}

/// Tokens through embedding, the layers, the final norm and the tied LM head, in the given
/// chunks; the output is every chunk's logits followed by every layer's KV rows, as bits.
#[derive(Clone)]
struct TinyModel {
    embedding: HostMatrix,
    layers: Vec<LayerWeights>,
    final_norm: Vec<f32>,
    tokens: Vec<u32>,
    chunks: Vec<usize>,
    block_table: Vec<u32>,
}

impl BackendFn for TinyModel {
    type Output = Result<Vec<u32>, BackendError>;
    fn run<B: Backend>(self, b: &B) -> Self::Output {
        let embedding = b.matrix(&self.embedding)?;
        let layers = self
            .layers
            .iter()
            .map(|w| Layer::load(b, w))
            .collect::<Result<Vec<_>, _>>()?;
        let final_norm = b.upload(&self.final_norm)?;
        let table = RopeTable::new(&inv_freq_from_base(1.0e6, HEAD_DIM).unwrap(), 256).unwrap();
        let rope = b.rope_table(&table)?;
        let layout = KvLayout {
            blocks: self.block_table.iter().max().map_or(1, |&m| m as usize + 1),
            n_kv_heads: N_KV_HEADS,
            head_dim: HEAD_DIM,
        };
        let mut caches = (0..LAYERS)
            .map(|_| b.kv_alloc(layout))
            .collect::<Result<Vec<_>, _>>()?;
        let mut out = Vec::new();
        let mut start = 0;
        for &len in &self.chunks {
            let positions: Vec<u32> = (start as u32..(start + len) as u32).collect();
            let mut x = b.zeros(len * HIDDEN)?;
            b.embed(&embedding, &self.tokens[start..start + len], &mut x)?;
            for (layer, kv) in layers.iter().zip(&mut caches) {
                layer.forward(b, &rope, kv, &self.block_table, &positions, &mut x)?;
            }
            let mut h = b.zeros(len * HIDDEN)?;
            b.rms_norm(&x, &final_norm, NORM, &mut h)?;
            let mut logits = b.zeros(len * VOCAB)?;
            b.matmul(&embedding, &h, &mut logits)?;
            out.extend(b.download(&logits)?.iter().map(|v| v.to_bits()));
            start += len;
        }
        let slots: Vec<u32> = (0..layout.slots() as u32).collect();
        for kv in &caches {
            let rows = b.kv_read(kv, &slots)?;
            out.extend(rows.k.iter().chain(&rows.v).map(|&h| u32::from(h)));
        }
        Ok(out)
    }
}

fn tiny_model(seed: u64, dtype: WeightDtype, chunks: Vec<usize>) -> TinyModel {
    let mut rng = Rng::new(seed);
    let tokens_len: usize = chunks.iter().sum();
    TinyModel {
        embedding: rng.matrix(dtype, VOCAB, HIDDEN, 1.0, u64::MAX).unwrap(),
        layers: (0..LAYERS)
            .map(|_| LayerWeights::random(&mut rng, dtype))
            .collect(),
        final_norm: rng
            .values(HIDDEN, 1.0)
            .iter()
            .map(|v| 1.0 + 0.2 * v)
            .collect(),
        tokens: rng.tokens(tokens_len, VOCAB),
        chunks,
        // Three logical blocks in physical blocks 4, 1, 2 of a five-block pool.
        block_table: vec![4, 1, 2],
    }
}

#[test]
fn decoder_layer_on_vulkan_is_byte_identical_to_cpu() {
    if vulkan().is_none() {
        return;
    }
    for dtype in [WeightDtype::Bf16, WeightDtype::F32] {
        let mut model = tiny_model(41, dtype, vec![37]);
        model.layers.truncate(1);
        let what = format!("one decoder layer, {dtype:?} weights");
        if let Some(out) = compare(&what, model) {
            assert_mostly_finite(&what, &out[..37 * VOCAB]);
        }
    }
}

#[test]
fn tiny_model_chunked_prefill_and_decode_on_vulkan_equal_cpu_prefill() {
    let Some(device) = vulkan() else { return };
    let whole = tiny_model(42, WeightDtype::Bf16, vec![70]);
    let chunked = TinyModel {
        chunks: vec![20, 17, 30, 1, 1, 1],
        ..whole.clone()
    };
    // Same bits per chunk call on both backends...
    let logits = compare("tiny model in chunks", chunked.clone()).unwrap();
    assert_mostly_finite("tiny model logits", &logits[..70 * VOCAB]);
    // ...and the device's chunked run holds the bits of the CPU's single prefill: the
    // logits of every position (in order) and every KV byte.
    let reference = whole.run(&crate::common::cpu()).unwrap();
    let got = chunked.run(device).unwrap();
    assert_same_bits("chunked device run vs whole cpu prefill", &reference, &got);
}
