//! Packed Q8_0 / Q5_0 / Q4_K / Q6_K weights against the same weights dequantized to f32, bit for bit
//! (DETERMINISM.md §3a): every kernel a packed matrix can take (one-token AVX-512, tiled
//! many-token, row-block under Fused and Unfused) gives the bits of the f32 row-block
//! reference, on random blocks with extreme, zero, denormal, infinite and NaN scales.

mod common;

use common::{Gen, bits};
use fak_ops::{
    BlockQ4K, BlockQ5_0, BlockQ6K, BlockQ8_0, Fused, OpsError, QUANT_BLOCK, QuantBlock, Unfused,
    WeightView, embed_gather, matmul, matmul_with, matvec,
};

/// (rows, cols, tokens): rows crossing the 256-row one-token task, the 128-row tiled task
/// and the 4-row passes and tiles; tokens 1 (one-token kernel), 2 (row-block), 3+ (tiled,
/// ragged against the 3-token tile); the last crosses a tiled task's tokens (1 MiB of
/// activations is 128 tokens of 2048 columns).
const SHAPES: [(usize, usize, usize); 7] = [
    (1, 32, 1),
    (263, 64, 1),
    (7, 96, 2),
    (131, 160, 3),
    (5, 32, 7),
    (130, 640, 70),
    (9, 2048, 130),
];

/// f16 scale bits: mostly ordinary magnitudes, sometimes the extremes GGML's format allows
/// (largest finite, smallest normal, denormals, zeros), rarely infinities and NaN.
fn scale_bits(g: &mut Gen) -> u16 {
    match g.below(64) {
        0 => 0x7BFF,                     // 65504, the largest f16
        1 => 0x0400,                     // 2^-14, the smallest normal
        2 => 1 + g.below(0x3FF) as u16,  // a denormal
        3 => 0x8000 * g.below(2) as u16, // +0 or -0
        4 if g.below(4) == 0 => 0x7C00,  // +inf
        5 if g.below(4) == 0 => 0xFE00,  // a NaN
        _ => (0x1800 + g.below(0x2800) as u16) | (g.below(2) as u16) << 15, // 2^-9 .. 2^1
    }
}

fn q8_0_blocks(g: &mut Gen, n: usize) -> Vec<BlockQ8_0> {
    (0..n)
        .map(|_| {
            let mut qs = [0i8; QUANT_BLOCK];
            qs.iter_mut().for_each(|q| *q = g.next_u64() as i8);
            BlockQ8_0 {
                d: scale_bits(g).to_le_bytes(),
                qs,
            }
        })
        .collect()
}

fn q5_0_blocks(g: &mut Gen, n: usize) -> Vec<BlockQ5_0> {
    (0..n)
        .map(|_| {
            let mut qs = [0u8; QUANT_BLOCK / 2];
            qs.iter_mut().for_each(|q| *q = g.next_u64() as u8);
            BlockQ5_0 {
                d: scale_bits(g).to_le_bytes(),
                qh: (g.next_u64() as u32).to_le_bytes(),
                qs,
            }
        })
        .collect()
}

fn q4_k_blocks(g: &mut Gen, n: usize) -> Vec<BlockQ4K> {
    (0..n)
        .map(|_| BlockQ4K {
            d: scale_bits(g).to_le_bytes(),
            dmin: scale_bits(g).to_le_bytes(),
            scales: std::array::from_fn(|_| g.next_u64() as u8),
            qs: std::array::from_fn(|_| g.next_u64() as u8),
        })
        .collect()
}

fn q6_k_blocks(g: &mut Gen, n: usize) -> Vec<BlockQ6K> {
    (0..n)
        .map(|_| BlockQ6K {
            ql: std::array::from_fn(|_| g.next_u64() as u8),
            qh: std::array::from_fn(|_| g.next_u64() as u8),
            scales: std::array::from_fn(|_| g.next_u64() as i8),
            d: scale_bits(g).to_le_bytes(),
        })
        .collect()
}

/// Weights per block of a K-quant.
const QK_K: usize = 256;

/// [`SHAPES`] with rows of K-quant blocks: the same rows and tokens, whole 256-weight blocks.
fn k_shapes() -> impl Iterator<Item = (usize, usize, usize)> {
    SHAPES
        .into_iter()
        .map(|(rows, cols, tokens)| (rows, cols.div_ceil(QK_K) * QK_K, tokens))
}

fn dequantized<B: QuantBlock>(blocks: &[B]) -> Vec<f32> {
    blocks.iter().flat_map(|b| b.values()).collect()
}

