//! The CPU backend: the `fak-ops` reference itself, behind the [`Backend`] interface.
//!
//! Weights are computed from the host bytes they arrive in (a memory map stays a memory map);
//! activations are plain vectors.

use std::ops::{Range, RangeInclusive};

use fak_ops::{AttentionConfig, KvView, RmsNormParams, RopeLayout, RopeTable};
use half::bf16;

use crate::backend::{Backend, KV_BLOCK_TOKENS, KvLayout, KvRows};
use crate::{BackendError, BackendKind, DeviceInfo, HostMatrix, probe, shape};

/// Runs every op with the CPU reference in `fak-ops`.
#[derive(Debug, Clone)]
pub struct CpuBackend {
    device: DeviceInfo,
}

impl CpuBackend {
    pub fn new() -> Self {
        let device = probe(BackendKind::Cpu)
            .ok()
            .and_then(|mut d| d.pop())
            .expect("the CPU backend is always compiled in and always has its one device");
        Self { device }
    }
}

impl Default for CpuBackend {
    fn default() -> Self {
        Self::new()
    }
}

/// f32 activations in host memory.
#[derive(Debug, Clone, PartialEq)]
pub struct CpuTensor(pub Vec<f32>);

/// One layer's KV pool in host memory.
#[derive(Debug, Clone)]
pub struct CpuKv {
    layout: KvLayout,
    k: Vec<bf16>,
    v: Vec<bf16>,
}

impl CpuKv {
    /// The element range of `slot`'s row, checked against the pool.
    fn row(&self, slot: u32) -> Result<Range<usize>, BackendError> {
        let slot = self.layout.check_slot(slot)?;
        let n = self.layout.row_len();
        Ok(slot * n..(slot + 1) * n)
    }

    /// Copies the rows of `positions` (through `block_table`) into contiguous K and V, the
    /// layout [`fak_ops::attention`] reads.
    fn gather(
        &self,
        block_table: &[u32],
        positions: RangeInclusive<usize>,
    ) -> Result<(Vec<bf16>, Vec<bf16>), BackendError> {
        let n = self.layout.row_len();
        let mut k = Vec::with_capacity(positions.clone().count() * n);
        let mut v = Vec::with_capacity(positions.clone().count() * n);
        for p in positions {
            let r = self.row(self.layout.slot_of(block_table, p)?)?;
            k.extend_from_slice(&self.k[r.clone()]);
            v.extend_from_slice(&self.v[r]);
        }
        Ok((k, v))
    }
}

impl Backend for CpuBackend {
    type Tensor = CpuTensor;
    type Matrix = HostMatrix;
    type Rope = RopeTable;
    type Kv = CpuKv;

    fn device(&self) -> &DeviceInfo {
        &self.device
    }

    fn zeros(&self, len: usize) -> Result<CpuTensor, BackendError> {
        Ok(CpuTensor(vec![0.0; len]))
    }

    fn upload(&self, data: &[f32]) -> Result<CpuTensor, BackendError> {
        Ok(CpuTensor(data.to_vec()))
    }

    fn download(&self, t: &CpuTensor) -> Result<Vec<f32>, BackendError> {
        Ok(t.0.clone())
    }

    fn slice(&self, src: &CpuTensor, range: Range<usize>) -> Result<CpuTensor, BackendError> {
        src.0
            .get(range.clone())
            .map(|s| CpuTensor(s.to_vec()))
            .ok_or_else(|| {
                BackendError::Shape(format!(
                    "slice {range:?} of a tensor of {} values",
                    src.0.len()
                ))
            })
    }

    fn matrix(&self, w: &HostMatrix) -> Result<HostMatrix, BackendError> {
        Ok(w.for_cpu()?)
    }

    fn rope_table(&self, table: &RopeTable) -> Result<RopeTable, BackendError> {
        Ok(table.clone())
    }

    fn kv_alloc(&self, layout: KvLayout) -> Result<CpuKv, BackendError> {
        let len = layout
            .slots()
            .checked_mul(layout.row_len())
            .ok_or_else(|| BackendError::Shape(format!("KV pool {layout:?} overflows")))?;
        Ok(CpuKv {
            layout,
            k: vec![bf16::ZERO; len],
            v: vec![bf16::ZERO; len],
        })
    }

    fn embed(
        &self,
        table: &HostMatrix,
        tokens: &[u32],
        out: &mut CpuTensor,
    ) -> Result<(), BackendError> {
        Ok(fak_ops::embed_gather(table.view()?, tokens, &mut out.0)?)
    }

    fn rms_norm(
        &self,
        x: &CpuTensor,
        weight: &CpuTensor,
        params: RmsNormParams,
        out: &mut CpuTensor,
    ) -> Result<(), BackendError> {
        Ok(fak_ops::rms_norm(&x.0, &weight.0, params, &mut out.0)?)
    }

    fn matmul(
        &self,
        w: &HostMatrix,
        x: &CpuTensor,
        out: &mut CpuTensor,
    ) -> Result<(), BackendError> {
        Ok(fak_ops::matmul(w.view()?, &x.0, &mut out.0)?)
    }

