//! The KV pool on the device and the ops on it: storing rows, paged attention, and moving,
//! reading and writing whole slot rows.
//!
//! Calls that write several slots are resolved on the host into distinct destinations
//! first, with the meaning of the CPU backend's in-order loop (the last write to a slot
//! wins; a copy reads what earlier copies left), so the parallel kernels never race.

use std::collections::BTreeMap;

use cubecl::prelude::*;
use fak_ops::AttentionConfig;

use super::CubeBackend;
use super::buffer::{CubeKv, CubeTensor, Words};
use crate::kernels::attention::{MAX_HEAD_DIM, attention};
use crate::kernels::grid::{LANE_UNITS, cube_grid, element_grid};
use crate::kernels::kv::{copy_rows, kv_store};
use crate::{BackendError, KV_BLOCK_TOKENS, KvLayout, KvRows, shape};

/// For each slot written, the index of the last write to it, ordered by slot.
fn last_writes(slots: &[u32]) -> BTreeMap<u32, u32> {
    slots
        .iter()
        .enumerate()
        .map(|(i, &slot)| (slot, i as u32))
        .collect()
}

/// `(from, to)` moves applied in order, as one parallel copy: for each destination that
/// ends up changed, the slot whose original row it holds.
fn resolve_moves(moves: &[(u32, u32)]) -> BTreeMap<u32, u32> {
    let mut origin: BTreeMap<u32, u32> = BTreeMap::new();
    for &(from, to) in moves {
        let source = origin.get(&from).copied().unwrap_or(from);
        origin.insert(to, source);
    }
    origin.retain(|to, from| to != from);
    origin
}

impl<R: Runtime> CubeBackend<R> {
    pub(super) fn alloc_kv(&self, layout: KvLayout) -> Result<CubeKv, BackendError> {
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

    pub(super) fn launch_kv_store(
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

    pub(super) fn launch_attention(
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
        );
        Ok(())
    }

    /// Copies row `src_rows[r]` of `src` to row `dst_rows[r]` of `dst` (rows of
    /// `row_words` words).
    fn copy_slot_rows(
        &self,
        src: &Words,
        src_rows: &[u32],
        dst: &Words,
        dst_rows: &[u32],
        row_words: usize,
    ) -> Result<(), BackendError> {
        let (count, dim) = element_grid(src_rows.len() * row_words);
        copy_rows::launch::<R>(
            &self.client,
            count,
            dim,
            self.arg(src),
            self.arg(&self.upload_words(src_rows)?),
            self.arg(dst),
            self.arg(&self.upload_words(dst_rows)?),
            self.count(src_rows.len())?,
            self.count(row_words)?,
        );
        Ok(())
    }

    /// K and V rows of `slots`, copied into fresh buffers of `slots.len()` rows.
    fn gather_rows(&self, kv: &CubeKv, slots: &[u32]) -> Result<(Words, Words), BackendError> {
        let dense: Vec<u32> = (0..slots.len() as u32).collect();
        let k = self.alloc(slots.len() * kv.row_words)?;
        let v = self.alloc(slots.len() * kv.row_words)?;
        self.copy_slot_rows(&kv.k, slots, &k, &dense, kv.row_words)?;
        self.copy_slot_rows(&kv.v, slots, &v, &dense, kv.row_words)?;
        Ok((k, v))
    }

    /// Rows `0..slots.len()` of `k` and `v` into `slots` of the pool (distinct slots).
    fn scatter_rows(
        &self,
        kv: &CubeKv,
        k: &Words,
        v: &Words,
        slots: &[u32],
    ) -> Result<(), BackendError> {
        let dense: Vec<u32> = (0..slots.len() as u32).collect();
        self.copy_slot_rows(k, &dense, &kv.k, slots, kv.row_words)?;
        self.copy_slot_rows(v, &dense, &kv.v, slots, kv.row_words)
    }

    pub(super) fn launch_kv_copy(
        &self,
        kv: &mut CubeKv,
        moves: &[(u32, u32)],
    ) -> Result<(), BackendError> {
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

    pub(super) fn read_kv(&self, kv: &CubeKv, slots: &[u32]) -> Result<KvRows, BackendError> {
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

    pub(super) fn write_kv(
        &self,
        kv: &mut CubeKv,
        slots: &[u32],
        rows: &KvRows,
    ) -> Result<(), BackendError> {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn moves_resolve_to_the_rows_an_in_order_loop_leaves() {
        // 1 -> 2, then 2 -> 3: slot 3 gets slot 1's row (2 already holds it).
        let resolved = resolve_moves(&[(1, 2), (2, 3)]);
        assert_eq!(resolved, BTreeMap::from([(2, 1), (3, 1)]));
        // A swap through a temporary slot 9 and a move back onto itself.
        let resolved = resolve_moves(&[(0, 9), (1, 0), (9, 1), (4, 4)]);
        assert_eq!(resolved, BTreeMap::from([(0, 1), (1, 0), (9, 0)]));
    }

    #[test]
    fn the_last_write_to_a_slot_wins() {
        assert_eq!(
            last_writes(&[5, 7, 5, 2]),
            BTreeMap::from([(2, 3), (5, 2), (7, 1)])
        );
    }
}
