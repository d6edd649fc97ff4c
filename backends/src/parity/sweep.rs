//! The op sweeps: for each op, the shapes and values the backends are held to the CPU on.
//! The parity test suite and `harness verify` run these same cases.

use fak_ops::{NormWeight, QUANT_BLOCK, RmsNormParams, RopeLayout, RopeTable, inv_freq_from_base};

use super::{
    Attention, Elementwise, Embed, KvRowOps, Matmul, OpCase, ParityCase, RmsNorm, Rng, Rope,
};
use crate::{BackendError, KvLayout, WeightDtype};

/// Sizes below, at and above one 32-lane chunk, odd ones, and Qwen2.5-0.5B's hidden size.
pub const DIMS: [usize; 7] = [1, 7, 31, 32, 33, 97, 896];

/// One op's sweep of cases.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OpSweep {
    /// Matrix products of one weight type over [`DIMS`] (packed types: rows of 1 to 64
    /// chunks), with edge values (packed types: in their f16 scales, and activation blocks
    /// that int8 quantization treats apart).
    Matmul(WeightDtype),
    /// Embedding gather for every weight type.
    Embed,
    /// RMSNorm in both weight styles, with a row of zeros.
    RmsNorm,
    /// Residual add, bias add, SwiGLU, slicing, GeGLU and scaling.
    Elementwise,
    /// RoPE in both layouts, positions up to 4095.
    Rope,
    /// KV stores (odd row lengths, a slot written twice), moves (a chain, a swap), reads
    /// and writes.
    KvRows,
    /// Attention for GQA ratios 1, 2 and 7, head sizes 5, 32, 64, contexts around the
    /// 32-key block.
    Attention,
    /// Attention with head sizes of 128 (Llama) and 256 (Gemma 3): several value tiles.
    AttentionWideHeads,
    /// Attention sent in chunks and one query at a time, held to the CPU's single call.
    AttentionChunked,
    /// Sliding-window attention: windows of one key, inside a block, of whole blocks, not a
    /// multiple of 32, equal to and wider than the context; prefilled at once, in chunks and
    /// one query at a time (held to the CPU's single call); Gemma 3's head size.
    AttentionWindowed,
}

impl OpSweep {
    /// Every sweep, in report order.
    pub const ALL: [OpSweep; 16] = [
        Self::Matmul(WeightDtype::Bf16),
        Self::Matmul(WeightDtype::F16),
        Self::Matmul(WeightDtype::F32),
        Self::Matmul(WeightDtype::Q8_0),
        Self::Matmul(WeightDtype::Q5_0),
        Self::Matmul(WeightDtype::Q4K),
        Self::Matmul(WeightDtype::Q6K),
        Self::Embed,
        Self::RmsNorm,
        Self::Elementwise,
        Self::Rope,
        Self::KvRows,
        Self::Attention,
        Self::AttentionWideHeads,
        Self::AttentionChunked,
        Self::AttentionWindowed,
    ];

    /// The name reports use.
    pub fn name(self) -> &'static str {
        match self {
            Self::Matmul(WeightDtype::Bf16) => "matmul bf16",
            Self::Matmul(WeightDtype::F16) => "matmul f16",
            Self::Matmul(WeightDtype::F32) => "matmul f32",
            Self::Matmul(WeightDtype::Q8_0) => "matmul q8_0",
            Self::Matmul(WeightDtype::Q5_0) => "matmul q5_0",
            Self::Matmul(WeightDtype::Q4K) => "matmul q4_k",
            Self::Matmul(WeightDtype::Q6K) => "matmul q6_k",
            Self::Embed => "embed",
            Self::RmsNorm => "rms_norm",
            Self::Elementwise => "add, add_bias, swiglu, slice, geglu, scale",
            Self::Rope => "rope",
            Self::KvRows => "kv store, copy, read, write",
            Self::Attention => "attention",
            Self::AttentionWideHeads => "attention, head_dim 128 and 256",
            Self::AttentionChunked => "attention in chunks vs one call",
            Self::AttentionWindowed => "attention, sliding window",
        }
    }

    /// The sweep's cases, drawn from a fixed seed: the same on every run.
    pub fn cases(self) -> Result<Vec<ParityCase<OpCase>>, BackendError> {
        match self {
            Self::Matmul(dtype) => matmul(dtype),
            Self::Embed => embed(),
            Self::RmsNorm => rms_norm(),
            Self::Elementwise => Ok(elementwise()),
            Self::Rope => rope(),
            Self::KvRows => Ok(kv_rows()),
            Self::Attention => Ok(attention()),
            Self::AttentionWideHeads => Ok(attention_wide_heads()),
            Self::AttentionChunked => Ok(attention_chunked()),
            Self::AttentionWindowed => Ok(attention_windowed()),
        }
    }
}

