//! Weights and tables onto the device.
//!
//! A matrix is uploaded in its stored dtype, bytes as they are (bf16/f16 land two to a
//! 32-bit word, an odd count padded with a zero half), never widened. One larger than a
//! binding (Qwen2.5-0.5B's 272 MB embedding against llvmpipe's 128 MiB) is cut into runs
//! of whole rows, one buffer each; every output row depends on its own weight row only, so
//! launching once per run gives the bits of one launch over the whole matrix.
//!
//! Packed (GGML block) matrices are dequantized to f32 on the host first (the values the CPU
//! decodes in registers, DETERMINISM.md §3a), so the device kernels read plain f32 weights
//! and the bits stay those of the CPU backend.

use cubecl::prelude::*;
use fak_ops::RopeTable;

use super::CubeBackend;
use super::buffer::{CubeMatrix, CubeRope, MatrixChunk, Words};
use crate::kernels::matmul::{DTYPE_BF16, DTYPE_F16, DTYPE_F32};
use crate::{BackendError, HostMatrix, WeightDtype};

/// The kernels' compile-time code for a weight dtype. A packed dtype is on the device as
/// the f32 values [`CubeBackend::upload_matrix`] uploads for it.
pub(super) fn dtype_id(dtype: WeightDtype) -> u32 {
    match dtype {
        WeightDtype::Bf16 => DTYPE_BF16,
        WeightDtype::F16 => DTYPE_F16,
        WeightDtype::F32
        | WeightDtype::Q8_0
        | WeightDtype::Q5_0
        | WeightDtype::Q4K
        | WeightDtype::Q6K => DTYPE_F32,
    }
}

impl<R: Runtime> CubeBackend<R> {
    /// A buffer holding `bytes` as little-endian words, the last one zero-padded.
    fn upload_bytes(&self, bytes: &[u8]) -> Result<Words, BackendError> {
        let words = bytes.len().div_ceil(4);
        self.check_binding(words)?;
        let handle = if bytes.len() == words * 4 && !bytes.is_empty() {
            self.client.create_from_slice(bytes)
        } else {
            let mut padded = bytes.to_vec();
            padded.resize(words.max(1) * 4, 0);
            self.client.create_from_slice(&padded)
        };
        Ok(Words { handle, len: words })
    }

    /// Uploads `w` as runs of whole rows, each within one binding.
    pub(super) fn upload_matrix(&self, w: &HostMatrix) -> Result<CubeMatrix, BackendError> {
        let w = w.unpacked()?;
        let (_, element_bytes) = w.dtype().block();
        let row_bytes = w.cols() * element_bytes;
        // Room for the padding word of a run with an odd number of 16-bit values.
        let rows_per_chunk = self.max_binding_bytes.saturating_sub(4) / row_bytes;
        if rows_per_chunk == 0 {
            return Err(BackendError::BufferTooLarge {
                bytes: row_bytes,
                max: self.max_binding_bytes,
                device: self.device.name.clone(),
            });
        }
        let chunks = (0..w.rows())
            .step_by(rows_per_chunk)
            .map(|first_row| {
                let rows = rows_per_chunk.min(w.rows() - first_row);
                let bytes = &w.bytes()[first_row * row_bytes..(first_row + rows) * row_bytes];
                Ok(MatrixChunk {
                    words: self.upload_bytes(bytes)?,
                    first_row,
                    rows,
                })
            })
            .collect::<Result<_, BackendError>>()?;
        Ok(CubeMatrix {
            chunks,
            dtype: w.dtype(),
            rows: w.rows(),
            cols: w.cols(),
        })
    }

    /// Uploads the host's cos and sin bytes.
    pub(super) fn upload_rope(&self, table: &RopeTable) -> Result<CubeRope, BackendError> {
        Ok(CubeRope {
            cos: self.upload_words(bytemuck::cast_slice(table.cos()))?,
            sin: self.upload_words(bytemuck::cast_slice(table.sin()))?,
            pairs: table.pairs(),
            max_positions: table.max_positions(),
        })
    }
}
