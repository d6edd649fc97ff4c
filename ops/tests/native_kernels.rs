//! The fast kernels the plain ops run on this CPU (the register-tiled matmul, vectorised
//! attention, SwiGLU and GeGLU, AVX-512 where present) against the `_with` forms, bit for bit, on
//! shapes that leave every tile, task, block and chunk ragged and on special values.

mod common;

use common::{Gen, bits, to_bf16, to_f16};
use fak_ops::{
    AttentionConfig, Fused, KvView, PreparedWeights, Unfused, WeightView, attention,
    attention_with, geglu, geglu_with, matmul, matmul_with, swiglu, swiglu_with,
};

/// (rows, cols, tokens): rows not a multiple of the 4-row tile and crossing the 128-row
/// task; tokens not a multiple of the 3-token tile; cols below, between and above whole
/// 32-lane chunks; the last shape's tokens cross a task (a task holds 1 MiB of activations:
/// 54 tokens of 4900 columns).
const SHAPES: [(usize, usize, usize); 6] = [
    (131, 45, 70),
    (5, 100, 4),
    (1, 7, 3),
    (130, 96, 65),
    (7, 33, 131),
    (5, 4900, 60),
];

fn check(w: WeightView<'_>, x: &[f32]) {
    let tokens = x.len() / w.cols();
    let mut tiled = vec![0.0f32; tokens * w.rows()];
    let mut unfused = tiled.clone();
    let mut fused = tiled.clone();
    matmul(w, x, &mut tiled).unwrap();
    matmul_with::<Unfused>(w, x, &mut unfused).unwrap();
    matmul_with::<Fused>(w, x, &mut fused).unwrap();
    assert_eq!(
        bits(&tiled),
        bits(&unfused),
        "{}x{}, {tokens} tokens",
        w.rows(),
        w.cols()
    );
    assert_eq!(bits(&tiled), bits(&fused));
}

#[test]
fn tiled_matmul_equals_row_block_kernel_on_ragged_shapes_for_every_weight_type() {
    let mut g = Gen::new(41);
    for (rows, cols, tokens) in SHAPES {
        let w = g.vec(rows * cols, 1.0);
        let x = g.vec(tokens * cols, 3.0);
        let w_bf16 = to_bf16(&w);
        check(WeightView::bf16(&w_bf16, rows, cols).unwrap(), &x);
        let prepared = PreparedWeights::bf16(w_bf16.clone(), rows, cols).unwrap();
        check(prepared.view(), &x);
        let w_f16 = to_f16(&w);
        check(WeightView::f16(&w_f16, rows, cols).unwrap(), &x);
        check(WeightView::f32(&w, rows, cols).unwrap(), &x);
    }
}

#[test]
fn tiled_matmul_maps_special_values_like_the_row_block_kernel() {
    // Arbitrary bit patterns: NaN, infinities, denormals and out-of-domain magnitudes in
    // both weights and activations must reach the same canonical outputs.
    let mut g = Gen::new(42);
    let (rows, cols, tokens) = (9, 40, 7);
    let w = to_bf16(&g.any_bits(rows * cols));
    let x = g.any_bits(tokens * cols);
    check(WeightView::bf16(&w, rows, cols).unwrap(), &x);
    let prepared = PreparedWeights::bf16(w, rows, cols).unwrap();
    check(prepared.view(), &x);
}

#[test]
fn attention_equals_attention_with_on_ragged_heads_blocks_and_special_values() {
    let mut g = Gen::new(43);
    // (n_heads, n_kv_heads, head_dim, cached positions, window): head_dim below, between
    // and above whole 32-lane chunks; caches ending inside a block and on a block boundary;
    // windows starting mid-block, on a block boundary, and wider than the cache.
    let shapes = [
        (14, 2, 64, 70, None),
        (3, 3, 5, 33, Some(7)),
        (4, 2, 33, 64, Some(32)),
        (6, 3, 96, 1, Some(1)),
        (2, 1, 128, 97, None),
        (4, 1, 40, 150, Some(45)),
        (2, 2, 16, 20, Some(500)),
    ];
    for (case, (n_heads, n_kv_heads, head_dim, cached, window)) in shapes.into_iter().enumerate() {
        let config = AttentionConfig {
            n_heads,
            n_kv_heads,
            head_dim,
            scale: 1.0 / (head_dim as f32).sqrt(),
            window,
        };
        let kv_len = cached * n_kv_heads * head_dim;
        // Every other shape mixes arbitrary bit patterns (NaN, infinities, denormals) into
        // the keys, values and queries.
        let mut values = |n: usize, scale: f32| {
            let mut v = g.vec(n, scale);
            if case % 2 == 1 {
                for (i, s) in g.any_bits(n / 16).into_iter().enumerate() {
                    v[i * 16] = s;
                }
            }
            v
        };
        let k = to_bf16(&values(kv_len, 4.0));
        let v = to_bf16(&values(kv_len, 2.0));
        let positions: Vec<u32> = (0..cached as u32).rev().step_by(7).collect();
        let q = values(positions.len() * n_heads * head_dim, 4.0);
        let kv = KvView { k: &k, v: &v };
        let mut fast = vec![0.0f32; q.len()];
        let mut plain = fast.clone();
        attention(&config, &q, &positions, kv, &mut fast).unwrap();
        attention_with::<Unfused>(&config, &q, &positions, kv, &mut plain).unwrap();
        assert_eq!(bits(&fast), bits(&plain), "case {case}");
    }
}

/// A gated unit's plain form against its `_with` form.
type Gated = fn(&[f32], &[f32], &mut [f32]) -> Result<(), fak_ops::OpsError>;

#[test]
fn swiglu_and_geglu_equal_their_with_forms_across_tasks_and_special_values() {
    // Longer than one 8192-element task and not a multiple of any vector width.
    let mut g = Gen::new(44);
    let n = 8192 * 2 + 37;
    let mut gate = g.vec(n, 20.0);
    gate[..4096].copy_from_slice(&g.any_bits(4096));
    let up = g.vec(n, 3.0);
    let pairs: [(&str, Gated, Gated); 2] = [
        ("swiglu", swiglu, swiglu_with::<Unfused>),
        ("geglu", geglu, geglu_with::<Unfused>),
    ];
    for (name, fast_form, plain_form) in pairs {
        let mut fast = vec![0.0f32; n];
        let mut plain = fast.clone();
        fast_form(&gate, &up, &mut fast).unwrap();
        plain_form(&gate, &up, &mut plain).unwrap();
        assert_eq!(bits(&fast), bits(&plain), "{name}");
    }
}
