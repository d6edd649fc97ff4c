//! GGML's Q8_0 and Q5_0 blocks as they lie in a GGUF file, and the one definition of the
//! f32 value of each of their elements (DETERMINISM.md §3a).
//!
//! A block holds [`QUANT_BLOCK`] consecutive weights of a row: an f16 scale `d` and integer
//! quants `q`; weight `v` of the block is `d * q_v` in f32. That product is exact (the scale
//! has 11 significant bits, a quant at most 8), so the value does not depend on how it is
//! evaluated. Matmul kernels keep the blocks packed and produce these values in registers;
//! the GGUF loader's dequantization calls [`QuantBlock::values`] too, so both read one
//! definition.

use bytemuck::{Pod, Zeroable};

use crate::canonical::canonical_nan;
use crate::half_float::widen_f16;

/// Weights per block, which is also the lane count of the canonical reduction: block `b` of
/// a row is chunk `b` of its dot product, weight `v` of the block goes to lane `v`.
pub const QUANT_BLOCK: usize = 32;

/// A quantized block type whose elements are f32 values `d * q`.
pub trait QuantBlock: Pod + Send + Sync {
    /// The f32 value of each of the block's weights, as GGML's reference dequantization
    /// computes it.
    fn values(&self) -> [f32; QUANT_BLOCK];

    /// The scale as the fast kernels multiply it: `d` widened exactly when it is finite,
    /// the canonical NaN when it is not.
    ///
    /// Why that is the same weight after the factor domain: with `d` finite, `|d * q|` is at
    /// most 65504 * 128 < 2^64 and, when not zero, at least 2^-24 >= 2^-40, so the domain
    /// leaves every `d * q` as it is; with `d` infinite or NaN every `d * q` is infinite or
    /// NaN (`inf * 0` is NaN), which the domain turns into the canonical NaN.
    fn domain_scale(&self) -> f32 {
        let d = self.scale();
        if d.is_finite() { d } else { canonical_nan() }
    }

    /// The block's scale `d`, widened exactly.
    fn scale(&self) -> f32;
}

/// Q8_0: an f16 scale and 32 signed 8-bit quants; weight `v` is `d * q[v]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Pod, Zeroable)]
#[repr(C)]
pub struct BlockQ8_0 {
    /// The scale's f16 bits, little-endian.
    pub d: [u8; 2],
    /// The quants, two's complement.
    pub qs: [i8; QUANT_BLOCK],
}

impl QuantBlock for BlockQ8_0 {
    fn values(&self) -> [f32; QUANT_BLOCK] {
        let d = self.scale();
        self.qs.map(|q| f32::from(q) * d)
    }

    fn scale(&self) -> f32 {
        widen_f16(u16::from_le_bytes(self.d))
    }
}

/// Q5_0: an f16 scale, the 32 fifth bits, then 16 bytes of 4-bit quants. Weight `v` takes
/// the low nibble of `qs[v]` (`v < 16`) or the high nibble of `qs[v - 16]`, bit `v` of `qh`
/// as its fifth bit, and is `d * (q - 16)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Pod, Zeroable)]
#[repr(C)]
pub struct BlockQ5_0 {
    /// The scale's f16 bits, little-endian.
    pub d: [u8; 2],
    /// Fifth bits, a little-endian u32: bit `v` belongs to weight `v`.
    pub qh: [u8; 4],
    /// Low four bits: weight `v` in the low nibble of byte `v % 16` for `v < 16`, the high
    /// nibble for `v >= 16`.
    pub qs: [u8; QUANT_BLOCK / 2],
}

impl QuantBlock for BlockQ5_0 {
    fn values(&self) -> [f32; QUANT_BLOCK] {
        let d = self.scale();
        let qh = u32::from_le_bytes(self.qh);
        std::array::from_fn(|v| {
            let low = (self.qs[v % 16] >> (4 * (v / 16))) & 0x0F;
            let high = ((qh >> v) & 1) as u8;
            d * f32::from(i16::from(low | (high << 4)) - 16)
        })
    }

    fn scale(&self) -> f32 {
        widen_f16(u16::from_le_bytes(self.d))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blocks_have_ggml_sizes() {
        assert_eq!(size_of::<BlockQ8_0>(), 34);
        assert_eq!(size_of::<BlockQ5_0>(), 22);
    }

    #[test]
    fn q5_0_places_nibbles_and_fifth_bits_as_ggml_does() {
        let mut block = BlockQ5_0::zeroed();
        block.d = 0x3C00u16.to_le_bytes(); // 1.0
        block.qs[3] = 0xA5; // weight 3: low nibble 5; weight 19: high nibble 10
        block.qh = (1u32 << 19).to_le_bytes(); // weight 19 gets its fifth bit
        let v = block.values();
        assert_eq!(v[3], 5.0 - 16.0);
        assert_eq!(v[19], 10.0 + 16.0 - 16.0);
        assert_eq!(v[0], -16.0);
    }

    #[test]
    fn domain_scale_poisons_non_finite_scales_only() {
        let mut block = BlockQ8_0::zeroed();
        block.d = 0x7C00u16.to_le_bytes(); // +inf
        assert!(block.domain_scale().is_nan());
        block.d = 0x0001u16.to_le_bytes(); // the smallest f16 denormal, 2^-24
        assert_eq!(block.domain_scale(), 2.0f32.powi(-24));
    }
}
