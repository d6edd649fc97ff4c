//! Contraction immunity: every op computed with fused multiply-add (`f32::mul_add`) and with
//! separate multiply and add gives identical bits (DESIGN §2 rule 1, DETERMINISM.md §3).
//! Inputs mix model-like values with arbitrary bit patterns (denormals, huge values,
//! infinities, NaN) so the factor domain's edges are exercised too.

mod common;

use common::{Gen, bits, to_bf16, to_f16};
use fak_ops::math::{exp_with, gelu_tanh_with, recip_with, rsqrt_with, sigmoid_with, silu_with};
use fak_ops::{
    AttentionConfig, Fused, KvView, MulAdd, NormWeight, PreparedWeights, RmsNormParams, RopeLayout,
    RopeTable, Unfused, WeightView, attention_with, geglu_with, inv_freq_from_base, matmul_with,
    rms_norm_with, rope_apply_with, softmax_with, split_mul_add, swiglu_with, two_prod_sum,
};
use proptest::prelude::*;

/// Model-like values, with one in eight replaced by an arbitrary bit pattern when `wild`.
fn inputs(g: &mut Gen, n: usize, scale: f32, wild: bool) -> Vec<f32> {
    let mut v = g.vec(n, scale);
    if wild {
        for x in v.iter_mut() {
            if g.below(8) == 0 {
                *x = f32::from_bits(g.next_u64() as u32);
            }
        }
    }
    v
}

fn both<R: PartialEq + std::fmt::Debug>(f: impl Fn(bool) -> R) {
    assert_eq!(f(false), f(true), "fused and unfused evaluation differ");
}

fn matmul_bits<A: MulAdd>(w: WeightView<'_>, x: &[f32]) -> Vec<u32> {
    let mut out = vec![0.0; x.len() / w.cols() * w.rows()];
    matmul_with::<A>(w, x, &mut out).expect("valid shapes");
    bits(&out)
}