/// Every evaluation of `packed` equals the plain f32 reference over `values`.
fn assert_same_bits(packed: WeightView<'_>, values: &[f32], x: &[f32], what: &str) {
    let (rows, cols) = (packed.rows(), packed.cols());
    let tokens = x.len() / cols;
    let f32_view = WeightView::f32(values, rows, cols).unwrap();
    let mut reference = vec![0.0f32; tokens * rows];
    matmul_with::<Unfused>(f32_view, x, &mut reference).unwrap();
    let label = format!("{what} {rows}x{cols}, {tokens} tokens");

    let mut got = vec![0.0f32; tokens * rows];
    matmul(packed, x, &mut got).unwrap();
    assert_eq!(bits(&got), bits(&reference), "native, {label}");
    matmul_with::<Unfused>(packed, x, &mut got).unwrap();
    assert_eq!(bits(&got), bits(&reference), "unfused, {label}");
    matmul_with::<Fused>(packed, x, &mut got).unwrap();
    assert_eq!(bits(&got), bits(&reference), "fused, {label}");
    // The f32 weights' own fast kernels take the same path in registers.
    matmul(f32_view, x, &mut got).unwrap();
    assert_eq!(bits(&got), bits(&reference), "native f32, {label}");
    // One token at a time gives the rows of the many-token product.
    for (t, (xt, expected)) in x
        .chunks_exact(cols)
        .zip(reference.chunks_exact(rows))
        .enumerate()
    {
        let mut one = vec![0.0f32; rows];
        matvec(packed, xt, &mut one).unwrap();
        assert_eq!(bits(&one), bits(expected), "matvec token {t}, {label}");
    }
}

#[test]
fn packed_q8_0_gives_the_bits_of_its_f32_values() {
    let mut g = Gen::new(80);
    for (rows, cols, tokens) in SHAPES {
        let blocks = q8_0_blocks(&mut g, rows * cols / QUANT_BLOCK);
        let x = g.vec(tokens * cols, 4.0);
        let view = WeightView::q8_0(&blocks, rows, cols).unwrap();
        assert_same_bits(view, &dequantized(&blocks), &x, "Q8_0");
    }
}

#[test]
fn packed_q5_0_gives_the_bits_of_its_f32_values() {
    let mut g = Gen::new(50);
    for (rows, cols, tokens) in SHAPES {
        let blocks = q5_0_blocks(&mut g, rows * cols / QUANT_BLOCK);
        let x = g.vec(tokens * cols, 4.0);
        let view = WeightView::q5_0(&blocks, rows, cols).unwrap();
        assert_same_bits(view, &dequantized(&blocks), &x, "Q5_0");
    }
}

#[test]
fn packed_q4_k_gives_the_bits_of_its_f32_values() {
    let mut g = Gen::new(4);
    for (rows, cols, tokens) in k_shapes() {
        let blocks = q4_k_blocks(&mut g, rows * cols / QK_K);
        let x = g.vec(tokens * cols, 4.0);
        let view = WeightView::q4_k(&blocks, rows, cols).unwrap();
        assert_same_bits(view, &dequantized(&blocks), &x, "Q4_K");
    }
}

#[test]
fn packed_q6_k_gives_the_bits_of_its_f32_values() {
    let mut g = Gen::new(6);
    for (rows, cols, tokens) in k_shapes() {
        let blocks = q6_k_blocks(&mut g, rows * cols / QK_K);
        let x = g.vec(tokens * cols, 4.0);
        let view = WeightView::q6_k(&blocks, rows, cols).unwrap();
        assert_same_bits(view, &dequantized(&blocks), &x, "Q6_K");
    }
}

#[test]
fn packed_weights_meet_special_activations_like_f32_weights() {
    // Activations of every bit pattern (NaN, infinities, denormals, huge and tiny values).
    let mut g = Gen::new(7);
    let (rows, cols, tokens) = (37, 96, 5);
    let q8 = q8_0_blocks(&mut g, rows * cols / QUANT_BLOCK);
    let q5 = q5_0_blocks(&mut g, rows * cols / QUANT_BLOCK);
    let x = g.any_bits(tokens * cols);
    let view = WeightView::q8_0(&q8, rows, cols).unwrap();
    assert_same_bits(view, &dequantized(&q8), &x, "Q8_0, any activations");
    let view = WeightView::q5_0(&q5, rows, cols).unwrap();
    assert_same_bits(view, &dequantized(&q5), &x, "Q5_0, any activations");

    let cols = 2 * QK_K;
    let x = g.any_bits(tokens * cols);
    let q4 = q4_k_blocks(&mut g, rows * cols / QK_K);
    let view = WeightView::q4_k(&q4, rows, cols).unwrap();
    assert_same_bits(view, &dequantized(&q4), &x, "Q4_K, any activations");
    let q6 = q6_k_blocks(&mut g, rows * cols / QK_K);
    let view = WeightView::q6_k(&q6, rows, cols).unwrap();
    assert_same_bits(view, &dequantized(&q6), &x, "Q6_K, any activations");
}

