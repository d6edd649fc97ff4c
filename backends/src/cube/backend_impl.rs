//! [`Backend`] for [`CubeBackend`]: each op checks its inputs on the host and launches its
//! kernel; small per-call arrays (tokens, positions, slots, block tables) are uploaded with
//! the call.

use std::ops::Range;

use cubecl::prelude::*;
use fak_ops::{AttentionConfig, NormWeight, RmsNormParams, RopeLayout, RopeTable};

use super::CubeBackend;
use super::buffer::{CubeKv, CubeMatrix, CubeRope, CubeTensor};
use crate::kernels::grid::{LANE_UNITS, cube_grid, element_grid};
use crate::kernels::{buffer as copy, norm, residual, rope, swiglu};
use crate::{Backend, BackendError, DeviceInfo, HostMatrix, KvLayout, KvRows, shape};

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
        Ok(bytemuck::cast_vec(words))
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
        self.alloc_kv(layout)
    }

    fn embed(
        &self,
        table: &CubeMatrix,
        tokens: &[u32],
        out: &mut CubeTensor,
    ) -> Result<(), BackendError> {
        self.launch_embed(table, tokens, out)
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
        self.launch_matmul(w, x, out)
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
        shape::swiglu(gate.len(), up.len(), out.len())?;
        let (count, dim) = element_grid(gate.len());
        swiglu::swiglu::launch::<R>(
            &self.client,
            count,
            dim,
            self.arg(&gate.words),
            self.arg(&up.words),
            self.arg(&out.words),
            self.count(gate.len())?,
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
        self.launch_kv_store(kv, slots, k, v)
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
        self.launch_attention(config, q, positions, kv, block_table, out)
    }

    fn kv_copy(&self, kv: &mut CubeKv, moves: &[(u32, u32)]) -> Result<(), BackendError> {
        self.launch_kv_copy(kv, moves)
    }

    fn kv_read(&self, kv: &CubeKv, slots: &[u32]) -> Result<KvRows, BackendError> {
        self.read_kv(kv, slots)
    }

    fn kv_write(&self, kv: &mut CubeKv, slots: &[u32], rows: &KvRows) -> Result<(), BackendError> {
        self.write_kv(kv, slots, rows)
    }
}
