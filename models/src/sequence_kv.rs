//! The simplest [`KvCache`]: one sequence's private pools, its block list growing as tokens
//! arrive. `fak generate` and the tests use it; the kernel's shared block pool implements
//! the same trait.

use std::ops::Range;

use fak_backends::{Backend, KV_BLOCK_TOKENS, KvLayout};

use crate::kv_cache::{KvCache, KvCacheError, KvLayer, commit_reserved, slot_of};
use crate::{ModelConfig, ModelError};

/// Keys and values of one sequence, in pools of its own sized for `capacity` positions.
#[derive(Debug)]
pub struct SequenceKv<B: Backend> {
    pools: Vec<B::Kv>,
    capacity: usize,
    /// Block `i` of the sequence is block `block_table[i]` of every pool.
    block_table: Vec<u32>,
    len: usize,
    /// Slots of the reserved, not yet committed tokens.
    slots: Vec<u32>,
}

impl<B: Backend> SequenceKv<B> {
    /// Zeroed pools for `capacity` positions of a model shaped like `config`.
    pub fn new(backend: &B, config: &ModelConfig, capacity: usize) -> Result<Self, ModelError> {
        if capacity == 0 {
            return Err(ModelError::InvalidParam {
                param: "KV capacity",
                value: "0".to_owned(),
                reason: "must be at least one position",
            });
        }
        let layout = KvLayout {
            blocks: capacity.div_ceil(KV_BLOCK_TOKENS),
            n_kv_heads: config.num_kv_heads,
            head_dim: config.head_dim,
        };
        let pools = (0..config.num_layers)
            .map(|_| backend.kv_alloc(layout))
            .collect::<Result<_, _>>()?;
        Ok(Self {
            pools,
            capacity,
            block_table: Vec::with_capacity(layout.blocks),
            len: 0,
            slots: Vec::new(),
        })
    }

    /// The most positions this cache holds.
    pub fn capacity(&self) -> usize {
        self.capacity
    }

    /// Layer `layer`'s pool (to read back with [`Backend::kv_read`]).
    pub fn pool(&self, layer: usize) -> Option<&B::Kv> {
        self.pools.get(layer)
    }

    /// The slots of stored positions `positions`, in order; `None` past [`KvCache::len`].
    pub fn slots(&self, positions: Range<usize>) -> Option<Vec<u32>> {
        (positions.end <= self.len).then(|| positions.map(|p| self.slot(p)).collect())
    }

    fn slot(&self, position: usize) -> u32 {
        slot_of(&self.block_table, position)
    }
}

impl<B: Backend> KvCache<B> for SequenceKv<B> {
    fn len(&self) -> usize {
        self.len
    }

    fn reserve(&mut self, _backend: &B, tokens: &[u32]) -> Result<(), KvCacheError> {
        let end = self.len + tokens.len();
        if end > self.capacity {
            return Err(KvCacheError::Full {
                capacity: self.capacity,
                requested: end,
            });
        }
        // The pools are private, so block i of the sequence is simply block i of the pool.
        while self.block_table.len() < end.div_ceil(KV_BLOCK_TOKENS) {
            self.block_table.push(self.block_table.len() as u32);
        }
        self.slots.clear();
        for p in self.len..end {
            let slot = self.slot(p);
            self.slots.push(slot);
        }
        Ok(())
    }

    fn layer(&mut self, layer: usize) -> Result<KvLayer<'_, B>, KvCacheError> {
        KvLayer::of(
            &mut self.pools,
            layer,
            &self.block_table,
            self.len,
            &self.slots,
        )
    }

    fn commit(&mut self) -> Result<(), KvCacheError> {
        commit_reserved(&mut self.len, &mut self.slots)
    }
}
