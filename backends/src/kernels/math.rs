//! The crate's own exp, recip, rsqrt, sigmoid, SiLU and GELU on the device, mirroring
//! `fak_ops::math` step for step (DETERMINISM.md §4). Constants are the documented bit
//! patterns, never recomputed with the platform's division.

use cubecl::prelude::*;

use super::canonical::{CANONICAL_NAN_BITS, INFINITY_BITS, SIGN_MASK, canonical, ftz, is_nan};
use super::exact_product::{f32_from_bits, split_mul, split_mul_add};
use super::grid::element_index;

/// log2(e) as f32.
const LOG2E: f32 = f32::from_bits(0x3FB8_AA3B);
/// ln 2 in three 16-bit pieces: `k * LN2_i` is exact for |k| <= 128.
const LN2_1: f32 = f32::from_bits(0x3F31_7200);
const LN2_2: f32 = f32::from_bits(0x35BF_BE00);
const LN2_3: f32 = f32::from_bits(0x2D8E_7B00);
/// 1/n! for n = 7 down to 2, the same f32 divisions the CPU's constants are.
const C7: f32 = 1.0 / 5040.0;
const C6: f32 = 1.0 / 720.0;
const C5: f32 = 1.0 / 120.0;
const C4: f32 = 1.0 / 24.0;
const C3: f32 = 1.0 / 6.0;
const C2: f32 = 1.0 / 2.0;
/// exp(89) overflows f32; exp(-88) is below the normal range.
const EXP_OVERFLOW_ABOVE: f32 = 89.0;
const EXP_UNDERFLOW_BELOW: f32 = -88.0;
/// The linear first guess of 1/m on [1, 2): 24/17 - 8/17 m.
const RECIP_GUESS_OFFSET: f32 = 24.0 / 17.0;
const RECIP_GUESS_SLOPE: f32 = -8.0 / 17.0;
/// The classic first guess of 1/sqrt(m) from the bits of m.
const RSQRT_GUESS_MAGIC: u32 = 0x5F37_59DF;
const NEWTON_STEPS: u32 = 3;
/// GELU's sigmoid argument `x (K0 + K1 x^2)`: `2 sqrt(2/pi)` and `2 sqrt(2/pi) * 0.044715`.
const GELU_K0: f32 = f32::from_bits(0x3FCC_422A);
const GELU_K1: f32 = f32::from_bits(0x3D92_2279);
/// Beyond +-16 GELU is saturated (x above, -0.0 below).
const GELU_SATURATED_ABOVE: f32 = 16.0;

// The constants that are split (a split reads a value's bits) enter as bit patterns through
// [`f32_from_bits`]: CUDA's code generator cannot take the bits of a constant.
const LOG2E_BITS: u32 = LOG2E.to_bits();
const C7_BITS: u32 = C7.to_bits();
const RECIP_GUESS_SLOPE_BITS: u32 = RECIP_GUESS_SLOPE.to_bits();
const GELU_K1_BITS: u32 = GELU_K1.to_bits();

/// `v * 2^k` for a positive normal `v`, through the exponent field: results below the
/// normal range become +0.0, past the largest exponent +inf.
#[cube]
pub fn scale_by_pow2(v: f32, k: i32) -> f32 {
    let bits = u32::reinterpret(v);
    let field = i32::cast_from((bits >> 23) & 0xFFu32) + k;
    if field >= 0xFF {
        f32_from_bits(INFINITY_BITS)
    } else if field <= 0 {
        f32_from_bits(0u32)
    } else {
        f32::reinterpret((bits & 0x807F_FFFFu32) | (u32::cast_from(field) << 23))
    }
}

/// `t` rounded to the nearest integer, ties to even, for |t| < 2^22.
///
/// The CPU writes this `(t + 1.5*2^23) - 1.5*2^23`, which gives exactly this integer. A
/// shader compiler allowed to reassociate (Mesa's NIR, without exact-math decorations,
/// which CubeCL does not emit) folds that pair of adds into `t`, so the device computes the
/// same integer from the bits instead.
#[cube]
pub fn round_half_even(t: f32) -> i32 {
    let bits = u32::reinterpret(t);
    let magnitude = bits & 0x7FFF_FFFFu32;
    // Clamped so the shifts below stay inside 1..=24 whatever `t` is.
    let exponent = min(max(i32::cast_from(magnitude >> 23) - 127, -2i32), 22i32);
    let mut q = 0u32;
    if exponent >= -1 {
        let mantissa = (magnitude & 0x007F_FFFFu32) | 0x0080_0000u32;
        let shift = u32::cast_from(23 - exponent);
        let half = 1u32 << (shift - 1);
        let rest = mantissa & ((1u32 << shift) - 1);
        q = mantissa >> shift;
        if rest > half || (rest == half && (q & 1) == 1) {
            q += 1;
        }
    }
    let q = i32::cast_from(q);
    if bits & SIGN_MASK != 0 { -q } else { q }
}

/// e^x: `k = round(x log2 e)`, `r = x - k ln 2` in three exact steps, a degree-7 Taylor
/// polynomial by Horner with [`split_mul_add`], then `p * 2^k` on the exponent.
#[cube]
pub fn exp(x: f32) -> f32 {
    let x = ftz(x);
    if is_nan(x) {
        f32_from_bits(CANONICAL_NAN_BITS)
    } else if x > EXP_OVERFLOW_ABOVE {
        f32_from_bits(INFINITY_BITS)
    } else if x < EXP_UNDERFLOW_BELOW {
        f32_from_bits(0u32)
    } else {
        let k = round_half_even(split_mul(x, f32_from_bits(LOG2E_BITS)));
        let kf = f32::cast_from(k);
        let r = -kf * LN2_1 + x;
        let r = -kf * LN2_2 + r;
        let r = -kf * LN2_3 + r;
        let q = split_mul_add(f32_from_bits(C7_BITS), r, C6);
        let q = split_mul_add(q, r, C5);
        let q = split_mul_add(q, r, C4);
        let q = split_mul_add(q, r, C3);
        let q = split_mul_add(q, r, C2);
        let q = split_mul_add(q, r, 1.0);
        let p = split_mul_add(q, r, 1.0);
        scale_by_pow2(p, k)
    }
}

