//! [`Backend`] for [`CubeBackend`]: each op checks its inputs on the host and launches its
//! kernel; small per-call arrays (tokens, positions, slots, block tables) are uploaded with
//! the call.

use std::ops::Range;

use cubecl::prelude::*;
use fak_ops::checks::{check_gated, check_scale};
use fak_ops::{AttentionConfig, NormWeight, QUANT_BLOCK, RmsNormParams, RopeLayout, RopeTable};

use super::CubeBackend;
use super::buffer::{CubeKv, CubeMatrix, CubeRope, CubeTensor, MatrixChunk};
use super::kv::{last_writes, resolve_moves};
use super::weights::dtype_id;
use crate::kernels::attention::{MAX_HEAD_DIM, attention};
use crate::kernels::embed::embed;
use crate::kernels::glu::{GLU_GELU_TANH, GLU_SILU, gated};
use crate::kernels::grid::{LANE_UNITS, cube_grid, element_grid};
use crate::kernels::int8::quantize_blocks;
use crate::kernels::kv::kv_store;
use crate::kernels::matmul::{ROWS_PER_CUBE, bf16_factors, matmul, matmul_blocks};
use crate::kernels::{buffer as copy, norm, residual, rope, scale};
use crate::{
    Backend, BackendError, DeviceInfo, HostMatrix, KV_BLOCK_TOKENS, KvLayout, KvRows, shape,
};

impl<R: Runtime> Backend for CubeBackend<R> {
    type Tensor = CubeTensor;
    type Matrix = CubeMatrix;
    type Rope = CubeRope;
    type Kv = CubeKv;

    fn device(&self) -> &DeviceInfo {
        &self.device
    }

    fn zeros(&self, len: usize) -> Result<CubeTensor, BackendError> {
        Ok(CubeTensor {
            words: self.alloc_zeroed(len)?,
        })
    }

    fn upload(&self, data: &[f32]) -> Result<CubeTensor, BackendError> {
        Ok(CubeTensor {
            words: self.upload_words(bytemuck::cast_slice(data))?,
        })
    }

    fn download(&self, t: &CubeTensor) -> Result<Vec<f32>, BackendError> {
        let words = self.download_words(&t.words)?;
        Ok(words.into_iter().map(f32::from_bits).collect())
    }

    fn slice(&self, src: &CubeTensor, range: Range<usize>) -> Result<CubeTensor, BackendError> {
        if range.start > range.end || range.end > src.len() {
            return Err(BackendError::Shape(format!(
                "slice {range:?} of a tensor of {} values",
                src.len()
            )));
        }
        let n = range.end - range.start;
        let words = self.alloc(n)?;
        let (count, dim) = element_grid(n);
        copy::copy_range::launch::<R>(
            &self.client,
            count,
            dim,
            self.arg(&src.words),
            self.arg(&words),
            self.count(range.start)?,
            self.count(n)?,
        );
        Ok(CubeTensor { words })
    }

    fn matrix(&self, w: &HostMatrix) -> Result<CubeMatrix, BackendError> {
        self.upload_matrix(w)
    }

    fn rope_table(&self, table: &RopeTable) -> Result<CubeRope, BackendError> {
        self.upload_rope(table)
    }

    fn kv_alloc(&self, layout: KvLayout) -> Result<CubeKv, BackendError> {
        let row_words = layout.row_len().div_ceil(2);
        let words = layout
            .slots()
            .checked_mul(row_words)
            .ok_or_else(|| BackendError::Shape(format!("KV pool {layout:?} overflows")))?;
        Ok(CubeKv {
            k: self.alloc_zeroed(words)?,
            v: self.alloc_zeroed(words)?,
            layout,
            row_words,
        })
    }

    fn embed(
        &self,
        table: &CubeMatrix,
        tokens: &[u32],
        out: &mut CubeTensor,
    ) -> Result<(), BackendError> {
        shape::embed(table.rows, table.cols, tokens, out.len())?;
        let ids = self.upload_words(tokens)?;
        let (count, dim) = element_grid(out.len());
        for chunk in &table.chunks {
            embed::launch::<R>(
                &self.client,
                count.clone(),
                dim,
                self.arg(&chunk.words),
                self.arg(&ids),
                self.arg(&out.words),
                self.count(tokens.len())?,
                self.count(table.cols)?,
                self.count(chunk.first_row)?,
                self.count(chunk.rows)?,
                dtype_id(table.dtype),
            );
        }
        Ok(())
    }

