//! Multiplying by a power of two through the exponent field, with the flush policy applied.

/// `v * 2^k` for a positive normal `v`, computed by adding `k` to the biased exponent.
/// Results below the normal range become +0.0 (the denormal policy), results past the
/// largest exponent become +inf. No multiply, so nothing to round and nothing to contract.
#[inline(always)]
pub(crate) fn scale_by_pow2(v: f32, k: i32) -> f32 {
    let bits = v.to_bits();
    let field = ((bits >> 23) & 0xFF) as i32 + k;
    if field >= 0xFF {
        f32::INFINITY
    } else if field <= 0 {
        0.0
    } else {
        f32::from_bits((bits & 0x807F_FFFF) | ((field as u32) << 23))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scale_by_pow2_moves_the_exponent_and_saturates() {
        assert_eq!(scale_by_pow2(1.5, 3), 12.0);
        assert_eq!(scale_by_pow2(1.5, -3), 0.1875);
        assert_eq!(scale_by_pow2(1.0, 128), f32::INFINITY);
        assert_eq!(scale_by_pow2(1.99, 127), 1.99 * 2.0f32.powi(127));
        assert_eq!(scale_by_pow2(1.0, -127).to_bits(), 0);
    }
}
