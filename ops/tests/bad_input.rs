//! Bad input gets an error naming the problem, or the documented result, never a panic or
//! an out-of-bounds read.

mod common;

use common::{Gen, bits, to_bf16};
use fak_ops::{
    AttentionConfig, CANONICAL_NAN_BITS, KvView, NormWeight, OpsError, RmsNormParams, RopeLayout,
    RopeTable, Sampler, SamplingParams, WeightView, add, argmax, attention, embed_gather, geglu,
    inv_freq_from_base, matmul, matvec, rms_norm, rope_apply, scale, softmax, swiglu,
    to_bf16 as round_slice,
};
use half::bf16;
use proptest::prelude::*;

const NAN: u32 = CANONICAL_NAN_BITS;

#[test]
fn matvec_names_the_mismatched_buffer() {
    let w = vec![bf16::ONE; 12];
    let view = WeightView::bf16(&w, 3, 4).unwrap();
    let mut out = vec![0.0; 3];
    assert_eq!(
        matvec(view, &[1.0; 5], &mut out),
        Err(OpsError::Length {
            op: "matvec",
            what: "x",
            expected: 4,
            got: 5
        })
    );
    assert_eq!(
        matvec(view, &[1.0; 4], &mut out[..2]),
        Err(OpsError::Length {
            op: "matvec",
            what: "out",
            expected: 3,
            got: 2
        })
    );
    assert_eq!(
        matmul(view, &[1.0; 6], &mut out),
        Err(OpsError::NotMultiple {
            op: "matmul",
            what: "x",
            len: 6,
            unit: 4
        })
    );
    assert_eq!(
        matmul(view, &[], &mut out),
        Err(OpsError::Empty {
            op: "matmul",
            what: "x"
        })
    );
    let message = matvec(view, &[1.0; 5], &mut out).unwrap_err().to_string();
    assert_eq!(message, "matvec: x has length 5, expected 4");
}

#[test]
fn matvec_maps_non_finite_and_out_of_domain_values_to_documented_results() {
    let w = to_bf16(&[1.0, 2.0, 1.0e-20, 1.0e30]);
    let view = WeightView::bf16(&w[..2], 1, 2).unwrap();
    let mut out = [0.0];
    matvec(view, &[f32::NAN, 1.0], &mut out).unwrap();
    assert_eq!(
        out[0].to_bits(),
        NAN,
        "NaN activation gives the canonical NaN"
    );
    matvec(view, &[f32::INFINITY, 1.0], &mut out).unwrap();
    assert_eq!(
        out[0].to_bits(),
        NAN,
        "an infinite activation is outside the factor domain"
    );
    matvec(view, &[1.0e-13, 3.0], &mut out).unwrap();
    assert_eq!(out[0], 6.0, "activations below 2^-40 count as zero");
    let tiny = WeightView::bf16(&w[2..3], 1, 1).unwrap();
    matvec(tiny, &[5.0], &mut out).unwrap();
    assert_eq!(out[0].to_bits(), 0, "weights below 2^-40 count as zero");
    let huge = WeightView::bf16(&w[3..4], 1, 1).unwrap();
    matvec(huge, &[5.0], &mut out).unwrap();
    assert_eq!(out[0].to_bits(), NAN, "weights of 2^64 and up give NaN");
}

#[test]
fn rms_norm_refuses_bad_shapes_and_eps() {
    let params = RmsNormParams {
        eps: 1e-6,
        weight: NormWeight::Scale,
    };
    let mut out = vec![0.0; 6];
    assert_eq!(
        rms_norm(&[1.0; 6], &[1.0; 4], params, &mut out),
        Err(OpsError::NotMultiple {
            op: "rms_norm",
            what: "x",
            len: 6,
            unit: 4
        })
    );
    assert_eq!(
        rms_norm(&[1.0; 6], &[], params, &mut out),
        Err(OpsError::Empty {
            op: "rms_norm",
            what: "weight"
        })
    );
    let bad_eps = RmsNormParams {
        eps: f32::NAN,
        ..params
    };
    assert!(matches!(
        rms_norm(&[1.0; 6], &[1.0; 3], bad_eps, &mut out),
        Err(OpsError::InvalidParam { param: "eps", .. })
    ));
    rms_norm(&[0.0; 6], &[1.0; 3], params, &mut out).unwrap();
    assert_eq!(out, vec![0.0; 6], "an all-zero row normalises to zeros");
    rms_norm(&[1.0, f32::NAN, 1.0], &[1.0; 3], params, &mut out[..3]).unwrap();
    assert_eq!(bits(&out[..3]), vec![NAN; 3], "a NaN poisons its row");
}