#[test]
fn naive_f32_dot_product_does_depend_on_contraction() {
    // The control: without the contract, fused and unfused evaluation part ways, so the
    // equalities below are not vacuous.
    let mut g = Gen::new(3);
    let differs = (0..100).any(|_| {
        let (a, b) = (g.vec(64, 1.0), g.vec(64, 1.0));
        let unfused = a
            .iter()
            .zip(&b)
            .fold(0.0f32, |acc, (x, y)| Unfused::mul_add(*x, *y, acc));
        let fused = a
            .iter()
            .zip(&b)
            .fold(0.0f32, |acc, (x, y)| Fused::mul_add(*x, *y, acc));
        unfused.to_bits() != fused.to_bits()
    });
    assert!(differs);
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    #[test]
    fn math_functions_ignore_contraction_on_any_bit_pattern(seed in any::<u64>()) {
        let mut g = Gen::new(seed);
        let xs: Vec<f32> = g.any_bits(256).into_iter().chain(g.vec(256, 100.0)).collect();
        for &x in &xs {
            prop_assert_eq!(exp_with::<Unfused>(x).to_bits(), exp_with::<Fused>(x).to_bits(), "exp({:e})", x);
            prop_assert_eq!(recip_with::<Unfused>(x).to_bits(), recip_with::<Fused>(x).to_bits(), "recip({:e})", x);
            prop_assert_eq!(rsqrt_with::<Unfused>(x).to_bits(), rsqrt_with::<Fused>(x).to_bits(), "rsqrt({:e})", x);
            prop_assert_eq!(sigmoid_with::<Unfused>(x).to_bits(), sigmoid_with::<Fused>(x).to_bits(), "sigmoid({:e})", x);
            prop_assert_eq!(silu_with::<Unfused>(x).to_bits(), silu_with::<Fused>(x).to_bits(), "silu({:e})", x);
            prop_assert_eq!(gelu_tanh_with::<Unfused>(x).to_bits(), gelu_tanh_with::<Fused>(x).to_bits(), "gelu_tanh({:e})", x);
        }
        for w in xs.windows(4) {
            // The addend must be a multiple of 2^-126, as every sum of exact products is.
            let c = fak_ops::domain(w[2]);
            prop_assert_eq!(
                split_mul_add::<Unfused>(w[0], w[1], c).to_bits(),
                split_mul_add::<Fused>(w[0], w[1], c).to_bits()
            );
            prop_assert_eq!(
                two_prod_sum::<Unfused>(w[0], w[1], w[2], w[3]).to_bits(),
                two_prod_sum::<Fused>(w[0], w[1], w[2], w[3]).to_bits()
            );
        }
    }

    #[test]
    fn matmul_ignores_contraction_for_every_weight_type(
        seed in any::<u64>(), rows in 1usize..40, cols in 1usize..150, tokens in 1usize..7, wild in any::<bool>(),
    ) {
        let mut g = Gen::new(seed);
        let w = inputs(&mut g, rows * cols, 0.5, wild);
        let x = inputs(&mut g, tokens * cols, 4.0, wild);
        let (wb, wh) = (to_bf16(&w), to_f16(&w));
        let prepared = PreparedWeights::bf16(wb.clone(), rows, cols).unwrap();
        let views = [
            WeightView::bf16(&wb, rows, cols).unwrap(),
            prepared.view(),
            WeightView::f16(&wh, rows, cols).unwrap(),
            WeightView::f32(&w, rows, cols).unwrap(),
        ];
        for view in views {
            let unfused = matmul_bits::<Unfused>(view, &x);
            prop_assert_eq!(&unfused, &matmul_bits::<Fused>(view, &x));
            // The default picks FMA where the CPU has it: the same bits again.
            let mut out = vec![0.0; tokens * rows];
            fak_ops::matmul(view, &x, &mut out).unwrap();
            prop_assert_eq!(&unfused, &bits(&out));
        }
    }

    #[test]
    fn rms_norm_ignores_contraction(seed in any::<u64>(), dim in 1usize..300, rows in 1usize..4, wild in any::<bool>()) {
        let mut g = Gen::new(seed);
        let x = inputs(&mut g, rows * dim, 30.0, wild);
        let w = inputs(&mut g, dim, 1.0, wild);
        for style in [NormWeight::Scale, NormWeight::OnePlus] {
            let params = RmsNormParams { eps: 1.0e-6, weight: style };
            let mut unfused = vec![0.0; x.len()];
            rms_norm_with::<Unfused>(&x, &w, params, &mut unfused).unwrap();
            both(|fused| {
                let mut out = vec![0.0; x.len()];
                if fused {
                    rms_norm_with::<Fused>(&x, &w, params, &mut out).unwrap();
                } else {
                    rms_norm_with::<Unfused>(&x, &w, params, &mut out).unwrap();
                }
                bits(&out)
            });
            // The default picks FMA and SIMD where the CPU has them: the same bits again.
            let mut out = vec![0.0; x.len()];
            fak_ops::rms_norm(&x, &w, params, &mut out).unwrap();
            prop_assert_eq!(bits(&out), bits(&unfused));
        }
    }

    #[test]
    fn rope_ignores_contraction_in_both_layouts(seed in any::<u64>(), half_dim in 1usize..40, wild in any::<bool>()) {
        let mut g = Gen::new(seed);
        let table = RopeTable::new(&inv_freq_from_base(10_000.0, 2 * half_dim).unwrap(), 300).unwrap();
        let positions: Vec<u32> = (0..5).map(|_| g.below(300) as u32).collect();
        let x = inputs(&mut g, positions.len() * 3 * 2 * half_dim, 8.0, wild);
        for layout in [RopeLayout::RotateHalf, RopeLayout::Interleaved] {
            both(|fused| {
                let mut y = x.clone();
                if fused {
                    rope_apply_with::<Fused>(&table, layout, &positions, &mut y, 3).unwrap();
                } else {
                    rope_apply_with::<Unfused>(&table, layout, &positions, &mut y, 3).unwrap();
                }
                bits(&y)
            });
            // The default picks FMA and SIMD where the CPU has them: the same bits again.
            let (mut y, mut unfused) = (x.clone(), x.clone());
            rope_apply_with::<Unfused>(&table, layout, &positions, &mut unfused, 3).unwrap();
            fak_ops::rope_apply(&table, layout, &positions, &mut y, 3).unwrap();
            prop_assert_eq!(bits(&y), bits(&unfused));
        }
    }

    #[test]
    fn swiglu_and_softmax_ignore_contraction(seed in any::<u64>(), n in 1usize..500) {
        let mut g = Gen::new(seed);
        let (gate, up) = (g.vec(n, 12.0), g.vec(n, 3.0));
        both(|fused| {
            let mut out = vec![0.0; n];
            if fused {
                swiglu_with::<Fused>(&gate, &up, &mut out).unwrap();
            } else {
                swiglu_with::<Unfused>(&gate, &up, &mut out).unwrap();
            }
            bits(&out)
        });
        let logits = g.vec(n, 30.0);
        both(|fused| {
            let mut out = vec![0.0; n];
            if fused {
                softmax_with::<Fused>(&logits, &mut out).unwrap();
            } else {
                softmax_with::<Unfused>(&logits, &mut out).unwrap();
            }
            bits(&out)
        });
    }

    #[test]
    fn geglu_ignores_contraction(seed in any::<u64>(), n in 1usize..500, wild in any::<bool>()) {
        let mut g = Gen::new(seed);
        let (gate, up) = (inputs(&mut g, n, 12.0, wild), inputs(&mut g, n, 3.0, wild));
        both(|fused| {
            let mut out = vec![0.0; n];
            if fused {
                geglu_with::<Fused>(&gate, &up, &mut out).unwrap();
            } else {
                geglu_with::<Unfused>(&gate, &up, &mut out).unwrap();
            }
            bits(&out)
        });
    }

    #[test]
    fn attention_ignores_contraction(
        seed in any::<u64>(), cached in 1usize..100, wild in any::<bool>(), window in proptest::option::of(1usize..70),
    ) {
        let mut g = Gen::new(seed);
        let config = AttentionConfig { n_heads: 4, n_kv_heads: 2, head_dim: 16, scale: 0.25, window };
        let k = to_bf16(&inputs(&mut g, cached * 2 * 16, 3.0, wild));
        let v = to_bf16(&inputs(&mut g, cached * 2 * 16, 3.0, wild));
        let positions: Vec<u32> = (0..3).map(|_| g.below(cached) as u32).collect();
        let q = inputs(&mut g, positions.len() * 4 * 16, 3.0, wild);
        both(|fused| {
            let mut out = vec![0.0; q.len()];
            let kv = KvView { k: &k, v: &v };
            if fused {
                attention_with::<Fused>(&config, &q, &positions, kv, &mut out).unwrap();
            } else {
                attention_with::<Unfused>(&config, &q, &positions, kv, &mut out).unwrap();
            }
            bits(&out)
        });
    }
}