#[test]
fn block_values_follow_ggml_reference_loops() {
    // GGML's dequantize_row_q5_0 loop, written out independently: for j < 16 the fifth bits
    // of weights j and j + 16 are bits j and j + 16 of qh.
    let mut g = Gen::new(3);
    for block in q5_0_blocks(&mut g, 200) {
        let d = half::f16::from_le_bytes(block.d).to_f32();
        let qh = u32::from_le_bytes(block.qh);
        let mut expected = [0.0f32; QUANT_BLOCK];
        for j in 0..16 {
            let xh_0 = ((qh >> j) << 4) & 0x10;
            let xh_1 = (qh >> (j + 12)) & 0x10;
            let x0 = ((u32::from(block.qs[j]) & 0x0F) | xh_0) as i32 - 16;
            let x1 = ((u32::from(block.qs[j]) >> 4) | xh_1) as i32 - 16;
            expected[j] = x0 as f32 * d;
            expected[j + 16] = x1 as f32 * d;
        }
        assert_eq!(bits(&block.chunk(0)), bits(&expected));
    }
    for block in q8_0_blocks(&mut g, 200) {
        let d = half::f16::from_le_bytes(block.d).to_f32();
        let expected = block.qs.map(|q| f32::from(q) * d);
        assert_eq!(bits(&block.chunk(0)), bits(&expected));
    }
}

#[test]
fn embedding_rows_of_packed_tables_equal_their_f32_values() {
    let mut g = Gen::new(11);
    let rows = 20;
    let tokens = [0u32, 19, 7, 7];
    let same_rows = |packed: WeightView<'_>, values: &[f32]| {
        let cols = packed.cols();
        let mut got = vec![0.0f32; tokens.len() * cols];
        let mut plain = got.clone();
        let f32_view = WeightView::f32(values, rows, cols).unwrap();
        embed_gather(packed, &tokens, &mut got).unwrap();
        embed_gather(f32_view, &tokens, &mut plain).unwrap();
        assert_eq!(bits(&got), bits(&plain));
    };
    let q8 = q8_0_blocks(&mut g, rows * 64 / QUANT_BLOCK);
    same_rows(WeightView::q8_0(&q8, rows, 64).unwrap(), &dequantized(&q8));
    let q6 = q6_k_blocks(&mut g, rows * 2);
    same_rows(
        WeightView::q6_k(&q6, rows, 2 * QK_K).unwrap(),
        &dequantized(&q6),
    );
}

#[test]
fn packed_views_refuse_partial_blocks_and_wrong_block_counts() {
    let blocks = vec![
        BlockQ8_0 {
            d: [0; 2],
            qs: [0; QUANT_BLOCK]
        };
        4
    ];
    assert!(matches!(
        WeightView::q8_0(&blocks, 2, 48),
        Err(OpsError::NotMultiple {
            len: 48,
            unit: 32,
            ..
        })
    ));
    assert_eq!(
        WeightView::q8_0(&blocks, 3, 32).unwrap_err(),
        OpsError::Length {
            op: "WeightView::new",
            what: "data",
            expected: 96,
            got: 128
        }
    );
    let q5 = vec![
        BlockQ5_0 {
            d: [0; 2],
            qh: [0; 4],
            qs: [0; QUANT_BLOCK / 2]
        };
        2
    ];
    assert!(WeightView::q5_0(&q5, 1, 64).is_ok());
    // A K-quant row is whole 256-weight blocks: 32 columns are a Q8_0 block, not a Q4_K one.
    let q4 = q4_k_blocks(&mut Gen::new(1), 1);
    assert!(matches!(
        WeightView::q4_k(&q4, 8, 32),
        Err(OpsError::NotMultiple { unit: 256, .. })
    ));
    assert!(WeightView::q4_k(&q4, 1, 256).is_ok());
    assert!(matches!(
        WeightView::q5_0(&q5, 4, 16),
        Err(OpsError::NotMultiple { .. })
    ));
}
