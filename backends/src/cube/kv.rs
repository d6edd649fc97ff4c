//! The KV pool on the device: allocation, and the row moves that KV copies, dumps and
//! loads are made of.
//!
//! Calls that write several slots are resolved on the host into distinct destinations
//! first, with the meaning of the CPU backend's in-order loop (the last write to a slot
//! wins; a copy reads what earlier copies left), so the parallel kernels never race.

use std::collections::BTreeMap;

use cubecl::prelude::*;

use super::CubeBackend;
use super::buffer::{CubeKv, Words};
use crate::BackendError;
use crate::kernels::grid::element_grid;
use crate::kernels::kv::copy_rows;

/// For each slot written, the index of the last write to it, ordered by slot.
pub(super) fn last_writes(slots: &[u32]) -> BTreeMap<u32, u32> {
    slots
        .iter()
        .enumerate()
        .map(|(i, &slot)| (slot, i as u32))
        .collect()
}

/// `(from, to)` moves applied in order, as one parallel copy: for each destination that
/// ends up changed, the slot whose original row it holds.
pub(super) fn resolve_moves(moves: &[(u32, u32)]) -> BTreeMap<u32, u32> {
    let mut origin: BTreeMap<u32, u32> = BTreeMap::new();
    for &(from, to) in moves {
        let source = origin.get(&from).copied().unwrap_or(from);
        origin.insert(to, source);
    }
    origin.retain(|to, from| to != from);
    origin
}

impl<R: Runtime> CubeBackend<R> {
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
    pub(super) fn gather_rows(
        &self,
        kv: &CubeKv,
        slots: &[u32],
    ) -> Result<(Words, Words), BackendError> {
        let dense: Vec<u32> = (0..slots.len() as u32).collect();
        let k = self.alloc(slots.len() * kv.row_words)?;
        let v = self.alloc(slots.len() * kv.row_words)?;
        self.copy_slot_rows(&kv.k, slots, &k, &dense, kv.row_words)?;
        self.copy_slot_rows(&kv.v, slots, &v, &dense, kv.row_words)?;
        Ok((k, v))
    }

    /// Rows `0..slots.len()` of `k` and `v` into `slots` of the pool (distinct slots).
    pub(super) fn scatter_rows(
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
