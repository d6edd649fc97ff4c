//! The register-tiled matmul (what `matmul` runs for three or more tokens on AVX-512 CPUs)
//! against the plain row-block kernel (`matmul_with`), bit for bit, on shapes that leave
//! every tile, task and chunk ragged.

mod common;

use common::{Gen, bits, to_bf16, to_f16};
use fak_ops::{Fused, PreparedWeights, Unfused, WeightView, matmul, matmul_with};

/// (rows, cols, tokens): rows not a multiple of the 4-row tile and crossing the 128-row
/// task; tokens not a multiple of the 3-token tile and crossing the 64-token task; cols
/// below, between and above whole 32-lane chunks.
const SHAPES: [(usize, usize, usize); 5] = [
    (131, 45, 70),
    (5, 100, 4),
    (1, 7, 3),
    (130, 96, 65),
    (7, 33, 131),
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