#[test]
fn rope_refuses_positions_outside_the_table_and_bad_shapes() {
    let table = RopeTable::new(&inv_freq_from_base(10_000.0, 8).unwrap(), 16).unwrap();
    let mut x = vec![1.0; 2 * 8];
    assert_eq!(
        rope_apply(&table, RopeLayout::RotateHalf, &[3, 16], &mut x, 1),
        Err(OpsError::OutOfRange {
            op: "rope_apply",
            what: "position",
            index: 16,
            len: 16
        })
    );
    assert_eq!(
        rope_apply(&table, RopeLayout::Interleaved, &[3], &mut x, 1),
        Err(OpsError::Length {
            op: "rope_apply",
            what: "x",
            expected: 8,
            got: 16
        })
    );
    assert!(matches!(
        inv_freq_from_base(10_000.0, 7),
        Err(OpsError::NotMultiple { .. })
    ));
    assert!(matches!(
        inv_freq_from_base(0.5, 8),
        Err(OpsError::InvalidParam { param: "base", .. })
    ));
    assert!(matches!(
        RopeTable::new(&[f32::NAN], 4),
        Err(OpsError::NonFinite {
            what: "inv_freq",
            ..
        })
    ));
    assert!(matches!(
        RopeTable::new(&[], 4),
        Err(OpsError::Empty { .. })
    ));
    assert!(matches!(
        RopeTable::new(&[1.0; 64], 1 << 29),
        Err(OpsError::TooLarge { .. })
    ));
}

#[test]
fn attention_refuses_positions_past_the_cache_and_bad_heads() {
    let config = AttentionConfig {
        n_heads: 4,
        n_kv_heads: 2,
        head_dim: 8,
        scale: 0.35,
        window: None,
    };
    let kv = vec![bf16::ONE; 3 * 2 * 8];
    let view = KvView { k: &kv, v: &kv };
    let q = vec![1.0; 4 * 8];
    let mut out = vec![0.0; q.len()];
    assert_eq!(
        attention(&config, &q, &[3], view, &mut out),
        Err(OpsError::OutOfRange {
            op: "attention",
            what: "query position",
            index: 3,
            len: 3
        })
    );
    let uneven = AttentionConfig {
        n_kv_heads: 3,
        ..config
    };
    assert!(matches!(
        attention(&uneven, &q, &[0], view, &mut out),
        Err(OpsError::NotDivisible { .. })
    ));
    let short_v = KvView {
        k: &kv,
        v: &kv[..40],
    };
    assert!(matches!(
        attention(&config, &q, &[0], short_v, &mut out),
        Err(OpsError::Length { what: "v", .. })
    ));
    assert!(matches!(
        attention(&config, &q, &[], view, &mut out),
        Err(OpsError::Empty { .. })
    ));
    let no_scale = AttentionConfig {
        scale: f32::INFINITY,
        ..config
    };
    assert!(matches!(
        attention(&no_scale, &q, &[0], view, &mut out),
        Err(OpsError::InvalidParam { .. })
    ));
    let overflowing = AttentionConfig {
        n_heads: usize::MAX / 2,
        n_kv_heads: 1,
        ..config
    };
    assert!(matches!(
        attention(&overflowing, &q, &[0], view, &mut out),
        Err(OpsError::TooLarge { .. })
    ));
    attention(&config, &q, &[2], view, &mut out).unwrap();
    assert!(
        out.iter().all(|&v| v == 1.0),
        "equal values average to themselves"
    );
}

#[test]
fn attention_refuses_a_window_of_zero_keys_by_name() {
    let config = AttentionConfig {
        n_heads: 1,
        n_kv_heads: 1,
        head_dim: 4,
        scale: 0.5,
        window: Some(0),
    };
    let kv = vec![bf16::ONE; 4];
    let mut out = vec![0.0; 4];
    let err = attention(
        &config,
        &[1.0; 4],
        &[0],
        KvView { k: &kv, v: &kv },
        &mut out,
    )
    .expect_err("a window of zero keys sees nothing");
    assert!(
        matches!(
            err,
            OpsError::InvalidParam {
                param: "window",
                ..
            }
        ),
        "{err:?}"
    );
    assert!(err.to_string().contains("window"), "{err}");
    assert_eq!(out, [0.0; 4], "a refused call writes nothing");
}

#[test]
fn softmax_argmax_and_sampler_refuse_nan_and_rows_without_a_finite_value() {
    let mut out = [0.0; 3];
    assert!(matches!(
        softmax(&[1.0, f32::NAN, 0.0], &mut out),
        Err(OpsError::NonFinite { index: 1, .. })
    ));
    assert!(matches!(
        softmax(&[1.0, f32::INFINITY, 0.0], &mut out),
        Err(OpsError::NonFinite { .. })
    ));
    assert_eq!(
        softmax(&[f32::NEG_INFINITY; 3], &mut out),
        Err(OpsError::NoFiniteValue {
            op: "softmax",
            what: "x"
        })
    );
    softmax(&[0.0, f32::NEG_INFINITY, 0.0], &mut out).unwrap();
    assert_eq!(out, [0.5, 0.0, 0.5], "-inf is a masked entry");
    assert!(matches!(argmax(&[]), Err(OpsError::Empty { .. })));
    assert!(matches!(
        argmax(&[0.0, f32::NAN]),
        Err(OpsError::NonFinite { index: 1, .. })
    ));
    let params = SamplingParams {
        temperature: 0.7,
        top_k: 0,
        top_p: 1.0,
    };
    let mut sampler = Sampler::new(params, 1).unwrap();
    assert!(matches!(
        sampler.sample(&[f32::NEG_INFINITY]),
        Err(OpsError::NoFiniteValue { .. })
    ));
    assert!(matches!(sampler.sample(&[]), Err(OpsError::Empty { .. })));
    for (temperature, top_p) in [(-1.0, 1.0), (f32::NAN, 1.0), (1.0, 0.0), (1.0, 1.5)] {
        let bad = SamplingParams {
            temperature,
            top_k: 0,
            top_p,
        };
        assert!(matches!(
            Sampler::new(bad, 0),
            Err(OpsError::InvalidParam { .. })
        ));
    }
}