    fn rms_norm(
        &self,
        x: &CubeTensor,
        weight: &CubeTensor,
        params: RmsNormParams,
        out: &mut CubeTensor,
    ) -> Result<(), BackendError> {
        let rows = shape::rms_norm(x.len(), weight.len(), params.eps, out.len())?;
        norm::rms_norm::launch::<R>(
            &self.client,
            cube_grid(rows),
            CubeDim::new_1d(LANE_UNITS),
            self.arg(&x.words),
            self.arg(&weight.words),
            self.arg(&out.words),
            self.count(rows)?,
            self.count(weight.len())?,
            params.eps,
            params.weight == NormWeight::OnePlus,
        );
        Ok(())
    }

    fn matmul(
        &self,
        w: &CubeMatrix,
        x: &CubeTensor,
        out: &mut CubeTensor,
    ) -> Result<(), BackendError> {
        let tokens = shape::matmul(w.rows, w.cols, x.len(), out.len())?;
        if w.dtype.is_packed() {
            self.matmul_blocks(w, x, out, tokens)
        } else {
            self.matmul_elements(w, x, out, tokens)
        }
    }

    fn add(&self, x: &mut CubeTensor, y: &CubeTensor) -> Result<(), BackendError> {
        shape::add(x.len(), y.len())?;
        let (count, dim) = element_grid(x.len());
        residual::add::launch::<R>(
            &self.client,
            count,
            dim,
            self.arg(&x.words),
            self.arg(&y.words),
            self.count(x.len())?,
        );
        Ok(())
    }

    fn add_bias(&self, x: &mut CubeTensor, bias: &CubeTensor) -> Result<(), BackendError> {
        shape::add_bias(x.len(), bias.len())?;
        let (count, dim) = element_grid(x.len());
        residual::add_bias::launch::<R>(
            &self.client,
            count,
            dim,
            self.arg(&x.words),
            self.arg(&bias.words),
            self.count(x.len())?,
            self.count(bias.len())?,
        );
        Ok(())
    }

    fn rope(
        &self,
        table: &CubeRope,
        layout: RopeLayout,
        positions: &[u32],
        x: &mut CubeTensor,
        n_heads: usize,
    ) -> Result<(), BackendError> {
        shape::rope(
            table.pairs,
            table.max_positions,
            positions,
            x.len(),
            n_heads,
        )?;
        let (count, dim) = element_grid(positions.len() * n_heads * table.pairs);
        rope::rope::launch::<R>(
            &self.client,
            count,
            dim,
            self.arg(&x.words),
            self.arg(&table.cos),
            self.arg(&table.sin),
            self.arg(&self.upload_words(positions)?),
            self.count(positions.len())?,
            self.count(n_heads)?,
            self.count(table.pairs)?,
            layout == RopeLayout::Interleaved,
        );
        Ok(())
    }

    fn swiglu(
        &self,
        gate: &CubeTensor,
        up: &CubeTensor,
        out: &mut CubeTensor,
    ) -> Result<(), BackendError> {
        self.gated("swiglu", GLU_SILU, gate, up, out)
    }

    fn geglu(
        &self,
        gate: &CubeTensor,
        up: &CubeTensor,
        out: &mut CubeTensor,
    ) -> Result<(), BackendError> {
        self.gated("geglu", GLU_GELU_TANH, gate, up, out)
    }

    fn scale(&self, x: &mut CubeTensor, factor: f32) -> Result<(), BackendError> {
        check_scale(x.len(), factor)?;
        let (count, dim) = element_grid(x.len());
        scale::scale::launch::<R>(
            &self.client,
            count,
            dim,
            self.arg(&x.words),
            // Flushed here as the CPU flushes it: a denormal factor must not reach a
            // device that keeps denormals.
            fak_ops::ftz(factor),
            self.count(x.len())?,
        );
        Ok(())
    }

