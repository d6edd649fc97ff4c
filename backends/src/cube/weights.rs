//! Weights and tables onto the device.
//!
//! A bf16, f16 or f32 matrix is uploaded in its stored dtype, bytes as they are (bf16/f16
//! land two to a 32-bit word, an odd count padded with a zero half), never widened. One
//! larger than a binding (Qwen2.5-0.5B's 272 MB embedding against llvmpipe's 128 MiB) is
//! cut into runs of whole rows, one buffer each; every output row depends on its own
//! weight row only, so launching once per run gives the bits of one launch over the whole
//! matrix.
//!
//! A packed (GGML block) matrix is uploaded as integer chunks, built on the host from
//! `fak_ops::QuantBlock::int_chunk` in the layout of [`crate::kernels::quantized`] (10
//! words per 32 weights, 11 for Q4_K): the form the product kernel reads (DETERMINISM.md
//! §3b), from which the embedding gather rebuilds each weight's value (§3a), so a table
//! tied to the output projection is uploaded once. Runs of rows are cut as above.

use std::ops::Range;

use cubecl::prelude::*;
use fak_ops::{
    BlockQ5_0, BlockQ6K, BlockQ8_0, QUANT_BLOCK, QuantBlock, RopeTable, WeightData, WeightView,
};

use super::CubeBackend;
use super::buffer::{CubeMatrix, CubeRope, MatrixChunk, Words};
use crate::kernels::matmul::{
    DTYPE_BF16, DTYPE_F16, DTYPE_F32, DTYPE_INT_CHUNKS, DTYPE_INT_CHUNKS_COMBINED,
    DTYPE_INT_CHUNKS_MIN,
};
use crate::kernels::quantized::{chunk_words, push_chunk_words};
use crate::{BackendError, HostMatrix, WeightDtype};

/// The kernels' compile-time code for a weight dtype as [`CubeBackend::upload_matrix`]
/// uploads it.
pub(super) fn dtype_id(dtype: WeightDtype) -> u32 {
    match dtype {
        WeightDtype::Bf16 => DTYPE_BF16,
        WeightDtype::F16 => DTYPE_F16,
        WeightDtype::F32 => DTYPE_F32,
        WeightDtype::Q8_0 => int_chunks::<BlockQ8_0>(),
        WeightDtype::Q5_0 => int_chunks::<BlockQ5_0>(),
        WeightDtype::Q6K => int_chunks::<BlockQ6K>(),
        WeightDtype::Q4K => DTYPE_INT_CHUNKS_MIN,
    }
}

/// The code of a block type without a minimum: whether its limbs' sums enter combined.
fn int_chunks<B: QuantBlock>() -> u32 {
    if B::COMBINED_LIMBS {
        DTYPE_INT_CHUNKS_COMBINED
    } else {
        DTYPE_INT_CHUNKS
    }
}

/// Bytes of one row of `w` on the device.
fn device_row_bytes(w: &HostMatrix) -> usize {
    if w.dtype().is_packed() {
        let words = chunk_words(dtype_id(w.dtype()) == DTYPE_INT_CHUNKS_MIN);
        w.cols() / QUANT_BLOCK * words * 4
    } else {
        w.cols() * w.dtype().block().1
    }
}

/// Rows `rows` of a packed matrix as integer-chunk words; `None` for an element dtype.
fn int_chunk_rows(w: &WeightView<'_>, rows: Range<usize>) -> Option<Vec<u32>> {
    match w.data() {
        WeightData::Q8_0(b) => Some(chunk_rows(b, w.cols(), rows)),
        WeightData::Q5_0(b) => Some(chunk_rows(b, w.cols(), rows)),
        WeightData::Q4K(b) => Some(chunk_rows(b, w.cols(), rows)),
        WeightData::Q6K(b) => Some(chunk_rows(b, w.cols(), rows)),
        WeightData::Bf16(_) | WeightData::F16(_) | WeightData::F32(_) => None,
    }
}

/// Rows `rows` of `blocks` (rows of `cols` weights), every chunk in order.
fn chunk_rows<B: QuantBlock>(blocks: &[B], cols: usize, rows: Range<usize>) -> Vec<u32> {
    let per_row = cols / (QUANT_BLOCK * B::CHUNKS);
    let mut words = Vec::new();
    for block in &blocks[rows.start * per_row..rows.end * per_row] {
        for j in 0..B::CHUNKS {
            push_chunk_words(&block.int_chunk(j), &mut words);
        }
    }
    words
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
        let row_bytes = device_row_bytes(w);
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
                Ok(MatrixChunk {
                    words: self.upload_rows(w, first_row..first_row + rows)?,
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

    /// One buffer holding rows `rows` of `w`.
    fn upload_rows(&self, w: &HostMatrix, rows: Range<usize>) -> Result<Words, BackendError> {
        match int_chunk_rows(&w.view()?, rows.clone()) {
            Some(words) => self.upload_words(&words),
            None => {
                let row_bytes = device_row_bytes(w);
                self.upload_bytes(&w.bytes()[rows.start * row_bytes..rows.end * row_bytes])
            }
        }
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
