//! GGML's quantized blocks as they lie in a GGUF file (Q8_0, Q5_0, Q4_K, Q6_K): the one
//! definition of the f32 value of each of their elements (DETERMINISM.md §3a), and of each
//! 32-weight chunk as integers (§3b).
//!
//! A block holds 32 (Q8_0, Q5_0) or 256 (Q4_K, Q6_K) consecutive weights of a row: f16
//! scales and integer quants. An element's value is computed in f32 exactly as GGML's
//! reference dequantization does (embedding rows and the GGUF loader's dequantization read
//! it, [`QuantBlock::chunk`]); matrix products read the chunk's integers instead
//! ([`QuantBlock::int_chunk`]), against int8 activations.

use bytemuck::{Pod, Zeroable};

use crate::half_float::widen_f16;
use crate::reduce::LANES;

/// Weights per chunk of a block: the lane count of the canonical reduction.
pub const QUANT_BLOCK: usize = LANES;
/// Weights per K-quant super-block.
const QK_K: usize = 256;

/// A quantized block type: `CHUNKS` chunks of 32 weights with f32 values.
pub trait QuantBlock: Pod + Send + Sync {
    /// 32-weight chunks per block.
    const CHUNKS: usize;

    /// Whether a chunk's integer sums against the two activation limbs enter its lane as one
    /// integer, `256 I(q) + I(p)`, in two exact products, rather than limb by limb in four
    /// (DETERMINISM.md §3b): true where the type's quants and scales keep that integer
    /// within 2^26 in magnitude.
    const COMBINED_LIMBS: bool;

    /// The f32 values of chunk `j`'s weights (block weights `32 j .. 32 j + 32`), as GGML's
    /// reference dequantization computes them.
    fn chunk(&self, j: usize) -> [f32; QUANT_BLOCK];

    /// Every weight of the block, in order.
    fn values(&self) -> impl Iterator<Item = f32> + '_ {
        (0..Self::CHUNKS).flat_map(move |j| self.chunk(j))
    }

    /// Chunk `j`'s quants as unsigned bytes (DETERMINISM.md §3b).
    fn quants(&self, j: usize) -> [u8; QUANT_BLOCK];

    /// Chunk `j`'s scales and offset (DETERMINISM.md §3b).
    fn int_scales(&self, j: usize) -> IntScales;

    /// Chunk `j` as integers.
    fn int_chunk(&self, j: usize) -> IntChunk {
        IntChunk {
            u: self.quants(j),
            scales: self.int_scales(j),
        }
    }
}

/// The scales and offset of a 32-weight chunk as DETERMINISM.md §3b writes it: weight `i`
/// is exactly `d * a[i / 16] * (u[i] - beta) - dmin * m`, with `(m, dmin)` the `min` of
/// Q4_K and `u` the chunk's unsigned quants.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct IntScales {
    /// What every quant is offset by.
    pub beta: i32,
    /// The integer scale of the first and of the second 16 weights.
    pub a: [i32; 2],
    /// The f16 scale, widened exactly.
    pub d: f32,
    /// Q4_K's minimum: its integer `m` and the f16 `dmin`, widened exactly.
    pub min: Option<(i32, f32)>,
}

/// A 32-weight chunk as integers: its unsigned quants and [`IntScales`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct IntChunk {
    pub u: [u8; QUANT_BLOCK],
    pub scales: IntScales,
}