    fn kv_store(
        &self,
        kv: &mut CubeKv,
        slots: &[u32],
        k: &CubeTensor,
        v: &CubeTensor,
    ) -> Result<(), BackendError> {
        kv.layout.check_rows("kv_store", slots, k.len(), v.len())?;
        let writes = last_writes(slots);
        let dst: Vec<u32> = writes.keys().copied().collect();
        let src: Vec<u32> = writes.values().copied().collect();
        if dst.is_empty() {
            return Ok(());
        }
        let (count, dim) = element_grid(dst.len() * kv.row_words);
        kv_store::launch::<R>(
            &self.client,
            count,
            dim,
            self.arg(&k.words),
            self.arg(&v.words),
            self.arg(&kv.k),
            self.arg(&kv.v),
            self.arg(&self.upload_words(&src)?),
            self.arg(&self.upload_words(&dst)?),
            self.count(dst.len())?,
            self.count(kv.layout.row_len())?,
            self.count(kv.row_words)?,
        );
        Ok(())
    }

    fn attention(
        &self,
        config: &AttentionConfig,
        q: &CubeTensor,
        positions: &[u32],
        kv: &CubeKv,
        block_table: &[u32],
        out: &mut CubeTensor,
    ) -> Result<(), BackendError> {
        kv.layout.check_attention(config)?;
        let last = positions.iter().copied().max().unwrap_or(0) as usize;
        kv.layout.check_block_table(block_table, last)?;
        shape::attention(config, q.len(), positions, out.len())?;
        if config.head_dim > MAX_HEAD_DIM {
            return Err(BackendError::Shape(format!(
                "attention: head_dim {} is above the {MAX_HEAD_DIM} the device kernel takes",
                config.head_dim
            )));
        }
        let blocks = &block_table[..last / KV_BLOCK_TOKENS + 1];
        attention::launch::<R>(
            &self.client,
            cube_grid(positions.len() * config.n_heads),
            CubeDim::new_1d(LANE_UNITS),
            self.arg(&q.words),
            self.arg(&self.upload_words(positions)?),
            self.arg(&self.upload_words(blocks)?),
            self.arg(&kv.k),
            self.arg(&kv.v),
            self.arg(&out.words),
            self.count(positions.len())?,
            self.count(config.n_heads)?,
            self.count(config.n_heads / config.n_kv_heads)?,
            self.count(config.head_dim)?,
            self.count(kv.row_words)?,
            config.scale,
            // 0 is no window; a window past u32::MAX is wider than any pool's positions.
            config
                .window
                .map_or(0, |w| u32::try_from(w).unwrap_or(u32::MAX)),
        );
        Ok(())
    }

    fn kv_copy(&self, kv: &mut CubeKv, moves: &[(u32, u32)]) -> Result<(), BackendError> {
        for &(from, to) in moves {
            kv.layout.check_slots(&[from, to])?;
        }
        let resolved = resolve_moves(moves);
        if resolved.is_empty() {
            return Ok(());
        }
        let sources: Vec<u32> = resolved.values().copied().collect();
        let targets: Vec<u32> = resolved.keys().copied().collect();
        // Through a staging copy: a source may also be a target of the same call.
        let (k, v) = self.gather_rows(kv, &sources)?;
        self.scatter_rows(kv, &k, &v, &targets)
    }

    fn kv_read(&self, kv: &CubeKv, slots: &[u32]) -> Result<KvRows, BackendError> {
        kv.layout.check_slots(slots)?;
        if slots.is_empty() {
            return Ok(KvRows::default());
        }
        let (k, v) = self.gather_rows(kv, slots)?;
        let unpack = |words: Vec<u32>| -> Vec<u16> {
            words
                .chunks_exact(kv.row_words)
                .flat_map(|row| {
                    row.iter()
                        .flat_map(|w| [*w as u16, (*w >> 16) as u16])
                        .take(kv.layout.row_len())
                })
                .collect()
        };
        Ok(KvRows {
            k: unpack(self.download_words(&k)?),
            v: unpack(self.download_words(&v)?),
        })
    }

    fn kv_write(&self, kv: &mut CubeKv, slots: &[u32], rows: &KvRows) -> Result<(), BackendError> {
        kv.layout
            .check_rows("kv_write", slots, rows.k.len(), rows.v.len())?;
        let writes = last_writes(slots);
        if writes.is_empty() {
            return Ok(());
        }
        let n = kv.layout.row_len();
        let pack = |values: &[u16]| -> Vec<u32> {
            writes
                .values()
                .flat_map(|&t| {
                    values[t as usize * n..][..n]
                        .chunks(2)
                        .map(|p| u32::from(p[0]) | (u32::from(*p.get(1).unwrap_or(&0)) << 16))
                })
                .collect()
        };
        let k = self.upload_words(&pack(&rows.k))?;
        let v = self.upload_words(&pack(&rows.v))?;
        let targets: Vec<u32> = writes.keys().copied().collect();
        self.scatter_rows(kv, &k, &v, &targets)
    }
}

