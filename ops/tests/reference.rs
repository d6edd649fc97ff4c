//! Each op computes what its name says: compared with a straightforward f64 evaluation of
//! the same formula (on the same bf16-rounded inputs where the contract rounds them).

mod common;

use common::{Gen, bits, to_bf16, to_f16};
use fak_ops::{
    AttentionConfig, KvView, NormWeight, RmsNormParams, RopeLayout, RopeTable, WeightView, add,
    attention, bf16_factor, embed_gather, geglu, inv_freq_from_base, matmul, rms_norm, rope_apply,
    scale, softmax, swiglu,
};
use fak_ops::{
    LANES, MulAdd, Unfused, canonical, domain_bf16, fold_sum, lane_sum, split, widen_bf16,
    widen_f16,
};
use half::bf16;
use proptest::prelude::*;

/// Largest |got - want| relative to the largest |want| (a scale-aware error for vectors).
fn rel_error(got: &[f32], want: &[f64]) -> f64 {
    let scale = want.iter().fold(0.0f64, |m, w| m.max(w.abs())).max(1e-30);
    got.iter()
        .zip(want)
        .fold(0.0f64, |m, (g, w)| m.max((*g as f64 - w).abs()))
        / scale
}

#[test]
fn matmul_matches_f64_dot_products_for_each_weight_type() {
    let mut g = Gen::new(1);
    let (rows, cols, tokens) = (37, 333, 3);
    let w = g.vec(rows * cols, 0.5);
    let x = g.vec(tokens * cols, 2.0);
    let (wb, wh) = (to_bf16(&w), to_f16(&w));
    let widened: [Vec<f64>; 3] = [
        wb.iter().map(|v| v.to_f64()).collect(),
        wh.iter().map(|v| v.to_f64()).collect(),
        w.iter().map(|&v| v as f64).collect(),
    ];
    let views = [
        WeightView::bf16(&wb, rows, cols).unwrap(),
        WeightView::f16(&wh, rows, cols).unwrap(),
        WeightView::f32(&w, rows, cols).unwrap(),
    ];
    for (view, wide) in views.into_iter().zip(&widened) {
        let mut out = vec![0.0; tokens * rows];
        matmul(view, &x, &mut out).unwrap();
        let want: Vec<f64> = (0..tokens)
            .flat_map(|t| (0..rows).map(move |r| (t, r)))
            .map(|(t, r)| {
                (0..cols)
                    .map(|i| wide[r * cols + i] * bf16_factor(x[t * cols + i]) as f64)
                    .sum()
            })
            .collect();
        let err = rel_error(&out, &want);
        assert!(err < 1e-6, "{:?}: relative error {err}", view.data());
    }
}

#[test]
fn rms_norm_matches_f64_for_both_weight_styles() {
    let mut g = Gen::new(2);
    let (dim, rows) = (896, 3);
    let x = g.vec(rows * dim, 40.0);
    let w = g.vec(dim, 1.0);
    for (style, offset) in [(NormWeight::Scale, 0.0), (NormWeight::OnePlus, 1.0)] {
        let params = RmsNormParams {
            eps: 1e-6,
            weight: style,
        };
        let mut out = vec![0.0; x.len()];
        rms_norm(&x, &w, params, &mut out).unwrap();
        for r in 0..rows {
            let row = &x[r * dim..(r + 1) * dim];
            let ms = row.iter().map(|&v| (v as f64).powi(2)).sum::<f64>() / dim as f64;
            let inv = 1.0 / (ms + 1e-6).sqrt();
            let want: Vec<f64> = row
                .iter()
                .zip(&w)
                .map(|(&v, &s)| v as f64 * inv * (s as f64 + offset))
                .collect();
            let err = rel_error(&out[r * dim..(r + 1) * dim], &want);
            assert!(err < 1e-6, "{style:?} row {r}: relative error {err}");
        }
    }
}