#[test]
fn elementwise_ops_and_gather_refuse_mismatches() {
    let mut out = [0.0; 2];
    assert!(matches!(
        swiglu(&[1.0; 2], &[1.0; 3], &mut out),
        Err(OpsError::Length { what: "up", .. })
    ));
    assert_eq!(
        geglu(&[1.0; 2], &[1.0; 2], &mut [0.0; 3]),
        Err(OpsError::Length {
            op: "geglu",
            what: "out",
            expected: 2,
            got: 3
        })
    );
    assert!(matches!(
        geglu(&[], &[], &mut []),
        Err(OpsError::Empty { op: "geglu", .. })
    ));
    assert!(matches!(
        scale(&mut [], 2.0),
        Err(OpsError::Empty { op: "scale", .. })
    ));
    for factor in [f32::NAN, f32::INFINITY, f32::NEG_INFINITY] {
        let mut x = [1.0f32; 2];
        assert!(matches!(
            scale(&mut x, factor),
            Err(OpsError::InvalidParam {
                op: "scale",
                param: "factor",
                ..
            })
        ));
        assert_eq!(x, [1.0; 2], "a refused scale writes nothing");
    }
    assert!(matches!(
        add(&mut out, &[1.0]),
        Err(OpsError::Length { what: "y", .. })
    ));
    assert!(matches!(add(&mut [], &[]), Err(OpsError::Empty { .. })));
    let table = vec![bf16::ONE; 4 * 2];
    let view = WeightView::bf16(&table, 4, 2).unwrap();
    assert_eq!(
        embed_gather(view, &[4], &mut out),
        Err(OpsError::OutOfRange {
            op: "embed_gather",
            what: "token",
            index: 4,
            len: 4
        })
    );
    let mut small = [bf16::ZERO; 1];
    assert!(matches!(
        round_slice(&[1.0, 2.0], &mut small),
        Err(OpsError::Length { .. })
    ));
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn random_shapes_never_panic(
        seed in any::<u64>(), rows in 0usize..6, cols in 0usize..6, n in 0usize..40, m in 0usize..40,
        heads in 0usize..5, kv_heads in 0usize..5, head_dim in 0usize..6, pos in 0u32..12,
    ) {
        let mut g = Gen::new(seed);
        let x = g.any_bits(n);
        let mut out = vec![0.0; m];
        let w = to_bf16(&g.vec(rows * cols, 1.0));
        if let Ok(view) = WeightView::bf16(&w, rows, cols) {
            let _ = matvec(view, &x, &mut out);
            let _ = matmul(view, &x, &mut out);
            let tokens: Vec<u32> = (0..n as u32).collect();
            let _ = embed_gather(view, &tokens, &mut out);
        }
        let params = RmsNormParams { eps: 1e-5, weight: NormWeight::OnePlus };
        let _ = rms_norm(&x, &x[..n.min(cols)], params, &mut out);
        let _ = swiglu(&x, &x, &mut out);
        let _ = geglu(&x, &x, &mut out);
        let _ = scale(&mut out, x.first().copied().unwrap_or(1.0));
        let _ = softmax(&x, &mut out);
        let _ = argmax(&x);
        if let Ok(table) = inv_freq_from_base(10_000.0, head_dim).and_then(|inv| RopeTable::new(&inv, 8)) {
            let mut y = x.clone();
            let _ = rope_apply(&table, RopeLayout::Interleaved, &[pos], &mut y, heads);
        }
        let window = [None, Some(0), Some(1), Some(rows)][(seed % 4) as usize];
        let config = AttentionConfig { n_heads: heads, n_kv_heads: kv_heads, head_dim, scale: 0.5, window };
        let kv = to_bf16(&g.vec(m, 1.0));
        let _ = attention(&config, &x, &[pos], KvView { k: &kv, v: &kv }, &mut out);
        let mut sampler = Sampler::new(SamplingParams { temperature: 1.0, top_k: rows, top_p: 0.9 }, seed).unwrap();
        let _ = sampler.sample(&x);
    }
}