impl<R: Runtime> CubeBackend<R> {
    /// [`Backend::matmul`] over bf16, f16 or f32 weights: bf16 activation factors, then
    /// the element kernel on each run of rows.
    fn matmul_elements(
        &self,
        w: &CubeMatrix,
        x: &CubeTensor,
        out: &mut CubeTensor,
        tokens: usize,
    ) -> Result<(), BackendError> {
        let factors = self.alloc(x.len())?;
        let (count, dim) = element_grid(x.len());
        bf16_factors::launch::<R>(
            &self.client,
            count,
            dim,
            self.arg(&x.words),
            self.arg(&factors),
            self.count(x.len())?,
        );
        for chunk in &w.chunks {
            let (count, dim, row_groups) = row_groups(chunk, tokens);
            matmul::launch::<R>(
                &self.client,
                count,
                dim,
                self.arg(&chunk.words),
                self.arg(&factors),
                self.arg(&out.words),
                self.count(tokens)?,
                self.count(w.cols)?,
                self.count(chunk.rows)?,
                self.count(row_groups)?,
                self.count(w.rows)?,
                self.count(chunk.first_row)?,
                dtype_id(w.dtype),
            );
        }
        Ok(())
    }

    /// [`Backend::matmul`] over quantized weights (DETERMINISM.md §3b): the activations
    /// as int8 blocks, then the block kernel on each run of rows.
    fn matmul_blocks(
        &self,
        w: &CubeMatrix,
        x: &CubeTensor,
        out: &mut CubeTensor,
        tokens: usize,
    ) -> Result<(), BackendError> {
        let blocks = x.len() / QUANT_BLOCK;
        let limbs = self.alloc(2 * x.len())?;
        let scales = self.alloc(blocks)?;
        let (count, dim) = element_grid(blocks);
        quantize_blocks::launch::<R>(
            &self.client,
            count,
            dim,
            self.arg(&x.words),
            self.arg(&limbs),
            self.arg(&scales),
            self.count(blocks)?,
        );
        for chunk in &w.chunks {
            let (count, dim, row_groups) = row_groups(chunk, tokens);
            matmul_blocks::launch::<R>(
                &self.client,
                count,
                dim,
                self.arg(&chunk.words),
                self.arg(&limbs),
                self.arg(&scales),
                self.arg(&out.words),
                self.count(tokens)?,
                self.count(w.cols)?,
                self.count(chunk.rows)?,
                self.count(row_groups)?,
                self.count(w.rows)?,
                self.count(chunk.first_row)?,
                dtype_id(w.dtype),
            );
        }
        Ok(())
    }

    /// The gated unit `op` (SwiGLU or GeGLU) with the kernel's `activation`.
    fn gated(
        &self,
        op: &'static str,
        activation: u32,
        gate: &CubeTensor,
        up: &CubeTensor,
        out: &mut CubeTensor,
    ) -> Result<(), BackendError> {
        check_gated(op, gate.len(), up.len(), out.len())?;
        let (count, dim) = element_grid(gate.len());
        gated::launch::<R>(
            &self.client,
            count,
            dim,
            self.arg(&gate.words),
            self.arg(&up.words),
            self.arg(&out.words),
            self.count(gate.len())?,
            activation,
        );
        Ok(())
    }
}

/// The launch of a matmul kernel over one run of rows: one cube per token and group of
/// [`ROWS_PER_CUBE`] rows, 32 units per row; also the number of row groups.
fn row_groups(chunk: &MatrixChunk, tokens: usize) -> (CubeCount, CubeDim, usize) {
    let row_groups = chunk.rows.div_ceil(ROWS_PER_CUBE as usize);
    (
        cube_grid(row_groups * tokens),
        CubeDim::new_2d(LANE_UNITS, ROWS_PER_CUBE),
        row_groups,
    )
}