#[test]
fn rope_rotates_the_pairs_each_layout_names() {
    let mut g = Gen::new(3);
    let (head_dim, n_heads, max_pos) = (64, 2, 5000);
    let inv_freq = inv_freq_from_base(10_000.0, head_dim).unwrap();
    let table = RopeTable::new(&inv_freq, max_pos).unwrap();
    let positions = [0u32, 1, 17, 4999];
    let x = g.vec(positions.len() * n_heads * head_dim, 3.0);
    let half = head_dim / 2;
    for layout in [RopeLayout::RotateHalf, RopeLayout::Interleaved] {
        let mut y = x.clone();
        rope_apply(&table, layout, &positions, &mut y, n_heads).unwrap();
        let mut want = vec![0.0f64; x.len()];
        for (t, &p) in positions.iter().enumerate() {
            for h in 0..n_heads {
                let base = (t * n_heads + h) * head_dim;
                for (i, &freq) in inv_freq.iter().enumerate() {
                    let (ia, ib) = match layout {
                        RopeLayout::RotateHalf => (i, i + half),
                        RopeLayout::Interleaved => (2 * i, 2 * i + 1),
                    };
                    let angle = p as f64 * freq as f64;
                    let (a, b) = (x[base + ia] as f64, x[base + ib] as f64);
                    want[base + ia] = a * angle.cos() - b * angle.sin();
                    want[base + ib] = b * angle.cos() + a * angle.sin();
                }
            }
        }
        let err = rel_error(&y, &want);
        assert!(err < 1e-6, "{layout:?}: relative error {err}");
    }
    assert_eq!(
        &table.cos()[..half],
        &vec![1.0; half][..],
        "position 0 is the identity"
    );
}

/// Causal softmax attention in f64 over the same bf16 keys and values and the same bf16
/// query factors, one query per position `0..len`; with a window `w`, query `t` sees keys
/// `j` with `t - j < w` only.
fn f64_attention(config: &AttentionConfig, q: &[f32], k: &[bf16], v: &[bf16]) -> Vec<f64> {
    let AttentionConfig {
        n_heads,
        n_kv_heads,
        head_dim,
        scale,
        window,
    } = *config;
    let len = q.len() / (n_heads * head_dim);
    let kv_at = |cache: &[bf16], p: usize, kvh: usize, d: usize| {
        cache[(p * n_kv_heads + kvh) * head_dim + d].to_f64()
    };
    let mut want = vec![0.0f64; q.len()];
    for t in 0..len {
        let seen = window.map_or(0, |w| (t + 1).saturating_sub(w))..=t;
        for h in 0..n_heads {
            let kvh = h / (n_heads / n_kv_heads);
            let qv: Vec<f64> = (0..head_dim)
                .map(|d| bf16_factor(q[(t * n_heads + h) * head_dim + d] * scale) as f64)
                .collect();
            let scores: Vec<(usize, f64)> = seen
                .clone()
                .map(|p| (p, (0..head_dim).map(|d| qv[d] * kv_at(k, p, kvh, d)).sum()))
                .collect();
            let m = scores.iter().fold(f64::NEG_INFINITY, |m, s| m.max(s.1));
            let e: Vec<(usize, f64)> = scores.iter().map(|&(p, s)| (p, (s - m).exp())).collect();
            let total: f64 = e.iter().map(|x| x.1).sum();
            for d in 0..head_dim {
                want[(t * n_heads + h) * head_dim + d] =
                    e.iter().map(|&(p, w)| w * kv_at(v, p, kvh, d)).sum::<f64>() / total;
            }
        }
    }
    want
}