fn matmul(dtype: WeightDtype) -> Result<Vec<ParityCase<OpCase>>, BackendError> {
    let mut rng = Rng::new(11 + dtype as u64);
    let mut cases = Vec::new();
    // Packed rows are whole blocks: one, a few, and the widths of Gemma 3 270M's layers
    // (640 and 2048: 20 and 64 chunks of 32, more than the 16 lanes chunks go to).
    let dims: &[usize] = match dtype.block().0 {
        1 => &DIMS,
        32 => &[32, 96, 640],
        _ => &[256, 768, 2048],
    };
    for &cols in dims {
        for (rows, tokens) in [(1, 1), (9, 3), (33, 2)] {
            // About one edge value per eight rows and per eight tokens: most outputs stay
            // finite, some meet ±0, denormals, infinities and NaN. Packed weights take
            // their edges in the f16 scales, about one per four rows (Q4_K's two per block
            // twice that).
            let every = 8 * cols as u64 + 32;
            let w = if dtype.is_packed() {
                let scales_per_row = (cols / dtype.block().0) as u64;
                rng.matrix(dtype, rows, cols, 2.0, 4 * scales_per_row)?
            } else {
                rng.matrix(dtype, rows, cols, 2.0, every)?
            };
            let mut x = rng.values_with_edges(tokens * cols, 4.0, 4 * every);
            if dtype.is_packed() {
                // Only the three-token case poisons a token: most outputs stay finite.
                plant_activation_blocks(&mut x, cols, tokens == 3, &mut rng);
            }
            cases.push(ParityCase::same(
                format!("matmul {dtype:?} {rows}x{cols}, {tokens} tokens"),
                OpCase::Matmul(Matmul { w, x }),
            ));
        }
    }
    Ok(cases)
}

/// Makes every third 32-value block of `x` (token rows of `cols`) one that int8
/// activations treat apart (DETERMINISM.md §3b), the kinds in turn: all zero; below the
/// factor domain but for one value at its least magnitude (the smallest scale); near 2^64
/// (the largest); limbs that tie or clamp. With `poison`, the second token's first block
/// holds a value the domain makes NaN, which poisons that token's every output.
fn plant_activation_blocks(x: &mut [f32], cols: usize, poison: bool, rng: &mut Rng) {
    for (b, block) in x.chunks_exact_mut(QUANT_BLOCK).enumerate() {
        if poison && b == cols / QUANT_BLOCK {
            let at = (rng.next_u64() % QUANT_BLOCK as u64) as usize;
            block[at] = [f32::INFINITY, f32::NEG_INFINITY, f32::NAN, 2.0f32.powi(64)]
                [(rng.next_u64() % 4) as usize];
        } else if b % 3 == 1 {
            edge_block(block, b / 3 % 4);
        }
    }
}

/// Block kind `kind` of [`plant_activation_blocks`], over random values in ±4.
fn edge_block(block: &mut [f32], kind: usize) {
    match kind {
        0 => {
            for (i, v) in block.iter_mut().enumerate() {
                *v = if i % 2 == 0 { 0.0 } else { -0.0 };
            }
        }
        1 => {
            for (i, v) in block.iter_mut().enumerate() {
                *v = [1.0e-13, -1.0e-30, f32::from_bits(1), -0.0][i % 4];
            }
            block[7] = -(2.0f32.powi(-40));
        }
        2 => {
            for v in block.iter_mut() {
                *v *= 2.0f32.powi(61);
            }
            block[0] = 1.99 * 2.0f32.powi(63);
        }
        _ => {
            // The largest magnitude 3.998 = 1.999 * 2: scale 2^-5, so value `r / 32` has
            // `r` as its scaled value. 127.936 rounds to 128 and is clamped (so is its
            // remainder); 2.5, 3.5, -2.5 and 0.5 tie in the high limb, leaving remainders
            // of a half that clamp in the low one; the last three tie in the low limb.
            let r = [
                127.936,
                -127.936,
                2.5,
                3.5,
                -2.5,
                0.5,
                1.0 + 0.5 / 256.0,
                -(2.0 + 1.5 / 256.0),
                1.0 + 255.5 / 256.0,
            ];
            for (v, r) in block.iter_mut().zip(r) {
                *v = r / 32.0;
            }
        }
    }
}

