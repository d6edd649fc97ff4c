//! Canonical values and comparisons on the device, all by integer operations on the bits
//! (DETERMINISM.md §5), mirroring `fak_ops::canonical` and `fak_ops::reduce::max_keep_first`.
//!
//! Nothing here is a float operation a shader compiler may rewrite: Mesa's NIR, for one,
//! may fold `x + 0.0` to `x` or a compare-and-select to `fmax` when it is not told to keep
//! signed zeros and NaN, and CubeCL 0.10's SPIR-V compiler does not tell it.

use cubecl::prelude::*;

use super::exact_product::f32_from_bits;

pub const SIGN_MASK: u32 = 0x8000_0000;
pub const MAGNITUDE_MASK: u32 = 0x7FFF_FFFF;
pub const EXPONENT_MASK: u32 = 0x7F80_0000;
pub const CANONICAL_NAN_BITS: u32 = 0x7FC0_0000;
pub const INFINITY_BITS: u32 = 0x7F80_0000;
pub const NEG_INFINITY_BITS: u32 = 0xFF80_0000;

/// True for every NaN, tested on the bits.
#[cube]
pub fn is_nan(v: f32) -> bool {
    (u32::reinterpret(v) & MAGNITUDE_MASK) > EXPONENT_MASK
}

/// A denormal becomes zero of the same sign; every other value is returned unchanged.
#[cube]
pub fn ftz(v: f32) -> f32 {
    let bits = u32::reinterpret(v);
    if bits & EXPONENT_MASK == 0 {
        f32::reinterpret(bits & SIGN_MASK)
    } else {
        v
    }
}

/// The value an op stores: denormals flushed to signed zero, every NaN the canonical NaN.
#[cube]
pub fn canonical(v: f32) -> f32 {
    if is_nan(v) {
        f32_from_bits(CANONICAL_NAN_BITS)
    } else {
        ftz(v)
    }
}

/// `v + 0.0` as IEEE defines it for the values that reach it here (exact products and
/// sums of them): `-0.0` becomes `+0.0`, everything else is unchanged. Written on the bits
/// because CubeCL's optimiser folds an add of a literal zero away.
#[cube]
pub fn plus_zero(v: f32) -> f32 {
    if u32::reinterpret(v) == SIGN_MASK {
        f32_from_bits(0u32)
    } else {
        v
    }
}

/// A key whose unsigned order is the float order of non-NaN values, with `-0.0` and `+0.0`
/// equal: negative values map below `0x8000_0000`, zeros onto it, positive values above.
#[cube]
fn order_key(v: f32) -> u32 {
    let bits = u32::reinterpret(v);
    if bits & MAGNITUDE_MASK == 0 {
        SIGN_MASK.runtime()
    } else if bits & SIGN_MASK != 0 {
        !bits
    } else {
        bits | SIGN_MASK
    }
}

/// `if b > a { b } else { a }`: ties (`-0.0` against `+0.0` included) keep `a`, a NaN never
/// wins, and a NaN `a` is kept.
#[cube]
pub fn max_keep_first(a: f32, b: f32) -> f32 {
    let b_wins = !is_nan(a) && !is_nan(b) && order_key(b) > order_key(a);
    if b_wins { b } else { a }
}
