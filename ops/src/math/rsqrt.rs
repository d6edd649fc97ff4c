//! 1/sqrt(a): even-exponent normalisation, a bit-trick first guess, Newton steps.

use super::pow2::scale_by_pow2;
use crate::arith::{MulAdd, Unfused};
use crate::canonical::{canonical_nan, ftz, is_nan_bits};
use crate::exact_product::split_mul_add;

/// The classic first guess for 1/sqrt(m) from the bits of m: relative error below 3.5%.
/// Three Newton steps bring that under 2^-24 (each step takes e to about 1.5 e^2).
const GUESS_MAGIC: u32 = 0x5F37_59DF;
const NEWTON_STEPS: usize = 3;

/// 1/sqrt(a) with the default (unfused) evaluation; see [`rsqrt_with`].
pub fn rsqrt(a: f32) -> f32 {
    rsqrt_with::<Unfused>(a)
}

/// 1/sqrt(a), identical bits under any [`MulAdd`].
///
/// `a = m * 2^(2h)` with m in [1, 4); `y ~ 1/sqrt(m)` refined by `y += (y/2) (1 - m y^2)`,
/// where `m y^2` is taken as `s*y + (m*y - s)*y` with `s = m*y` rounded, all through
/// [`split_mul_add`]; result `y * 2^-h` by exponent arithmetic. +0 and denormals give +inf,
/// -0 gives +inf, +inf gives +0, negative values and NaN give the canonical NaN.
pub fn rsqrt_with<A: MulAdd>(a: f32) -> f32 {
    let a = ftz(a);
    if is_nan_bits(a) || a < 0.0 {
        return canonical_nan();
    }
    if a == 0.0 {
        return f32::INFINITY;
    }
    if a == f32::INFINITY {
        return 0.0;
    }
    let bits = a.to_bits();
    let e = (bits >> 23) as i32 - 127;
    let odd = e & 1;
    let m = f32::from_bits((bits & 0x007F_FFFF) | (((127 + odd) as u32) << 23));
    let half_exponent = (e - odd) / 2;
    let mut y = f32::from_bits(GUESS_MAGIC - (m.to_bits() >> 1));
    for _ in 0..NEWTON_STEPS {
        let s = split_mul_add::<A>(m, y, 0.0);
        let s_error = split_mul_add::<A>(m, y, -s);
        let residual = split_mul_add::<A>(-s, y, 1.0);
        let residual = split_mul_add::<A>(-s_error, y, residual);
        y = split_mul_add::<A>(0.5 * y, residual, y);
    }
    scale_by_pow2(y, -half_exponent)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rsqrt_of_even_powers_of_two_is_exact() {
        for k in -63..=63 {
            assert_eq!(
                rsqrt(2.0f32.powi(2 * k)),
                2.0f32.powi(-k),
                "rsqrt(2^{})",
                2 * k
            );
        }
    }

    #[test]
    fn rsqrt_edges_follow_the_policy() {
        assert_eq!(rsqrt(0.0), f32::INFINITY);
        assert_eq!(rsqrt(-0.0), f32::INFINITY);
        assert_eq!(rsqrt(f32::INFINITY).to_bits(), 0);
        assert!(rsqrt(-1.0).is_nan());
        assert!(rsqrt(f32::NAN).is_nan());
        assert_eq!(
            rsqrt(f32::from_bits(5)),
            f32::INFINITY,
            "denormal input counts as zero"
        );
    }
}