/// The f16 scale stored in `bytes`, widened exactly.
///
/// A denormal f16 (common for Q6_K's `d`) is converted as `m * 2^-24` rather than by
/// [`widen_f16`], whose route passes through an f32 denormal: on x86 every such operand costs
/// a microcode assist, measured as a fifth of a Gemma 3 270M decode step. Same value.
fn f16_le(bytes: [u8; 2]) -> f32 {
    let bits = u16::from_le_bytes(bytes);
    let magnitude = bits & 0x7FFF;
    if magnitude < 0x0400 {
        let value = f32::from(magnitude) * f32::from_bits(103 << 23); // 2^-24
        f32::from_bits(value.to_bits() | (u32::from(bits & 0x8000) << 16))
    } else {
        widen_f16(bits)
    }
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

impl BlockQ8_0 {
    /// The scale `d`, widened exactly.
    pub fn scale(&self) -> f32 {
        f16_le(self.d)
    }
}

impl QuantBlock for BlockQ8_0 {
    const CHUNKS: usize = 1;
    const COMBINED_LIMBS: bool = false;

    fn chunk(&self, _: usize) -> [f32; QUANT_BLOCK] {
        let d = self.scale();
        self.qs.map(|q| f32::from(q) * d)
    }

    fn quants(&self, _: usize) -> [u8; QUANT_BLOCK] {
        // q + 128: flipping the sign bit of a two's complement byte.
        self.qs.map(|q| q.cast_unsigned() ^ 0x80)
    }

    fn int_scales(&self, _: usize) -> IntScales {
        IntScales {
            beta: 128,
            a: [1, 1],
            d: self.scale(),
            min: None,
        }
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

impl BlockQ5_0 {
    /// The scale `d`, widened exactly.
    pub fn scale(&self) -> f32 {
        f16_le(self.d)
    }
}

impl QuantBlock for BlockQ5_0 {
    const CHUNKS: usize = 1;
    const COMBINED_LIMBS: bool = true;

    fn chunk(&self, _: usize) -> [f32; QUANT_BLOCK] {
        let d = self.scale();
        self.quants(0).map(|q| d * f32::from(i16::from(q) - 16))
    }

    fn quants(&self, _: usize) -> [u8; QUANT_BLOCK] {
        let qh = u32::from_le_bytes(self.qh);
        std::array::from_fn(|v| {
            let low = (self.qs[v % 16] >> (4 * (v / 16))) & 0x0F;
            let high = ((qh >> v) & 1) as u8;
            low | (high << 4)
        })
    }

    fn int_scales(&self, _: usize) -> IntScales {
        IntScales {
            beta: 16,
            a: [1, 1],
            d: self.scale(),
            min: None,
        }
    }
}

/// Q4_K: f16 `d` and `dmin`, 12 bytes of packed 6-bit scales and minimums, 128 bytes of
/// 4-bit quants. Chunk `j` holds `(d * scale_j) * q - dmin * min_j`; the quants of chunks
/// 2g and 2g+1 share bytes 32g..32g+32 (low nibble, high nibble).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Pod, Zeroable)]
#[repr(C)]
pub struct BlockQ4K {
    /// f16 bits of `d`, little-endian.
    pub d: [u8; 2],
    /// f16 bits of `dmin`, little-endian.
    pub dmin: [u8; 2],
    /// The 6-bit scales and minimums of the 8 chunks, packed as GGML packs them.
    pub scales: [u8; 12],
    /// The 4-bit quants.
    pub qs: [u8; QK_K / 2],
}

impl BlockQ4K {
    /// `(d * scale_j, dmin * min_j)` of chunk `j`: both exact products, and whether `d` and
    /// `dmin` are both finite.
    pub fn chunk_scales(&self, j: usize) -> (f32, f32, bool) {
        let (d, dmin) = (f16_le(self.d), f16_le(self.dmin));
        let (sc, m) = self.chunk_int_scales(j);
        (
            d * f32::from(sc),
            dmin * f32::from(m),
            d.is_finite() && dmin.is_finite(),
        )
    }

    /// Chunk `j`'s 6-bit scale and minimum, unpacked as GGML packs them.
    pub fn chunk_int_scales(&self, j: usize) -> (u8, u8) {
        let s = &self.scales;
        if j < 4 {
            (s[j] & 63, s[j + 4] & 63)
        } else {
            (
                (s[j + 4] & 0x0F) | ((s[j - 4] >> 6) << 4),
                (s[j + 4] >> 4) | ((s[j] >> 6) << 4),
            )
        }
    }

    /// The 32 quant bytes chunk `j` takes its nibble from, and the nibble's shift.
    pub fn chunk_quants(&self, j: usize) -> (&[u8; 32], u32) {
        let bytes = self.qs[32 * (j / 2)..][..32]
            .try_into()
            .expect("32 bytes of a 128-byte array");
        (bytes, 4 * (j as u32 % 2))
    }
}

impl QuantBlock for BlockQ4K {
    const CHUNKS: usize = QK_K / QUANT_BLOCK;
    const COMBINED_LIMBS: bool = false;

    fn chunk(&self, j: usize) -> [f32; QUANT_BLOCK] {
        let (d1, m1, _) = self.chunk_scales(j);
        let (bytes, shift) = self.chunk_quants(j);
        bytes.map(|q| d1 * f32::from((q >> shift) & 0x0F) - m1)
    }

    fn quants(&self, j: usize) -> [u8; QUANT_BLOCK] {
        let (bytes, shift) = self.chunk_quants(j);
        bytes.map(|q| (q >> shift) & 0x0F)
    }

    fn int_scales(&self, j: usize) -> IntScales {
        let (sc, m) = self.chunk_int_scales(j);
        IntScales {
            beta: 0,
            a: [i32::from(sc); 2],
            d: f16_le(self.d),
            min: Some((i32::from(m), f16_le(self.dmin))),
        }
    }
}

/// Q6_K: 128 bytes of low 4 bits, 64 bytes of high 2 bits, 16 signed 8-bit scales, f16 `d`.
/// Weight `v` is `(d * scale[v / 16]) * (q - 32)` with `q` six bits: the low nibble from
/// `ql[64 * (v / 128) + v % 64]` (high nibble for the second 64 of each half), the high
/// bits from `qh[32 * (v / 128) + v % 32]` at bit `2 * ((v % 128) / 32)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Pod, Zeroable)]
#[repr(C)]
pub struct BlockQ6K {
    /// Low four bits of the quants.
    pub ql: [u8; QK_K / 2],
    /// High two bits of the quants.
    pub qh: [u8; QK_K / 4],
    /// One signed scale per 16 weights.
    pub scales: [i8; QK_K / 16],
    /// f16 bits of `d`, little-endian.
    pub d: [u8; 2],
}

impl BlockQ6K {
    /// `d * scale` of chunk `j`'s two 16-weight halves (exact products), and whether `d` is
    /// finite.
    pub fn chunk_scales(&self, j: usize) -> ([f32; 2], bool) {
        let d = f16_le(self.d);
        let scale = |k: usize| d * f32::from(self.scales[k]);
        ([scale(2 * j), scale(2 * j + 1)], d.is_finite())
    }

    /// Chunk `j`'s 32 low-bit bytes with their nibble shift, and its 32 high-bit bytes with
    /// their 2-bit shift.
    pub fn chunk_quants(&self, j: usize) -> (&[u8; 32], u32, &[u8; 32], u32) {
        let (half, k) = (j / 4, j % 4);
        let low = self.ql[64 * half + 32 * (k % 2)..][..32]
            .try_into()
            .expect("32 bytes of a 128-byte array");
        let high = self.qh[32 * half..][..32]
            .try_into()
            .expect("32 bytes of a 64-byte array");
        (low, 4 * (k as u32 / 2), high, 2 * k as u32)
    }
}

impl QuantBlock for BlockQ6K {
    const CHUNKS: usize = QK_K / QUANT_BLOCK;
    const COMBINED_LIMBS: bool = false;

    fn chunk(&self, j: usize) -> [f32; QUANT_BLOCK] {
        let (scales, _) = self.chunk_scales(j);
        let q = self.quants(j);
        std::array::from_fn(|i| scales[i / 16] * f32::from(i16::from(q[i]) - 32))
    }

    fn quants(&self, j: usize) -> [u8; QUANT_BLOCK] {
        let (low, low_shift, high, high_shift) = self.chunk_quants(j);
        std::array::from_fn(|i| {
            ((low[i] >> low_shift) & 0x0F) | (((high[i] >> high_shift) & 0x03) << 4)
        })
    }

    fn int_scales(&self, j: usize) -> IntScales {
        IntScales {
            beta: 32,
            a: [
                i32::from(self.scales[2 * j]),
                i32::from(self.scales[2 * j + 1]),
            ],
            d: f16_le(self.d),
            min: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blocks_have_ggml_sizes() {
        assert_eq!(size_of::<BlockQ8_0>(), 34);
        assert_eq!(size_of::<BlockQ5_0>(), 22);
        assert_eq!(size_of::<BlockQ4K>(), 144);
        assert_eq!(size_of::<BlockQ6K>(), 210);
    }

    #[test]
    fn q5_0_places_nibbles_and_fifth_bits_as_ggml_does() {
        let mut block = BlockQ5_0::zeroed();
        block.d = 0x3C00u16.to_le_bytes(); // 1.0
        block.qs[3] = 0xA5; // weight 3: low nibble 5; weight 19: high nibble 10
        block.qh = (1u32 << 19).to_le_bytes(); // weight 19 gets its fifth bit
        let v = block.chunk(0);
        assert_eq!(v[3], 5.0 - 16.0);
        assert_eq!(v[19], 10.0 + 16.0 - 16.0);
        assert_eq!(v[0], -16.0);
    }

    #[test]
    fn scales_widen_exactly_including_denormals_and_zeros() {
        for bits in 0..=u16::MAX {
            let got = f16_le(bits.to_le_bytes());
            let expected = half::f16::from_bits(bits).to_f32();
            if expected.is_nan() {
                assert!(got.is_nan(), "{bits:#06x}");
            } else {
                assert_eq!(got.to_bits(), expected.to_bits(), "{bits:#06x}");
            }
        }
    }
}
