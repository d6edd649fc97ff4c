//! Quantized blocks to f32, exactly as GGML's reference dequantization computes them.
//!
//! Each value is the f32 result of the same operations in the same order as ggml-quants.c
//! (and the `gguf` Python package, which the fixture tests compare against bit for bit):
//! f16 scales widened exactly, integer quants converted exactly, then f32 multiplies and,
//! for Q4_K, one f32 subtraction, each rounded once, never fused. The result is a plain
//! function of the file's bytes, so every backend that receives these f32 weights computes
//! with the same numbers (ops/DETERMINISM.md §3a). Q8_0 and Q5_0 values come from
//! `fak_ops`' block types, the definition the packed matmul kernels decode in registers.

use fak_ops::{BlockQ5_0, BlockQ8_0, QuantBlock};
use half::f16;

use super::{GgmlType, GgufError};

/// Values of one K-quant super-block.
const QK_K: usize = 256;

fn f16_at(bytes: &[u8], at: usize) -> f32 {
    f16::from_bits(u16::from_le_bytes([bytes[at], bytes[at + 1]])).to_f32()
}

/// Appends the values of `bytes` (whole blocks of `ty`) to `out`.
pub(super) fn dequantize(
    tensor: &str,
    ty: GgmlType,
    bytes: &[u8],
    out: &mut Vec<f32>,
) -> Result<(), GgufError> {
    let (_, block_bytes) = ty.block();
    let blocks = bytes.chunks_exact(block_bytes);
    match ty {
        GgmlType::F32 => out.extend(blocks.map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))),
        GgmlType::F16 => out.extend(blocks.map(|b| f16_at(b, 0))),
        GgmlType::Bf16 => out.extend(
            blocks.map(|b| f32::from_bits(u32::from(u16::from_le_bytes([b[0], b[1]])) << 16)),
        ),
        GgmlType::Q5_0 => {
            blocks.for_each(|b| out.extend(bytemuck::from_bytes::<BlockQ5_0>(b).values()))
        }
        GgmlType::Q8_0 => {
            blocks.for_each(|b| out.extend(bytemuck::from_bytes::<BlockQ8_0>(b).values()))
        }
        GgmlType::Q4K => blocks.for_each(|b| q4_k(b, out)),
        GgmlType::Q6K => blocks.for_each(|b| q6_k(b, out)),
        other => {
            return Err(GgufError::Unsupported {
                tensor: tensor.to_string(),
                ty: other.name(),
            });
        }
    }
    Ok(())
}

/// The 6-bit scale and minimum of sub-block `j` (0..8) of a Q4_K block's 12 packed bytes.
fn scale_min_k4(j: usize, s: &[u8]) -> (u8, u8) {
    if j < 4 {
        (s[j] & 63, s[j + 4] & 63)
    } else {
        (
            (s[j + 4] & 0x0F) | ((s[j - 4] >> 6) << 4),
            (s[j + 4] >> 4) | ((s[j] >> 6) << 4),
        )
    }
}

/// f16 `d` and `dmin`, 12 bytes of packed 6-bit scales and minimums, 128 bytes of 4-bit
/// quants. Sub-block `j` (32 values) holds `(d * scale_j) * q - dmin * min_j`; quants of
/// sub-blocks 2g and 2g+1 share bytes 32g..32g+32 (low nibble, high nibble).
fn q4_k(b: &[u8], out: &mut Vec<f32>) {
    let (d, dmin) = (f16_at(b, 0), f16_at(b, 2));
    let (scales, qs) = (&b[4..16], &b[16..144]);
    for j in 0..8 {
        let (sc, m) = scale_min_k4(j, scales);
        let (d1, m1) = (d * f32::from(sc), dmin * f32::from(m));
        let bytes = &qs[32 * (j / 2)..][..32];
        let shift = 4 * (j % 2);
        out.extend(
            bytes
                .iter()
                .map(|&q| d1 * f32::from((q >> shift) & 0x0F) - m1),
        );
    }
}

/// 128 bytes of low 4 bits, 64 bytes of high 2 bits, 16 signed 8-bit scales, f16 `d`.
/// Value `v` is `(d * scale[v / 16]) * (q - 32)` with `q` six bits: the low nibble from
/// `ql[64 * (v / 128) + v % 64]` (high nibble for the second 64 of each half), the high
/// bits from `qh[32 * (v / 128) + v % 32]` at bit `2 * ((v % 128) / 32)`.
fn q6_k(b: &[u8], out: &mut Vec<f32>) {
    let (ql, qh, scales) = (&b[0..128], &b[128..192], &b[192..208]);
    let d = f16_at(b, 208);
    out.extend((0..QK_K).map(|v| {
        let (half, within) = (v / 128, v % 128);
        let low = (ql[64 * half + within % 64] >> (4 * (within / 64))) & 0x0F;
        let high = (qh[32 * half + within % 32] >> (2 * (within / 32))) & 0x03;
        let q = i32::from(low | (high << 4)) - 32;
        (d * f32::from(scales[v / 16] as i8)) * q as f32
    }));
}
