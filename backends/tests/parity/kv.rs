//! The KV pool's row operations on the device against the CPU: bf16 stores (odd row
//! lengths, repeated slots), compaction moves with chains and swaps, dumps and loads.

use fak_backends::{Backend, BackendError, BackendFn, KV_BLOCK_TOKENS, KvLayout, KvRows};

use crate::common::{Rng, compare, vulkan};

/// The whole pool's K and V rows, as bits.
fn dump<B: Backend>(b: &B, kv: &B::Kv, layout: KvLayout) -> Result<Vec<u32>, BackendError> {
    let slots: Vec<u32> = (0..layout.slots() as u32).collect();
    let rows = b.kv_read(kv, &slots)?;
    Ok(rows
        .k
        .iter()
        .chain(&rows.v)
        .map(|&h| u32::from(h))
        .collect())
}

#[derive(Clone)]
struct StoreMoveLoad {
    layout: KvLayout,
    slots: Vec<u32>,
    k: Vec<f32>,
    v: Vec<f32>,
    moves: Vec<(u32, u32)>,
    loaded: Vec<u32>,
}

impl BackendFn for StoreMoveLoad {
    type Output = Result<Vec<u32>, BackendError>;
    fn run<B: Backend>(self, b: &B) -> Self::Output {
        let mut kv = b.kv_alloc(self.layout)?;
        b.kv_store(
            &mut kv,
            &self.slots,
            &b.upload(&self.k)?,
            &b.upload(&self.v)?,
        )?;
        let mut out = dump(b, &kv, self.layout)?;
        b.kv_copy(&mut kv, &self.moves)?;
        out.extend(dump(b, &kv, self.layout)?);
        // Dump some rows and load them into other slots of a fresh pool.
        let rows: KvRows = b.kv_read(&kv, &self.slots[..self.loaded.len()])?;
        let mut other = b.kv_alloc(self.layout)?;
        b.kv_write(&mut other, &self.loaded, &rows)?;
        out.extend(dump(b, &other, self.layout)?);
        Ok(out)
    }
}

#[test]
fn kv_store_copy_read_and_write_match_cpu() {
    if vulkan().is_none() {
        return;
    }
    let mut rng = Rng::new(21);
    for (n_kv_heads, head_dim) in [(1, 5), (2, 64), (3, 7)] {
        let layout = KvLayout {
            blocks: 3,
            n_kv_heads,
            head_dim,
        };
        let n = layout.row_len();
        // Slot 7 is written twice: the second row must win on both backends.
        let slots = vec![7u32, 0, 95, 33, 7, 64];
        let case = StoreMoveLoad {
            layout,
            k: rng.values_with_edges(slots.len() * n, 5.0, 20),
            v: rng.values_with_edges(slots.len() * n, 5.0, 20),
            slots,
            // A chain (0 -> 1 -> 2), a swap through a spare slot, and a no-op.
            moves: vec![(0, 1), (1, 2), (33, 90), (64, 33), (90, 64), (95, 95)],
            loaded: vec![40, 41, 2, 3],
        };
        compare(&format!("kv rows {n_kv_heads}x{head_dim}"), case);
    }
    assert_eq!(KV_BLOCK_TOKENS, 32);
}