/// 1/a: a linear guess on the mantissa, three Newton steps `y += y (1 - m y)`, the
/// exponent assembled by bits. ±0 gives ±inf, ±inf gives ±0, NaN the canonical NaN.
#[cube]
pub fn recip(a: f32) -> f32 {
    let a = ftz(a);
    let bits = u32::reinterpret(a);
    let sign = bits & SIGN_MASK;
    let magnitude = bits & 0x7FFF_FFFFu32;
    if is_nan(a) {
        f32_from_bits(CANONICAL_NAN_BITS)
    } else if magnitude == 0 {
        f32::reinterpret(sign | INFINITY_BITS)
    } else if magnitude == INFINITY_BITS {
        f32::reinterpret(sign)
    } else {
        let e = i32::cast_from(magnitude >> 23) - 127;
        let m = f32::reinterpret((magnitude & 0x007F_FFFFu32) | (127u32 << 23));
        let mut y = split_mul_add(f32_from_bits(RECIP_GUESS_SLOPE_BITS), m, RECIP_GUESS_OFFSET);
        for _ in 0..NEWTON_STEPS {
            let residual = split_mul_add(-m, y, 1.0);
            y = split_mul_add(y, residual, y);
        }
        f32::reinterpret(u32::reinterpret(scale_by_pow2(y, -e)) | sign)
    }
}

/// 1/sqrt(a): `a = m 2^(2h)` with m in [1, 4), a bit-trick guess, three Newton steps with
/// the residual `1 - m y^2` taken exactly, the exponent assembled by bits. Negative values
/// and NaN give the canonical NaN, ±0 +inf, +inf +0.
#[cube]
pub fn rsqrt(a: f32) -> f32 {
    let a = ftz(a);
    let bits = u32::reinterpret(a);
    if is_nan(a) || a < 0.0 {
        f32_from_bits(CANONICAL_NAN_BITS)
    } else if a == 0.0 {
        f32_from_bits(INFINITY_BITS)
    } else if bits == INFINITY_BITS {
        f32_from_bits(0u32)
    } else {
        let e = i32::cast_from(bits >> 23) - 127;
        let odd = e & 1;
        let m = f32::reinterpret((bits & 0x007F_FFFFu32) | (u32::cast_from(127 + odd) << 23));
        let half_exponent = (e - odd) / 2;
        let mut y = f32::reinterpret(RSQRT_GUESS_MAGIC - (u32::reinterpret(m) >> 1));
        for _ in 0..NEWTON_STEPS {
            let s = split_mul(m, y);
            let s_error = split_mul_add(m, y, -s);
            let residual = split_mul_add(-s, y, 1.0);
            let residual = split_mul_add(-s_error, y, residual);
            y = split_mul_add(0.5 * y, residual, y);
        }
        scale_by_pow2(y, -half_exponent)
    }
}

/// `recip(1 + exp(-x))`.
#[cube]
pub fn sigmoid(x: f32) -> f32 {
    recip(1.0 + exp(-x))
}

/// `canonical(ftz(x) * sigmoid(x))`.
#[cube]
pub fn silu(x: f32) -> f32 {
    canonical(ftz(x) * sigmoid(x))
}

/// GELU with the tanh approximation: `canonical(x * sigmoid(x (K0 + K1 x^2)))` with each
/// product that feeds an add split (`x^2` and the last product as [`split_mul`], the
/// polynomial as [`split_mul_add`]); x > 16 gives x, x < -16 gives -0.0, NaN the canonical
/// NaN.
#[cube]
pub fn gelu_tanh(x: f32) -> f32 {
    let x = ftz(x);
    if is_nan(x) {
        f32_from_bits(CANONICAL_NAN_BITS)
    } else if x > GELU_SATURATED_ABOVE {
        x
    } else if x < -GELU_SATURATED_ABOVE {
        f32_from_bits(SIGN_MASK)
    } else {
        let square = split_mul(x, x);
        let inner = split_mul_add(square, f32_from_bits(GELU_K1_BITS), GELU_K0);
        let z = split_mul(x, inner);
        canonical(x * sigmoid(z))
    }
}

/// Which function [`math_map`] applies.
pub const MATH_EXP: u32 = 0;
pub const MATH_RECIP: u32 = 1;
pub const MATH_RSQRT: u32 = 2;
pub const MATH_SIGMOID: u32 = 3;
pub const MATH_SILU: u32 = 4;
pub const MATH_GELU_TANH: u32 = 5;

/// `out[i] = f(x[i])` for one of the functions above, chosen at compile time: how the
/// functions are tested against `fak_ops::math` on arbitrary bit patterns.
#[cube(launch)]
pub fn math_map(x: &Array<f32>, out: &mut Array<f32>, n: u32, #[comptime] function: u32) {
    let i = element_index();
    if i < n as usize {
        let v = x[i];
        out[i] = if comptime!(function == MATH_EXP) {
            exp(v)
        } else if comptime!(function == MATH_RECIP) {
            recip(v)
        } else if comptime!(function == MATH_RSQRT) {
            rsqrt(v)
        } else if comptime!(function == MATH_SIGMOID) {
            sigmoid(v)
        } else if comptime!(function == MATH_SILU) {
            silu(v)
        } else {
            gelu_tanh(v)
        };
    }
}
