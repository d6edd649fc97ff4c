//! Accuracy of the deterministic math against f64 references, over the ranges the ops use.
//! The bounds asserted here are the ones DETERMINISM.md §4 documents. Each sweep visits
//! every `stride`-th f32 bit pattern of its range (both signs where the range is signed);
//! `FAK_OPS_ACCURACY_STRIDE=37` gives the denser sweep whose figures the document quotes.

use fak_ops::math::{exp, gelu_tanh, recip, rsqrt, sigmoid, silu};

const DEFAULT_STRIDE: usize = 1009;

fn stride() -> usize {
    std::env::var("FAK_OPS_ACCURACY_STRIDE")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(DEFAULT_STRIDE)
}

/// Distance from `got` to the exact `reference`, in units in the last place of the f32
/// nearest to `reference` (normal range only: the ops flush denormals).
fn ulp_error(got: f32, reference: f64) -> f64 {
    let nearest = (reference as f32).abs();
    let exponent = ((nearest.to_bits() >> 23) as i32 - 127).max(-126);
    (got as f64 - reference).abs() / 2.0f64.powi(exponent - 23)
}

/// Every `stride()`-th f32 with magnitude in `[lo, hi]`, negated too when `signed`.
fn sweep(lo: f32, hi: f32, signed: bool) -> Vec<f32> {
    let positive: Vec<f32> = (lo.to_bits()..=hi.to_bits())
        .step_by(stride())
        .map(f32::from_bits)
        .chain([lo, hi])
        .collect();
    let negative = positive.iter().map(|v| -v).filter(|_| signed);
    positive
        .iter()
        .copied()
        .chain(negative.collect::<Vec<_>>())
        .collect()
}

/// The largest ULP error of `f` against `reference` over `values`, and where it occurs.
fn worst_ulp(values: &[f32], f: impl Fn(f32) -> f32, reference: impl Fn(f64) -> f64) -> (f64, f32) {
    values.iter().fold((0.0, 0.0), |worst, &x| {
        let e = ulp_error(f(x), reference(x as f64));
        if e > worst.0 { (e, x) } else { worst }
    })
}

fn assert_within(name: &str, bound: f64, (err, at): (f64, f32)) {
    println!("{name}: max {err:.3} ulp at {at:e}");
    assert!(
        err <= bound,
        "{name}: {err} ulp at x = {at:e} exceeds {bound}"
    );
}

#[test]
fn exp_is_within_two_ulp_over_its_whole_normal_range() {
    // exp(x) is a normal f32 for x in [ln 2^-126, ln f32::MAX] = [-87.336, 88.722].
    let mut xs = sweep(1.0e-30, 87.33, true);
    xs.extend(sweep(87.33, 88.72, false));
    assert_within("exp", 2.0, worst_ulp(&xs, exp, f64::exp));
}

#[test]
fn recip_is_within_one_ulp_over_the_normal_range() {
    // Inputs whose reciprocal is normal: |a| up to 2^126.
    let xs = sweep(f32::MIN_POSITIVE, 2.0f32.powi(126), true);
    assert_within("recip", 1.0, worst_ulp(&xs, recip, |x| 1.0 / x));
}

#[test]
fn rsqrt_is_within_one_ulp_over_the_positive_normal_range() {
    let xs = sweep(f32::MIN_POSITIVE, f32::MAX, false);
    assert_within("rsqrt", 1.0, worst_ulp(&xs, rsqrt, |x| 1.0 / x.sqrt()));
}

#[test]
fn sigmoid_is_within_four_ulp_where_its_result_is_normal() {
    // Below -87 the result is under 2^-126 and flushed; above 17 it rounds to 1.
    let xs = sweep(1.0e-30, 87.0, true);
    assert_within(
        "sigmoid",
        4.0,
        worst_ulp(&xs, sigmoid, |x| 1.0 / (1.0 + (-x).exp())),
    );
}

#[test]
fn silu_is_within_four_ulp_where_its_result_is_normal() {
    let xs = sweep(1.0e-30, 80.0, true);
    assert_within(
        "silu",
        4.0,
        worst_ulp(&xs, silu, |x| x / (1.0 + (-x).exp())),
    );
}

/// `2y = 2 sqrt(2/pi) (x + 0.044715 x^3)`, the argument of GELU's sigmoid, in f64.
fn gelu_z(x: f64) -> f64 {
    2.0 * (2.0 / std::f64::consts::PI).sqrt() * (x + 0.044715 * x * x * x)
}

/// `0.5 x (1 + tanh(y))` in its equal form `x / (1 + e^-2y)`: f64's `1 + tanh(y)` cancels
/// to 0 for y below about -19, where GELU is still a normal f32.
fn gelu_reference(x: f64) -> f64 {
    x / (1.0 + (-gelu_z(x)).exp())
}

#[test]
fn gelu_tanh_is_within_four_ulp_from_minus_one_up() {
    // Above 8 the result is x itself; below -1 see the next test.
    let mut xs = sweep(1.0e-30, 1.0, true);
    xs.extend(sweep(1.0, 80.0, false));
    assert_within("gelu_tanh", 4.0, worst_ulp(&xs, gelu_tanh, gelu_reference));
}

#[test]
fn gelu_tanh_below_minus_one_is_within_the_conditioning_of_its_sigmoid() {
    // There gelu(x) ~ x e^z with z = 2y rounded to f32: a relative error r in z is one of
    // r |z| in the result, so the bound grows with |z| (up to 87 where the result leaves
    // the normal range at x = -10.0). Measured as ulp beyond 4, per unit of |z|.
    let xs: Vec<f32> = sweep(1.0, 10.0, true)
        .into_iter()
        .filter(|&x| x < 0.0)
        .collect();
    let per_unit_of_z = |x: f32| {
        let reference = gelu_reference(x as f64);
        if reference.abs() < f32::MIN_POSITIVE as f64 {
            return 0.0;
        }
        (ulp_error(gelu_tanh(x), reference) - 4.0).max(0.0) / gelu_z(x as f64).abs()
    };
    let (worst, at) = xs.iter().fold((0.0, 0.0), |w, &x| {
        let e = per_unit_of_z(x);
        if e > w.0 { (e, x) } else { w }
    });
    let (ulp, ulp_at) = worst_ulp(&xs, gelu_tanh, gelu_reference);
    println!("gelu_tanh below -1: max {ulp:.3} ulp at {ulp_at:e}");
    assert_within(
        "gelu_tanh below -1, ulp beyond 4 per unit of |z|",
        3.5,
        (worst, at),
    );
}

#[test]
fn exp_overflow_and_underflow_thresholds_match_f32_limits() {
    // The largest x whose exp is finite and the smallest whose exp is normal.
    let top = 88.722_83_f32;
    assert!(exp(top).is_finite() && exp(top) > 3.4e38);
    assert_eq!(exp(f32::from_bits(top.to_bits() + 1)), f32::INFINITY);
    assert!(exp(-87.336_54) >= f32::MIN_POSITIVE);
    assert_eq!(
        exp(-87.34).to_bits(),
        0,
        "a denormal result is flushed to +0"
    );
}