/// Attention of one query per position over a random cache of `len` positions.
fn attention_against_f64(seed: u64, len: usize, window: Option<usize>) -> f64 {
    let mut g = Gen::new(seed);
    let (n_heads, n_kv_heads, head_dim) = (6, 2, 16);
    let config = AttentionConfig {
        n_heads,
        n_kv_heads,
        head_dim,
        scale: 0.25,
        window,
    };
    let k = to_bf16(&g.vec(len * n_kv_heads * head_dim, 2.0));
    let v = to_bf16(&g.vec(len * n_kv_heads * head_dim, 2.0));
    let q = g.vec(len * n_heads * head_dim, 2.0);
    let positions: Vec<u32> = (0..len as u32).collect();
    let mut out = vec![0.0; q.len()];
    attention(&config, &q, &positions, KvView { k: &k, v: &v }, &mut out).unwrap();
    rel_error(&out, &f64_attention(&config, &q, &k, &v))
}

#[test]
fn attention_matches_f64_causal_softmax_with_grouped_heads() {
    let err = attention_against_f64(4, 75, None);
    assert!(err < 2e-6, "relative error {err}");
}

#[test]
fn windowed_attention_matches_f64_softmax_over_the_last_window_keys() {
    // Windows of one key, inside a block, a whole block, across block boundaries (not a
    // multiple of 32), and wider than the context.
    for window in [1, 5, 32, 40, 71, 200] {
        let err = attention_against_f64(5, 110, Some(window));
        assert!(err < 2e-6, "window {window}: relative error {err}");
    }
}

#[test]
fn softmax_swiglu_add_and_embed_match_their_definitions() {
    let mut g = Gen::new(5);
    let logits = g.vec(1000, 20.0);
    let mut p = vec![0.0; logits.len()];
    softmax(&logits, &mut p).unwrap();
    let m = logits.iter().cloned().fold(f32::NEG_INFINITY, f32::max) as f64;
    let total: f64 = logits.iter().map(|&l| (l as f64 - m).exp()).sum();
    let want: Vec<f64> = logits
        .iter()
        .map(|&l| (l as f64 - m).exp() / total)
        .collect();
    assert!(rel_error(&p, &want) < 1e-6);

    let (gate, up) = (g.vec(500, 10.0), g.vec(500, 2.0));
    let mut act = vec![0.0; 500];
    swiglu(&gate, &up, &mut act).unwrap();
    let want: Vec<f64> = gate
        .iter()
        .zip(&up)
        .map(|(&a, &b)| a as f64 / (1.0 + (-(a as f64)).exp()) * b as f64)
        .collect();
    assert!(rel_error(&act, &want) < 1e-6);

    let (mut x, y) = (g.vec(64, 1.0), g.vec(64, 1.0));
    let want: Vec<f32> = x.iter().zip(&y).map(|(a, b)| a + b).collect();
    add(&mut x, &y).unwrap();
    assert_eq!(x, want);

    let table = to_bf16(&g.vec(10 * 8, 1.0));
    let mut rows = vec![0.0; 3 * 8];
    embed_gather(
        WeightView::bf16(&table, 10, 8).unwrap(),
        &[9, 0, 9],
        &mut rows,
    )
    .unwrap();
    let want: Vec<f32> = [9, 0, 9]
        .iter()
        .flat_map(|&t| table[t * 8..(t + 1) * 8].iter().map(|v| v.to_f32()))
        .collect();
    assert_eq!(rows, want);
}

