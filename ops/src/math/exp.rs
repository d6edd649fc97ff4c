//! exp(x): Cody-Waite reduction by ln 2, a degree-7 Taylor polynomial, exponent assembly.

use std::f64::consts::{LN_2, LOG2_E};

use super::pow2::scale_by_pow2;
use crate::arith::{MulAdd, Unfused};
use crate::canonical::{canonical_nan, ftz, is_nan_bits};
use crate::exact_product::{mul_add_pieces, split, split_in_domain, split_mul_add};

/// exp(89) is above f32::MAX: the result is +inf from here up.
const OVERFLOW_ABOVE: f32 = 89.0;
/// exp(-88) is below 2^-126: the result would be denormal and is flushed to +0.0.
const UNDERFLOW_BELOW: f32 = -88.0;
/// 1.5 * 2^23: adding and subtracting it rounds an f32 below 2^22 to the nearest integer,
/// ties to even, with two plain adds.
const ROUND_MAGIC: f32 = 12_582_912.0;

/// `x` truncated to its leading `bits` significant bits (a const-evaluable bit mask).
const fn leading_bits(x: f64, bits: u32) -> f64 {
    f64::from_bits(x.to_bits() & !((1u64 << (53 - bits)) - 1))
}

// ln 2 as three 16-bit pieces: k has at most 8 significant bits (|k| <= 128), so each
// k * LN2_i has at most 24 and is exact. Together they carry 48 bits of ln 2.
const LN2_1: f64 = leading_bits(LN_2, 16);
const LN2_2: f64 = leading_bits(LN_2 - LN2_1, 16);
const LN2_3: f64 = leading_bits(LN_2 - LN2_1 - LN2_2, 16);

/// 1/n! for n = 7 down to 2: the Taylor coefficients evaluated by Horner's rule.
const INV_FACTORIALS: [f32; 6] = [
    1.0 / 5040.0,
    1.0 / 720.0,
    1.0 / 120.0,
    1.0 / 24.0,
    1.0 / 6.0,
    1.0 / 2.0,
];

/// e^x with the default (unfused) evaluation; see [`exp_with`].
pub fn exp(x: f32) -> f32 {
    exp_with::<Unfused>(x)
}

/// e^x, identical bits under any [`MulAdd`].
///
/// `k = round(x * log2 e)`, `r = x - k ln 2` (|r| <= 0.35), `p = 1 + r + ... + r^7/7!` by
/// Horner with [`split_mul_add`], result `p * 2^k` by exponent arithmetic. NaN gives the
/// canonical NaN, x > 89 gives +inf, results below 2^-126 (x < about -87.34) give +0.0.
/// Accuracy: DETERMINISM.md §4 and `tests/math_accuracy.rs`.
///
/// Branch-free: an input outside the polynomial's range runs it on 0.0 and takes its
/// result from the selects at the end, so a loop of these over a slice vectorises (each
/// lane computes exactly the steps above).
#[inline(always)]
pub fn exp_with<A: MulAdd>(x: f32) -> f32 {
    let x = ftz(x);
    // False for NaN too: every comparison with NaN is false.
    let in_range = (UNDERFLOW_BELOW..=OVERFLOW_ABOVE).contains(&x);
    let xr = if in_range { x } else { 0.0 };
    let t = split_mul_add::<A>(xr, LOG2_E as f32, 0.0);
    let k = (t + ROUND_MAGIC) - ROUND_MAGIC;
    let r = A::mul_add(-k, LN2_1 as f32, xr);
    let r = A::mul_add(-k, LN2_2 as f32, r);
    let r = A::mul_add(-k, LN2_3 as f32, r);
    let r = split(r);
    // With |r| <= 0.35 every coefficient outweighs the term before it, so each q lies in
    // [1e-4, 1.5]: in the factor domain, split without its checks.
    let mut q = INV_FACTORIALS[0];
    for &c in &INV_FACTORIALS[1..] {
        q = mul_add_pieces::<A>(split_in_domain(q), r, c);
    }
    let q = mul_add_pieces::<A>(split_in_domain(q), r, 1.0);
    let p = mul_add_pieces::<A>(split_in_domain(q), r, 1.0);
    let y = scale_by_pow2(p, k as i32);
    if is_nan_bits(x) {
        canonical_nan()
    } else if x > OVERFLOW_ABOVE {
        f32::INFINITY
    } else if x < UNDERFLOW_BELOW {
        0.0
    } else {
        y
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ln2_pieces_have_sixteen_bits_and_sum_to_ln2() {
        for piece in [LN2_1, LN2_2, LN2_3] {
            let f = piece as f32;
            assert_eq!(f as f64, piece, "piece is an exact f32");
            let mantissa = (f.to_bits() & 0x007F_FFFF) | 0x0080_0000;
            assert!(24 - mantissa.trailing_zeros() <= 16);
        }
        assert!((LN2_1 + LN2_2 + LN2_3 - LN_2).abs() < 1.0e-14);
    }

    #[test]
    fn exp_edges_follow_the_policy() {
        assert_eq!(exp(0.0), 1.0);
        assert_eq!(exp(-0.0), 1.0);
        assert_eq!(exp(f32::NEG_INFINITY).to_bits(), 0);
        assert_eq!(exp(f32::INFINITY), f32::INFINITY);
        assert_eq!(exp(89.5), f32::INFINITY);
        assert_eq!(exp(-87.5).to_bits(), 0);
        assert_eq!(
            exp(f32::NAN).to_bits(),
            crate::canonical::CANONICAL_NAN_BITS
        );
    }
}