fn embed() -> Result<Vec<ParityCase<OpCase>>, BackendError> {
    let mut rng = Rng::new(13);
    let mut cases = Vec::new();
    for dtype in [
        WeightDtype::Bf16,
        WeightDtype::F16,
        WeightDtype::F32,
        WeightDtype::Q8_0,
        WeightDtype::Q5_0,
        WeightDtype::Q4K,
        WeightDtype::Q6K,
    ] {
        // Packed rows are whole blocks: one and several.
        let dims: &[usize] = match dtype.block().0 {
            1 => &[1, 7, 896],
            32 => &[32, 96],
            _ => &[256, 768],
        };
        for &dim in dims {
            let case = Embed {
                table: rng.matrix(dtype, 50, dim, 2.0, 10)?,
                tokens: vec![3, 49, 0, 3, 17],
            };
            cases.push(ParityCase::same(
                format!("embed {dtype:?} dim {dim}"),
                OpCase::Embed(case),
            ));
        }
    }
    Ok(cases)
}

fn rms_norm() -> Result<Vec<ParityCase<OpCase>>, BackendError> {
    let mut rng = Rng::new(14);
    let mut cases = Vec::new();
    for weight in [NormWeight::Scale, NormWeight::OnePlus] {
        for dim in DIMS {
            for (rows, eps) in [(1, 1.0e-6), (4, 0.0), (3, 1.0e-5)] {
                let mut x = rng.values_with_edges(rows * dim, 8.0, 60);
                // One row of zeros: rsqrt(eps), or +inf times zero when eps is 0.
                x[..dim].fill(0.0);
                let case = RmsNorm {
                    x,
                    weight: rng.values_with_edges(dim, 1.5, 60),
                    params: RmsNormParams { eps, weight },
                };
                cases.push(ParityCase::same(
                    format!("rms_norm {weight:?} {rows}x{dim} eps {eps}"),
                    OpCase::RmsNorm(case),
                ));
            }
        }
    }
    Ok(cases)
}

fn elementwise() -> Vec<ParityCase<OpCase>> {
    let mut rng = Rng::new(15);
    // Scale factors: Gemma 3 270M's sqrt(640), one that makes most products denormal (to
    // be flushed), a negative one and zero.
    [
        (1, 1, 25.298_221),
        (1, 31, 1.0e-37),
        (3, 257, -3.0),
        (2, 4864 + 3, 0.0),
    ]
    .into_iter()
    .map(|(rows, dim, factor)| {
        let case = Elementwise {
            a: rng.values_with_edges(rows * dim, 30.0, 25),
            b: rng.values_with_edges(rows * dim, 30.0, 25),
            bias: rng.values_with_edges(dim, 3.0, 25),
            factor,
        };
        ParityCase::same(
            format!("element-wise ops {rows}x{dim}"),
            OpCase::Elementwise(case),
        )
    })
    .collect()
}

fn rope() -> Result<Vec<ParityCase<OpCase>>, BackendError> {
    let mut rng = Rng::new(16);
    let mut cases = Vec::new();
    for head_dim in [2, 6, 64] {
        let table = RopeTable::new(&inv_freq_from_base(1.0e6, head_dim)?, 4096)?;
        for layout in [RopeLayout::RotateHalf, RopeLayout::Interleaved] {
            for (n_heads, positions) in [(1, vec![0u32]), (14, vec![5, 0, 4095, 33, 1000])] {
                let case = Rope {
                    table: table.clone(),
                    layout,
                    x: rng.values_with_edges(positions.len() * n_heads * head_dim, 6.0, 40),
                    positions,
                    n_heads,
                };
                cases.push(ParityCase::same(
                    format!("rope {layout:?} head_dim {head_dim} x{n_heads}"),
                    OpCase::Rope(case),
                ));
            }
        }
    }
    Ok(cases)
}