#[test]
fn geglu_and_scale_match_their_definitions() {
    let mut g = Gen::new(6);
    let (gate, up) = (g.vec(500, 6.0), g.vec(500, 2.0));
    let mut act = vec![0.0; 500];
    geglu(&gate, &up, &mut act).unwrap();
    // transformers' gelu_pytorch_tanh, written with f64's tanh.
    let gelu = |x: f64| {
        let y = (2.0 / std::f64::consts::PI).sqrt() * (x + 0.044715 * x * x * x);
        0.5 * x * (1.0 + y.tanh())
    };
    let want: Vec<f64> = gate
        .iter()
        .zip(&up)
        .map(|(&a, &b)| gelu(a as f64) * b as f64)
        .collect();
    let err = rel_error(&act, &want);
    assert!(err < 1e-6, "geglu: relative error {err}");

    // One rounded f32 product per value: Gemma's embedding scale, sqrt(640).
    let factor = (640.0f64).sqrt() as f32;
    let mut x = g.vec(300, 1.0);
    let want: Vec<f32> = x.iter().map(|v| v * factor).collect();
    scale(&mut x, factor).unwrap();
    assert_eq!(x, want);
    // Canonical outputs: a denormal input reads as zero, a denormal product flushes to
    // signed zero, every NaN is the canonical one, infinities stay.
    let mut special = [
        f32::from_bits(1),
        -1.0e-20,
        f32::from_bits(0xFFC0_1234),
        f32::NEG_INFINITY,
    ];
    scale(&mut special, 1.0e-20).unwrap();
    assert_eq!(
        bits(&special),
        [
            0,
            0x8000_0000,
            fak_ops::CANONICAL_NAN_BITS,
            f32::NEG_INFINITY.to_bits()
        ]
    );
}

/// DETERMINISM.md §6's pair lanes for bf16 weights, written naively: lane `j < 16` takes
/// column `32c + 2j + 1`, then `32c + 2j`, chunk by chunk (columns past `n` skipped); lanes
/// 16..32 stay +0.0; then the canonical tree.
fn pair_lane_sum(n: usize, mut step: impl FnMut(usize, f32) -> f32) -> f32 {
    let mut lanes = [0.0f32; LANES];
    for chunk in (0..n).step_by(LANES) {
        for (j, lane) in lanes[..LANES / 2].iter_mut().enumerate() {
            for i in [chunk + 2 * j + 1, chunk + 2 * j] {
                if i < n {
                    *lane = step(i, *lane);
                }
            }
        }
    }
    fold_sum(lanes)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(32))]

    /// The kernels (SIMD, padded last chunk, token groups) compute exactly the order that
    /// DETERMINISM.md §1 and §6 spell out, written here naively with `lane_sum`.
    #[test]
    fn matmul_follows_the_documented_lane_order_bit_for_bit(
        seed in any::<u64>(), rows in 1usize..9, cols in 1usize..200, tokens in 1usize..7,
    ) {
        let mut g = Gen::new(seed);
        let w = g.vec(rows * cols, 0.5);
        let x = g.vec(tokens * cols, 3.0);
        let (wb, wh) = (to_bf16(&w), to_f16(&w));
        let xf: Vec<f32> = x.iter().map(|&v| bf16_factor(v)).collect();
        let spec = |t: usize, r: usize, kind: usize| -> u32 {
            let at = |i: usize| (r * cols + i, xf[t * cols + i]);
            let step = |i: usize, acc: f32| {
                let (k, xv) = at(i);
                match kind {
                    0 => Unfused::mul_add(widen_bf16(domain_bf16(wb[k].to_bits())), xv, acc),
                    1 => Unfused::mul_add(widen_f16(wh[k].to_bits()), xv, acc),
                    _ => {
                        let (head, tail) = split(w[k]);
                        Unfused::mul_add(tail, xv, Unfused::mul_add(head, xv, acc))
                    }
                }
            };
            let sum = if kind == 0 { pair_lane_sum(cols, step) } else { lane_sum(cols, step) };
            canonical(sum).to_bits()
        };
        let views = [
            WeightView::bf16(&wb, rows, cols).unwrap(),
            WeightView::f16(&wh, rows, cols).unwrap(),
            WeightView::f32(&w, rows, cols).unwrap(),
        ];
        for (kind, view) in views.into_iter().enumerate() {
            let mut out = vec![0.0; tokens * rows];
            matmul(view, &x, &mut out).unwrap();
            for t in 0..tokens {
                for r in 0..rows {
                    prop_assert_eq!(out[t * rows + r].to_bits(), spec(t, r, kind), "kind {} t {} r {}", kind, t, r);
                }
            }
        }
    }
}
