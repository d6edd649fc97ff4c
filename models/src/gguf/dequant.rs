//! Quantized blocks to f32, exactly as GGML's reference dequantization computes them.
//!
//! Each value is the f32 result of the same operations in the same order as ggml-quants.c
//! (and the `gguf` Python package, which the fixture tests compare against bit for bit):
//! f16 scales widened exactly, integer quants converted exactly, then f32 multiplies and,
//! for Q4_K, one f32 subtraction, each rounded once, never fused. The result is a plain
//! function of the file's bytes, so every backend that receives these f32 weights computes
//! with the same numbers (ops/DETERMINISM.md §3a). The quantized types' values come from
//! `fak_ops`' block types, the definition the packed matmul kernels decode in registers.

use fak_ops::{BlockQ4K, BlockQ5_0, BlockQ6K, BlockQ8_0, QuantBlock};
use half::f16;

use super::{GgmlType, GgufError};

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
        GgmlType::Q5_0 => blocks_of::<BlockQ5_0>(bytes, out),
        GgmlType::Q8_0 => blocks_of::<BlockQ8_0>(bytes, out),
        GgmlType::Q4K => blocks_of::<BlockQ4K>(bytes, out),
        GgmlType::Q6K => blocks_of::<BlockQ6K>(bytes, out),
        other => {
            return Err(GgufError::Unsupported {
                tensor: tensor.to_string(),
                ty: other.name(),
            });
        }
    }
    Ok(())
}

/// Appends the values of whole blocks of `B` to `out`.
fn blocks_of<B: QuantBlock>(bytes: &[u8], out: &mut Vec<f32>) {
    out.extend(
        bytemuck::cast_slice::<u8, B>(bytes)
            .iter()
            .flat_map(|b| b.values()),
    );
}
