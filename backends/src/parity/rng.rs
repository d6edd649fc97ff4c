//! Seeded test values: the same inputs on every run and every machine.

use std::mem::offset_of;

use fak_ops::{BlockQ4K, BlockQ5_0, BlockQ6K, BlockQ8_0};
use half::{bf16, f16};

use crate::{BackendError, HostBytes, HostMatrix, WeightDtype};

/// A seeded generator of test values (SplitMix64): the same sequence on every run.
#[derive(Debug, Clone)]
pub struct Rng(u64);

/// The f32 bit patterns a sweep mixes in: ±0, denormals, ±inf, NaN with a payload, and
/// magnitudes so large or small that they fall outside the factor domain.
const EDGES: [u32; 10] = [
    0x0000_0000,
    0x8000_0000,
    0x0000_0001,
    0x8040_0000,
    0x7F80_0000,
    0xFF80_0000,
    0x7FC0_1234,
    0x6F80_0000,
    0x2000_0000,
    0xA000_0001,
];

impl Rng {
    pub fn new(seed: u64) -> Self {
        Self(seed)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// True about once in `every` calls.
    pub fn one_in(&mut self, every: u64) -> bool {
        self.next_u64().is_multiple_of(every)
    }

    /// Uniform in [-scale, scale).
    pub fn uniform(&mut self, scale: f32) -> f32 {
        let unit = (self.next_u64() >> 40) as f32 / (1u64 << 24) as f32;
        (unit * 2.0 - 1.0) * scale
    }

    /// `n` values uniform in [-scale, scale).
    pub fn values(&mut self, n: usize, scale: f32) -> Vec<f32> {
        (0..n).map(|_| self.uniform(scale)).collect()
    }

    /// `n` values of which about one in `every` is an edge case: ±0, a denormal, ±inf,
    /// NaN with a payload, or a magnitude outside the factor domain.
    pub fn values_with_edges(&mut self, n: usize, scale: f32, every: u64) -> Vec<f32> {
        (0..n)
            .map(|_| {
                if self.one_in(every) {
                    f32::from_bits(EDGES[(self.next_u64() % EDGES.len() as u64) as usize])
                } else {
                    self.uniform(scale)
                }
            })
            .collect()
    }

    /// `n` arbitrary f32 bit patterns.
    pub fn bit_patterns(&mut self, n: usize) -> Vec<f32> {
        (0..n)
            .map(|_| f32::from_bits(self.next_u64() as u32))
            .collect()
    }

    /// `n` token ids below `vocab`.
    pub fn tokens(&mut self, n: usize, vocab: usize) -> Vec<u32> {
        (0..n)
            .map(|_| (self.next_u64() % vocab as u64) as u32)
            .collect()
    }

    /// A `rows x cols` matrix of `dtype`, values uniform in ±`scale`, with about one edge
    /// value (for f16, one raw bit pattern: denormals, infinities, NaN payloads) in `every`;
    /// `every = u64::MAX` gives none. Packed blocks are random bytes whose f16 scales are
    /// `scale / 64` but for an edge value in one of `every`. An empty shape is refused, as [`HostMatrix::new`]
    /// refuses it.
    pub fn matrix(
        &mut self,
        dtype: WeightDtype,
        rows: usize,
        cols: usize,
        scale: f32,
        every: u64,
    ) -> Result<HostMatrix, BackendError> {
        let values = self.values_with_edges(rows * cols, scale, every);
        let bytes: Vec<u8> = match dtype {
            WeightDtype::Bf16 => values
                .iter()
                .flat_map(|&v| bf16::from_f32(v).to_bits().to_le_bytes())
                .collect(),
            WeightDtype::F16 => values
                .iter()
                .flat_map(|&v| {
                    let h = if self.one_in(every) {
                        self.next_u64() as u16
                    } else {
                        f16::from_f32(v).to_bits()
                    };
                    h.to_le_bytes()
                })
                .collect(),
            WeightDtype::F32 => bytemuck::cast_slice(&values).to_vec(),
            WeightDtype::Q8_0 | WeightDtype::Q5_0 | WeightDtype::Q4K | WeightDtype::Q6K => {
                self.blocks(dtype, rows * cols, scale, every)
            }
        };
        HostMatrix::new(HostBytes::from_vec(bytes), dtype, rows, cols)
    }

    /// Packed blocks for `n` values: random bytes, except the f16 scales (`d`, and Q4_K's
    /// `dmin`), which are `scale / 64`, or in one of `every` an edge: ±0, a denormal, the
    /// largest f16, ±inf, NaN or a raw bit pattern.
    fn blocks(&mut self, dtype: WeightDtype, n: usize, scale: f32, every: u64) -> Vec<u8> {
        let (per_block, block_bytes) = dtype.block();
        let mut bytes = Vec::with_capacity(n.div_ceil(per_block) * block_bytes);
        for _ in 0..n.div_ceil(per_block) {
            let mut block: Vec<u8> = (0..block_bytes).map(|_| self.next_u64() as u8).collect();
            for &at in f16_scale_offsets(dtype) {
                let d = if self.one_in(every) {
                    // One draw past the list is a raw bit pattern.
                    let k = (self.next_u64() % (F16_EDGES.len() as u64 + 1)) as usize;
                    F16_EDGES
                        .get(k)
                        .copied()
                        .unwrap_or_else(|| self.next_u64() as u16)
                } else {
                    f16::from_f32(scale / 64.0).to_bits()
                };
                block[at..at + 2].copy_from_slice(&d.to_le_bytes());
            }
            bytes.extend(block);
        }
        bytes
    }
}

/// The f16 scales a packed block's edge values go to: ±0, the least and the largest
/// denormal, the largest finite value, ±inf and NaN.
const F16_EDGES: [u16; 8] = [
    0x0000, 0x8000, 0x0001, 0x03FF, 0x7BFF, 0x7C00, 0xFC00, 0x7E00,
];

/// Where a block of `dtype` keeps its f16 scales.
fn f16_scale_offsets(dtype: WeightDtype) -> &'static [usize] {
    match dtype {
        WeightDtype::Q8_0 => &[offset_of!(BlockQ8_0, d)],
        WeightDtype::Q5_0 => &[offset_of!(BlockQ5_0, d)],
        WeightDtype::Q4K => &[offset_of!(BlockQ4K, d), offset_of!(BlockQ4K, dmin)],
        WeightDtype::Q6K => &[offset_of!(BlockQ6K, d)],
        WeightDtype::Bf16 | WeightDtype::F16 | WeightDtype::F32 => &[],
    }
}
