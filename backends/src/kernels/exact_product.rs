//! Products that are exact in f32, on the device: the factor domain, the 12-bit split, and
//! `a*b + c` / `a*b + c*d` from exact partial products in the fixed order of
//! `fak_ops::{split_mul_add, two_prod_sum}` (DETERMINISM.md §3).
//!
//! Every product here is exact, so a compiler that contracts `a*b + c` into an FMA (NVRTC
//! does by default) gives the same bits as one that does not (llvmpipe).

use cubecl::prelude::*;

use super::canonical::{CANONICAL_NAN_BITS, MAGNITUDE_MASK, SIGN_MASK, plus_zero};

/// Magnitude bits from which a factor is NaN: 2^64.
const DOMAIN_MAX_BITS: u32 = 191 << 23;
/// Magnitude bits below which a factor is zero: 2^-40.
const DOMAIN_MIN_BITS: u32 = 87 << 23;
/// Keeps the leading 12 significant bits (implicit bit plus 11 stored bits).
const HEAD_MASK: u32 = 0xFFFF_F000;

/// The factor domain: zero, or a magnitude in [2^-40, 2^64); below becomes signed zero,
/// above (infinities and NaN included) the canonical NaN.
#[cube]
pub fn domain(v: f32) -> f32 {
    let bits = u32::reinterpret(v);
    let magnitude = bits & MAGNITUDE_MASK;
    if magnitude >= DOMAIN_MAX_BITS {
        f32_from_bits(CANONICAL_NAN_BITS)
    } else if magnitude < DOMAIN_MIN_BITS {
        f32::reinterpret(bits & SIGN_MASK)
    } else {
        v
    }
}

/// The 12-bit head of a value already inside the domain; its tail is `v - head(v)`, exact.
#[cube]
pub fn head(v: f32) -> f32 {
    f32::reinterpret(u32::reinterpret(v) & HEAD_MASK)
}

/// `v` unchanged, passed through an integer operation on a value no compiler can know:
/// the number of cubes along z, minus one, which is zero because every launch here is
/// laid out over x and y only (`grid::cube_grid`).
///
/// Why: Mesa's NIR, unless SPIR-V marks an operation exact (CubeCL 0.10 does not), may
/// reassociate `(a*b + (c*d + e)) + f` into `a*b + (c*d + (e + f))` to shorten the
/// dependency chain. That changes rounding, which the canonical order forbids. A partial
/// sum that crosses this barrier is no longer a multiply-add to the optimiser, so every
/// sum keeps the order written here. The products stay exact, so fusing a product into
/// the add that consumes it remains harmless.
#[cube]
pub fn ordered(v: f32) -> f32 {
    f32::reinterpret(u32::reinterpret(v) ^ (CUBE_COUNT_Z - 1))
}

/// The f32 whose bits are the constant `bits`, made a bit cast of a variable the same way as
/// [`ordered`]. Why: CubeCL 0.10's CUDA code generator writes a bit cast of a constant as
/// `reinterpret_cast<float const&>(uint32(N))`, which NVRTC refuses (a reference cast needs
/// a variable); SPIR-V and MSL take either.
#[cube]
pub fn f32_from_bits(bits: u32) -> f32 {
    f32::reinterpret(bits ^ (CUBE_COUNT_Z - 1))
}

/// The low part of `a * b` for factors already inside the domain: `lo = at*bt`,
/// `lo += ah*bt`, `lo += at*bh`.
#[cube]
fn split_lo(a: f32, b: f32) -> f32 {
    let ah = head(a);
    let at = a - ah;
    let bh = head(b);
    let bt = b - bh;
    let lo = at * bt;
    let lo = ordered(ah * bt + lo);
    ordered(at * bh + lo)
}

/// `a * b + c` for any f32 `a`, `b`: `hi = ah*bh + c`, result `hi + lo` with the low part
/// of [`split_lo`]. `c` must be zero or a multiple of 2^-126.
#[cube]
pub fn split_mul_add(a: f32, b: f32, c: f32) -> f32 {
    let a = domain(a);
    let b = domain(b);
    let hi = ordered(head(a) * head(b) + c);
    hi + split_lo(a, b)
}

/// [`split_mul_add`] with `c = +0.0`. The CPU adds the literal zero (which turns a `-0.0`
/// head product into `+0.0`); here that add is [`plus_zero`], which no optimiser removes.
#[cube]
pub fn split_mul(a: f32, b: f32) -> f32 {
    let a = domain(a);
    let b = domain(b);
    let hi = plus_zero(head(a) * head(b));
    hi + split_lo(a, b)
}

/// `a * b + c * d` for any f32 factors: `lo = at*bt + ct*dt`, then `+= ah*bt`, `+= at*bh`,
/// `+= ch*dt`, `+= ct*dh`; `hi = ah*bh + ch*dh`; result `hi + lo`.
#[cube]
pub fn two_prod_sum(a: f32, b: f32, c: f32, d: f32) -> f32 {
    let a = domain(a);
    let b = domain(b);
    let c = domain(c);
    let d = domain(d);
    let ah = head(a);
    let at = a - ah;
    let bh = head(b);
    let bt = b - bh;
    let ch = head(c);
    let ct = c - ch;
    let dh = head(d);
    let dt = d - dh;
    let lo = ordered(at * bt + ct * dt);
    let lo = ordered(ah * bt + lo);
    let lo = ordered(at * bh + lo);
    let lo = ordered(ch * dt + lo);
    let lo = ordered(ct * dh + lo);
    let hi = ordered(ah * bh + ch * dh);
    hi + lo
}
