//! Packed Q8_0 / Q5_0 / Q4_K / Q6_K weights against DETERMINISM.md §3b spelled out here
//! from the public pieces (`quantize_block`, `QuantBlock::int_chunk`): every kernel a packed
//! matrix can take (the AVX-512 VNNI kernel, the portable one under Fused and Unfused, one
//! token or many) gives its bits, on random blocks with extreme, zero, denormal, infinite
//! and NaN scales; and the element values (§3a) follow GGML's loops.

mod common;

use common::{Gen, bits};
use fak_ops::{
    BlockQ4K, BlockQ5_0, BlockQ6K, BlockQ8_0, Fused, IntChunk, LANES, OpsError, PreparedBlocks,
    QUANT_BLOCK, QuantBlock, Unfused, WeightView, canonical, embed_gather, fold_sum, matmul,
    matmul_with, matvec, quantize_block,
};

/// (rows, cols, tokens): rows crossing the 16-row tasks; 1 to 31 chunks a row (a partial
/// group of 16 chunks, one and two whole ones, 20 as Gemma's 640 columns); one token and
/// many. Rows cover the kernel's 16-row passes and its tail packs (a row's last `chunks % 16`
/// chunks share a group with other rows' where that divides 16: 1, 2, 4 and 8 here, 3 and
/// 15 do not).
const SHAPES: [(usize, usize, usize); 9] = [
    (1, 32, 1),
    (45, 768, 2),
    (263, 64, 1),
    (7, 96, 2),
    (31, 512, 3),
    (5, 992, 7),
    (130, 640, 9),
    (9, 2048, 33),
    (17, 1024, 1),
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

/// DETERMINISM.md §3b written out: row `row` against one token's activations `x`.
fn contract<B: QuantBlock>(row: &[B], x: &[f32]) -> f32 {
    let chunks: Vec<IntChunk> = row
        .iter()
        .flat_map(|b| (0..B::CHUNKS).map(|j| b.int_chunk(j)))
        .collect();
    let mut lanes = [0.0f32; LANES];
    for (b, c) in chunks.iter().enumerate() {
        let block = quantize_block(x[32 * b..32 * b + 32].try_into().unwrap());
        let s = &c.scales;
        let lane = &mut lanes[b % 16];
        let mut add = |f: f32, n: i32| {
            let lo = n.rem_euclid(8192);
            *lane += f * (n - lo) as f32;
            *lane += f * lo as f32;
        };
        let f = s.d * block.scale;
        let [high, low] = [&block.high, &block.low].map(|l| int_sum(c, l));
        if B::COMBINED_LIMBS {
            add(f / 256.0, 256 * high + low);
        } else {
            add(f, high);
            add(f / 256.0, low);
        }
        if let Some((m, dmin)) = s.min {
            let [high, low] = [&block.high, &block.low].map(|l| min_sum(m, l));
            add(-(dmin * block.scale) / 256.0, 256 * high + low);
        }
    }
    canonical(fold_sum(lanes))
}

/// `I(l) = sum_i a_i (u_i - beta) l_i` of chunk `c` against the limbs `l`.
fn int_sum(c: &IntChunk, l: &[i8; QUANT_BLOCK]) -> i32 {
    let s = &c.scales;
    (0..QUANT_BLOCK)
        .map(|i| s.a[i / 16] * (i32::from(c.u[i]) - s.beta) * i32::from(l[i]))
        .sum()
}

/// `M(l) = m sum_i l_i`.
fn min_sum(m: i32, l: &[i8; QUANT_BLOCK]) -> i32 {
    m * l.iter().map(|&v| i32::from(v)).sum::<i32>()
}

/// Every evaluation of `packed` (rows of `blocks`) gives the bits of [`contract`].
fn assert_contract<B: QuantBlock>(blocks: &[B], packed: WeightView<'_>, x: &[f32], what: &str) {
    let (rows, cols) = (packed.rows(), packed.cols());
    let tokens = x.len() / cols;
    let per_row = blocks.len() / rows;
    let mut expected = vec![0.0f32; tokens * rows];
    for (t, xt) in x.chunks_exact(cols).enumerate() {
        for (r, row) in blocks.chunks_exact(per_row).enumerate() {
            expected[t * rows + r] = contract(row, xt);
        }
    }
    let label = format!("{what} {rows}x{cols}, {tokens} tokens");
    let mut got = vec![0.0f32; tokens * rows];
    matmul(packed, x, &mut got).unwrap();
    assert_eq!(bits(&got), bits(&expected), "native, {label}");
    matmul_with::<Unfused>(packed, x, &mut got).unwrap();
    assert_eq!(bits(&got), bits(&expected), "unfused, {label}");
    matmul_with::<Fused>(packed, x, &mut got).unwrap();
    assert_eq!(bits(&got), bits(&expected), "fused, {label}");
    // The same matrix laid out once for the kernel (where this CPU has it) gives the same.
    if let Some(prepared) = PreparedBlocks::new(packed) {
        let view = packed.with_prepared_blocks(&prepared).unwrap();
        matmul(view, x, &mut got).unwrap();
        assert_eq!(bits(&got), bits(&expected), "prepared, {label}");
        let mut one = vec![0.0f32; rows];
        matvec(view, &x[..cols], &mut one).unwrap();
        assert_eq!(
            bits(&one),
            bits(&expected[..rows]),
            "prepared matvec, {label}"
        );
    }
    // One token at a time gives the rows of the many-token product.
    for (t, (xt, expected)) in x
        .chunks_exact(cols)
        .zip(expected.chunks_exact(rows))
        .enumerate()
    {
        let mut one = vec![0.0f32; rows];
        matvec(packed, xt, &mut one).unwrap();
        assert_eq!(bits(&one), bits(expected), "matvec token {t}, {label}");
    }
}

#[test]
fn packed_q8_0_follows_the_int8_limb_contract() {
    let mut g = Gen::new(80);
    for (rows, cols, tokens) in SHAPES {
        let blocks = q8_0_blocks(&mut g, rows * cols / QUANT_BLOCK);
        let x = g.vec(tokens * cols, 4.0);
        let view = WeightView::q8_0(&blocks, rows, cols).unwrap();
        assert_contract(&blocks, view, &x, "Q8_0");
    }
}

#[test]
fn packed_q5_0_follows_the_int8_limb_contract() {
    let mut g = Gen::new(50);
    for (rows, cols, tokens) in SHAPES {
        let blocks = q5_0_blocks(&mut g, rows * cols / QUANT_BLOCK);
        let x = g.vec(tokens * cols, 4.0);
        let view = WeightView::q5_0(&blocks, rows, cols).unwrap();
        assert_contract(&blocks, view, &x, "Q5_0");
    }
}

#[test]
fn packed_q4_k_follows_the_int8_limb_contract() {
    let mut g = Gen::new(4);
    for (rows, cols, tokens) in k_shapes() {
        let blocks = q4_k_blocks(&mut g, rows * cols / QK_K);
        let x = g.vec(tokens * cols, 4.0);
        let view = WeightView::q4_k(&blocks, rows, cols).unwrap();
        assert_contract(&blocks, view, &x, "Q4_K");
    }
}

#[test]
fn packed_q6_k_follows_the_int8_limb_contract() {
    let mut g = Gen::new(6);
    for (rows, cols, tokens) in k_shapes() {
        let blocks = q6_k_blocks(&mut g, rows * cols / QK_K);
        let x = g.vec(tokens * cols, 4.0);
        let view = WeightView::q6_k(&blocks, rows, cols).unwrap();
        assert_contract(&blocks, view, &x, "Q6_K");
    }
}

#[test]
fn packed_weights_meet_special_activations_as_the_contract_says() {
    // Activations of every bit pattern (NaN, infinities, denormals, huge and tiny values).
    let mut g = Gen::new(7);
    let (rows, cols, tokens) = (37, 96, 5);
    let q8 = q8_0_blocks(&mut g, rows * cols / QUANT_BLOCK);
    let q5 = q5_0_blocks(&mut g, rows * cols / QUANT_BLOCK);
    let x = g.any_bits(tokens * cols);
    let view = WeightView::q8_0(&q8, rows, cols).unwrap();
    assert_contract(&q8, view, &x, "Q8_0, any activations");
    let view = WeightView::q5_0(&q5, rows, cols).unwrap();
    assert_contract(&q5, view, &x, "Q5_0, any activations");

    let cols = 2 * QK_K;
    let x = g.any_bits(tokens * cols);
    let q4 = q4_k_blocks(&mut g, rows * cols / QK_K);
    let view = WeightView::q4_k(&q4, rows, cols).unwrap();
    assert_contract(&q4, view, &x, "Q4_K, any activations");
    let q6 = q6_k_blocks(&mut g, rows * cols / QK_K);
    let view = WeightView::q6_k(&q6, rows, cols).unwrap();
    assert_contract(&q6, view, &x, "Q6_K, any activations");
}

/// The integers §3b cuts into two 13-bit pieces stay within 2^26 in magnitude for every
/// chunk a type can hold: each limb's `I` where the limbs enter one by one,
/// `256 I(q) + I(p)` where they are combined ([`QuantBlock::COMBINED_LIMBS`]), and Q4_K's
/// `256 M(q) + M(p)`. Checked on each type's extreme chunks (every quant at one end of its
/// range, the largest integer scales) against limbs all 127 (the bounds are symmetric).
#[test]
fn the_integers_cut_into_pieces_stay_within_two_to_the_26() {
    fn check<B: QuantBlock>(block: &B, what: &str) {
        let limbs = [127i8; QUANT_BLOCK];
        for j in 0..B::CHUNKS {
            let c = block.int_chunk(j);
            let int = i64::from(int_sum(&c, &limbs));
            let ints = if B::COMBINED_LIMBS {
                vec![257 * int]
            } else {
                vec![int]
            };
            let mins = c
                .scales
                .min
                .map(|(m, _)| 257 * i64::from(min_sum(m, &limbs)));
            for n in ints.into_iter().chain(mins) {
                assert!(n.abs() < 1 << 26, "{what} chunk {j}: {n}");
            }
        }
    }
    for q in [i8::MIN, i8::MAX] {
        check(
            &BlockQ8_0 {
                d: [0; 2],
                qs: [q; QUANT_BLOCK],
            },
            "Q8_0",
        );
    }
    for q in [0, 0xFF] {
        let qh = [q; 4];
        check(
            &BlockQ5_0 {
                d: [0; 2],
                qh,
                qs: [q; QUANT_BLOCK / 2],
            },
            "Q5_0",
        );
        let scales = [0xFF; 12];
        check(
            &BlockQ4K {
                d: [0; 2],
                dmin: [0; 2],
                scales,
                qs: [q; QK_K / 2],
            },
            "Q4_K",
        );
        for scale in [i8::MIN, i8::MAX] {
            let (ql, qh) = ([q; QK_K / 2], [q; QK_K / 4]);
            check(
                &BlockQ6K {
                    ql,
                    qh,
                    scales: [scale; 16],
                    d: [0; 2],
                },
                "Q6_K",
            );
        }
    }
    // Combining Q8_0's limbs would not fit: the table is what keeps the pieces exact.
    let q8 = BlockQ8_0 {
        d: [0; 2],
        qs: [i8::MIN; QUANT_BLOCK],
    }
    .int_chunk(0);
    assert!(257 * i64::from(int_sum(&q8, &[127; QUANT_BLOCK])).abs() >= 1 << 26);
}

/// A product leaves nothing behind for the next: the VNNI kernel lays the activations out
/// in a buffer its thread reuses, and a lane with no chunk must read as zero there even
/// after a product whose every lane held a NaN scale (`0 * NaN` would poison the row).
#[test]
fn a_product_after_one_with_nan_activations_gives_the_contract_bits() {
    let mut g = Gen::new(11);
    let tokens = 3;
    // Sixteen chunks a row: every lane of the group holds one, each block a NaN.
    let (rows, cols) = (16, 16 * QUANT_BLOCK);
    let blocks = q8_0_blocks(&mut g, rows * cols / QUANT_BLOCK);
    let x = vec![f32::NAN; tokens * cols];
    let view = WeightView::q8_0(&blocks, rows, cols).unwrap();
    let mut out = vec![0.0f32; tokens * rows];
    matmul(view, &x, &mut out).unwrap();
    assert!(out.iter().all(|v| v.is_nan()));
    // Then three chunks a row (a tail that packs with no other row): lanes 3..16 hold none.
    let (rows, cols) = (16, 3 * QUANT_BLOCK);
    let blocks = q8_0_blocks(&mut g, rows * cols / QUANT_BLOCK);
    let x = g.vec(tokens * cols, 4.0);
    let view = WeightView::q8_0(&blocks, rows, cols).unwrap();
    assert_contract(&blocks, view, &x, "Q8_0 after NaN activations");
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

#[test]
fn prepared_blocks_attach_only_to_the_matrix_they_were_laid_out_from() {
    let mut g = Gen::new(11);
    let q8 = q8_0_blocks(&mut g, 8 * 64 / QUANT_BLOCK);
    let view = WeightView::q8_0(&q8, 8, 64).unwrap();
    let Some(prepared) = PreparedBlocks::new(view) else {
        // No VNNI kernel on this CPU: nothing is laid out, and nothing can be attached.
        return;
    };
    assert!(view.with_prepared_blocks(&prepared).is_ok());
    // The same bytes as another shape, and the same shape as another block type.
    let reshaped = WeightView::q8_0(&q8, 16, 32).unwrap();
    assert!(matches!(
        reshaped.with_prepared_blocks(&prepared),
        Err(OpsError::Mismatch { .. })
    ));
    let q5 = q5_0_blocks(&mut g, 8 * 64 / QUANT_BLOCK);
    let other = WeightView::q5_0(&q5, 8, 64).unwrap();
    assert!(matches!(
        other.with_prepared_blocks(&prepared),
        Err(OpsError::Mismatch { .. })
    ));
    // Floats are never laid out.
    let values = dequantized(&q8);
    assert!(PreparedBlocks::new(WeightView::f32(&values, 8, 64).unwrap()).is_none());
}