fn kv_rows() -> Vec<ParityCase<OpCase>> {
    let mut rng = Rng::new(21);
    [(1, 5), (2, 64), (3, 7)]
        .into_iter()
        .map(|(n_kv_heads, head_dim)| {
            let layout = KvLayout {
                blocks: 3,
                n_kv_heads,
                head_dim,
            };
            let n = layout.row_len();
            // Slot 7 is written twice: the second row must win on every backend.
            let slots = vec![7u32, 0, 95, 33, 7, 64];
            let case = KvRowOps {
                layout,
                k: rng.values_with_edges(slots.len() * n, 5.0, 20),
                v: rng.values_with_edges(slots.len() * n, 5.0, 20),
                slots,
                // A chain (0 -> 1 -> 2), a swap through a spare slot, and a no-op.
                moves: vec![(0, 1), (1, 2), (33, 90), (64, 33), (90, 64), (95, 95)],
                loaded: vec![40, 41, 2, 3],
            };
            ParityCase::same(
                format!("kv rows {n_kv_heads}x{head_dim}"),
                OpCase::KvRows(case),
            )
        })
        .collect()
}

fn attention() -> Vec<ParityCase<OpCase>> {
    let mut rng = Rng::new(31);
    let mut cases = Vec::new();
    for (n_heads, n_kv_heads) in [(2, 2), (4, 2), (14, 2)] {
        for head_dim in [5, 32, 64] {
            for tokens in [1, 31, 33, 70] {
                let case = Attention::random(&mut rng, n_heads, n_kv_heads, head_dim, tokens);
                cases.push(ParityCase::same(
                    format!(
                        "attention {n_heads}/{n_kv_heads} heads, dim {head_dim}, {tokens} tokens"
                    ),
                    OpCase::Attention(case),
                ));
            }
        }
    }
    cases
}

fn attention_wide_heads() -> Vec<ParityCase<OpCase>> {
    let mut rng = Rng::new(33);
    [128, 256]
        .into_iter()
        .map(|head_dim| {
            ParityCase::same(
                format!("attention dim {head_dim}"),
                OpCase::Attention(Attention::random(&mut rng, 4, 1, head_dim, 40)),
            )
        })
        .collect()
}

fn attention_chunked() -> Vec<ParityCase<OpCase>> {
    let whole = Attention::random(&mut Rng::new(32), 14, 2, 64, 100);
    let mut cases = vec![ParityCase::same(
        "attention prefill of 100 tokens",
        OpCase::Attention(whole.clone()),
    )];
    for chunks in [vec![31, 1, 40, 28], vec![1; 100]] {
        cases.push(ParityCase {
            what: format!("attention in {} chunks vs one call", chunks.len()),
            reference: OpCase::Attention(whole.clone()),
            candidate: OpCase::Attention(whole.in_chunks(chunks)),
        });
    }
    cases
}

fn attention_windowed() -> Vec<ParityCase<OpCase>> {
    let tokens = 100;
    let whole = Attention::random(&mut Rng::new(34), 4, 2, 40, tokens);
    let mut cases = Vec::new();
    for window in [1, 7, 32, 45, 64, tokens, tokens + 30] {
        let case = whole.windowed(window);
        cases.push(ParityCase::same(
            format!("attention, window {window}, {tokens} tokens"),
            OpCase::Attention(case.clone()),
        ));
        for chunks in [vec![31, 1, 40, 28], vec![1; tokens]] {
            cases.push(ParityCase {
                what: format!(
                    "attention, window {window}, {} chunks vs one call",
                    chunks.len()
                ),
                reference: OpCase::Attention(case.clone()),
                candidate: OpCase::Attention(case.in_chunks(chunks)),
            });
        }
    }
    // Gemma 3's layout (4 query heads on one KV head of 256), a window ending mid-block
    // over a context of several windows, prefilled in uneven chunks.
    let gemma = Attention::random(&mut Rng::new(35), 4, 1, 256, 150).windowed(50);
    cases.push(ParityCase {
        what: "attention, head_dim 256, window 50, 3 chunks vs one call".to_owned(),
        reference: OpCase::Attention(gemma.clone()),
        candidate: OpCase::Attention(gemma.in_chunks(vec![61, 1, 88])),
    });
    cases
}