    fn add(&self, x: &mut CpuTensor, y: &CpuTensor) -> Result<(), BackendError> {
        Ok(fak_ops::add(&mut x.0, &y.0)?)
    }

    fn add_bias(&self, x: &mut CpuTensor, bias: &CpuTensor) -> Result<(), BackendError> {
        shape::add_bias(x.0.len(), bias.0.len())?;
        for row in x.0.chunks_exact_mut(bias.0.len()) {
            fak_ops::add(row, &bias.0)?;
        }
        Ok(())
    }

    fn rope(
        &self,
        table: &RopeTable,
        layout: RopeLayout,
        positions: &[u32],
        x: &mut CpuTensor,
        n_heads: usize,
    ) -> Result<(), BackendError> {
        Ok(fak_ops::rope_apply(
            table, layout, positions, &mut x.0, n_heads,
        )?)
    }

    fn swiglu(
        &self,
        gate: &CpuTensor,
        up: &CpuTensor,
        out: &mut CpuTensor,
    ) -> Result<(), BackendError> {
        Ok(fak_ops::swiglu(&gate.0, &up.0, &mut out.0)?)
    }

    fn geglu(
        &self,
        gate: &CpuTensor,
        up: &CpuTensor,
        out: &mut CpuTensor,
    ) -> Result<(), BackendError> {
        Ok(fak_ops::geglu(&gate.0, &up.0, &mut out.0)?)
    }

    fn scale(&self, x: &mut CpuTensor, factor: f32) -> Result<(), BackendError> {
        Ok(fak_ops::scale(&mut x.0, factor)?)
    }

    fn kv_store(
        &self,
        kv: &mut CpuKv,
        slots: &[u32],
        k: &CpuTensor,
        v: &CpuTensor,
    ) -> Result<(), BackendError> {
        kv.layout
            .check_rows("kv_store", slots, k.0.len(), v.0.len())?;
        let n = kv.layout.row_len();
        for (t, &slot) in slots.iter().enumerate() {
            let r = kv.row(slot)?;
            fak_ops::to_bf16(&k.0[t * n..(t + 1) * n], &mut kv.k[r.clone()])?;
            fak_ops::to_bf16(&v.0[t * n..(t + 1) * n], &mut kv.v[r])?;
        }
        Ok(())
    }

    fn attention(
        &self,
        config: &AttentionConfig,
        q: &CpuTensor,
        positions: &[u32],
        kv: &CpuKv,
        block_table: &[u32],
        out: &mut CpuTensor,
    ) -> Result<(), BackendError> {
        kv.layout.check_attention(config)?;
        let last = positions.iter().copied().max().unwrap_or(0) as usize;
        kv.layout.check_block_table(block_table, last)?;
        shape::attention(config, q.0.len(), positions, out.0.len())?;
        // Keys before every query's window are never read, so only the blocks from the one
        // holding the earliest visible key are gathered, and positions shift by that whole
        // number of blocks: each key keeps its lane in its block (DETERMINISM.md §6), so the
        // bits are those of the whole cache.
        let first = positions
            .iter()
            .map(|&p| config.first_key(p as usize))
            .min()
            .unwrap_or(0);
        let base = first - first % KV_BLOCK_TOKENS;
        let (k, v) = kv.gather(block_table, base..=last)?;
        let shifted: Vec<u32> = positions.iter().map(|&p| p - base as u32).collect();
        Ok(fak_ops::attention(
            config,
            &q.0,
            &shifted,
            KvView { k: &k, v: &v },
            &mut out.0,
        )?)
    }

    fn kv_copy(&self, kv: &mut CpuKv, moves: &[(u32, u32)]) -> Result<(), BackendError> {
        for &(from, to) in moves {
            kv.layout.check_slots(&[from, to])?;
        }
        for &(from, to) in moves {
            let src = kv.row(from)?;
            let dst = kv.row(to)?.start;
            kv.k.copy_within(src.clone(), dst);
            kv.v.copy_within(src, dst);
        }
        Ok(())
    }

    fn kv_read(&self, kv: &CpuKv, slots: &[u32]) -> Result<KvRows, BackendError> {
        let mut rows = KvRows::default();
        for &slot in slots {
            let r = kv.row(slot)?;
            rows.k.extend(kv.k[r.clone()].iter().map(|b| b.to_bits()));
            rows.v.extend(kv.v[r].iter().map(|b| b.to_bits()));
        }
        Ok(rows)
    }

    fn kv_write(&self, kv: &mut CpuKv, slots: &[u32], rows: &KvRows) -> Result<(), BackendError> {
        kv.layout
            .check_rows("kv_write", slots, rows.k.len(), rows.v.len())?;
        let n = kv.layout.row_len();
        for (t, &slot) in slots.iter().enumerate() {
            let r = kv.row(slot)?;
            for (i, dst) in r.clone().enumerate() {
                kv.k[dst] = bf16::from_bits(rows.k[t * n + i]);
                kv.v[dst] = bf16::from_bits(rows.v[t * n + i]);
            }
        }
        Ok(())
    }
}
