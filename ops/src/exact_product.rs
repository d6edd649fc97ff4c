//! Products that are exact in f32, so fused and unfused evaluation agree bit for bit.
//!
//! A product of two factors with at most 12 significant bits each has at most 24 and fits an
//! f32 significand exactly, provided it neither overflows nor lands in the denormal range.
//! [`domain`] bounds every factor so that it cannot (DETERMINISM.md §3), and [`split`] cuts a
//! full f32 into a 12-bit head and a tail of at most 12 bits. [`split_mul_add`] and
//! [`two_prod_sum`] build `a*b + c` and `a*b + c*d` for arbitrary f32 factors from those exact
//! partial products, added in a fixed order.

use crate::arith::MulAdd;
use crate::canonical::canonical_nan;

/// Smallest magnitude a factor keeps: 2^-40 (biased exponent 87). Below it, a factor is zero.
pub const DOMAIN_MIN_BITS: u32 = 87 << 23;
/// Magnitude from which a factor is NaN: 2^64 (biased exponent 191), infinities included.
pub const DOMAIN_MAX_BITS: u32 = 191 << 23;

/// Keeps the 12 leading significant bits of an f32 (implicit bit plus 11 stored bits).
pub(crate) const HEAD_MASK: u32 = 0xFFFF_F000;

/// The factor domain: zero, or a magnitude in [2^-40, 2^64).
///
/// Smaller magnitudes become zero of the same sign; larger ones, infinities and NaN become
/// the canonical NaN. Within the domain every partial product of [`split`] pieces is a
/// normal f32 that is a multiple of 2^-126 and below 2^128, which is what makes it exact.
#[inline(always)]
pub fn domain(v: f32) -> f32 {
    let bits = v.to_bits();
    let magnitude = bits & 0x7FFF_FFFF;
    if magnitude >= DOMAIN_MAX_BITS {
        canonical_nan()
    } else if magnitude < DOMAIN_MIN_BITS {
        f32::from_bits(bits & 0x8000_0000)
    } else {
        v
    }
}

/// Splits `domain(v)` into `(head, tail)` with `head + tail == domain(v)` exactly.
///
/// The head keeps the leading 12 significant bits (bit masking), the tail is the exact
/// difference and has at most 12 significant bits. A NaN splits into `(NaN, NaN)`.
#[inline(always)]
pub fn split(v: f32) -> (f32, f32) {
    split_in_domain(domain(v))
}

/// [`split`] of a value the caller knows lies in the factor domain already (zero, or a
/// magnitude in [2^-40, 2^64)): the same pieces without the domain's checks, which are
/// most of a split's work. Checked in debug builds.
#[inline(always)]
pub(crate) fn split_in_domain(v: f32) -> (f32, f32) {
    debug_assert_eq!(
        domain(v).to_bits(),
        v.to_bits(),
        "{v} is outside the factor domain"
    );
    let head = f32::from_bits(v.to_bits() & HEAD_MASK);
    (head, v - head)
}

/// `a * b + c` for any f32 `a`, `b`: four exact partial products, small ones first.
///
/// Order: `lo = at*bt`, `lo += ah*bt`, `lo += at*bh`, `hi = ah*bh + c`, result `hi + lo`.
/// `c` must be zero or a multiple of 2^-126 (every sum of exact products is).
#[inline(always)]
pub fn split_mul_add<A: MulAdd>(a: f32, b: f32, c: f32) -> f32 {
    mul_add_pieces::<A>(split(a), split(b), c)
}

/// [`split_mul_add`] from the pieces of `a` and `b` ([`split`] or [`split_in_domain`]): a
/// factor used in several products is split once.
#[inline(always)]
pub(crate) fn mul_add_pieces<A: MulAdd>((ah, at): (f32, f32), (bh, bt): (f32, f32), c: f32) -> f32 {
    let lo = at * bt;
    let lo = A::mul_add(ah, bt, lo);
    let lo = A::mul_add(at, bh, lo);
    let hi = A::mul_add(ah, bh, c);
    hi + lo
}

/// `a * b + c * d` for any f32 factors: eight exact partial products in a fixed order.
///
/// Order: `lo = at*bt + ct*dt`, then `+= ah*bt`, `+= at*bh`, `+= ch*dt`, `+= ct*dh`;
/// `hi = ah*bh + ch*dh`; result `hi + lo`.
#[inline(always)]
pub fn two_prod_sum<A: MulAdd>(a: f32, b: f32, c: f32, d: f32) -> f32 {
    let (ah, at) = split(a);
    let (bh, bt) = split(b);
    let (ch, ct) = split(c);
    let (dh, dt) = split(d);
    let lo = A::mul_add(at, bt, ct * dt);
    let lo = A::mul_add(ah, bt, lo);
    let lo = A::mul_add(at, bh, lo);
    let lo = A::mul_add(ch, dt, lo);
    let lo = A::mul_add(ct, dh, lo);
    let hi = A::mul_add(ah, bh, ch * dh);
    hi + lo
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::arith::{Fused, Unfused};

    fn significant_bits(v: f32) -> u32 {
        if v == 0.0 {
            return 0;
        }
        let mantissa = (v.to_bits() & 0x007F_FFFF) | 0x0080_0000;
        24 - mantissa.trailing_zeros()
    }

    #[test]
    fn split_pieces_have_at_most_twelve_bits_and_sum_exactly() {
        for v in [1.0f32, -5.432_1, 1.0e-10, 123_456.79, 0.333_333_34, 1.0e18] {
            let (h, t) = split(v);
            assert!(significant_bits(h) <= 12, "head of {v}");
            assert!(significant_bits(t) <= 12, "tail of {v}");
            assert_eq!((h as f64) + (t as f64), v as f64);
        }
    }

    #[test]
    fn domain_flushes_small_and_poisons_large_factors() {
        assert_eq!(domain(1.0e-13).to_bits(), 0);
        assert_eq!(domain(-1.0e-13).to_bits(), 0x8000_0000);
        assert_eq!(domain(2.0f32.powi(-40)), 2.0f32.powi(-40));
        assert!(domain(2.0f32.powi(64)).is_nan());
        assert!(domain(f32::NEG_INFINITY).is_nan());
        assert_eq!(domain(-7.5), -7.5);
    }

    #[test]
    fn split_mul_add_matches_f64_within_one_ulp_either_way() {
        let cases = [
            (1.1f32, 2.3f32, 0.7f32),
            (-5.5, 0.125, 3.0),
            (1.0e10, 3.3e-5, -2.0e5),
        ];
        for (a, b, c) in cases {
            let exact = (a as f64) * (b as f64) + c as f64;
            let unfused = split_mul_add::<Unfused>(a, b, c);
            let fused = split_mul_add::<Fused>(a, b, c);
            assert_eq!(unfused.to_bits(), fused.to_bits());
            let ulp = (exact as f32).abs() * f32::EPSILON;
            assert!(
                ((unfused as f64) - exact).abs() <= ulp as f64,
                "{a}*{b}+{c}"
            );
        }
    }
}
