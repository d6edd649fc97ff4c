//! The paged block pool: fixed token blocks in every layer, refcounted and content-addressed.
//!
//! Physical block `b` is block `b` of every layer's pool, so a session's block list serves
//! all layers. A block is in one of three states:
//!
//! - **referenced** (`refs > 0`): in some session's block list (or a lease, or a rollback
//!   snapshot);
//! - **cached** (`refs == 0`, hashed): no holder, but its content address is still indexed,
//!   so a later session with the same prefix adopts it without computing; evicted least
//!   recently used first when a new block is needed;
//! - **free**: neither.
//!
//! A block is written only while it is *writable*: one holder and no content address. A
//! hashed block's bytes are what its hash says; anything else would poison every session
//! that adopts it.

use std::collections::{BTreeMap, HashMap};

use fak_backends::{Backend, KV_BLOCK_TOKENS, KvLayout};

use super::{BlockHash, KvError};

#[derive(Debug, Clone, Default)]
struct BlockMeta {
    refs: u32,
    hash: Option<BlockHash>,
    /// The tick of its last use, while cached: its key in `lru`.
    last_used: u64,
}

/// Counts of a pool's blocks, for tests, benchmarks and `fak kv`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PoolStats {
    pub capacity: usize,
    pub referenced: usize,
    pub cached: usize,
    pub free: usize,
    /// Bytes of K and V in one block over all layers.
    pub block_bytes: usize,
}

/// Blocks of KV rows for every layer of one model on one backend.
#[derive(Debug)]
pub struct BlockPool<B: Backend> {
    layers: Vec<B::Kv>,
    layout: KvLayout,
    meta: Vec<BlockMeta>,
    free: Vec<u32>,
    index: HashMap<BlockHash, u32>,
    /// Cached blocks by last use (oldest first).
    lru: BTreeMap<u64, u32>,
    tick: u64,
}

impl<B: Backend> BlockPool<B> {
    /// `layout.blocks` zeroed blocks in each of `layers` layers.
    pub fn new(backend: &B, layers: usize, layout: KvLayout) -> Result<Self, KvError> {
        let pools = (0..layers)
            .map(|_| backend.kv_alloc(layout))
            .collect::<Result<_, _>>()?;
        // Pop order: block 0 first.
        let free = (0..layout.blocks as u32).rev().collect();
        Ok(Self {
            layers: pools,
            layout,
            meta: vec![BlockMeta::default(); layout.blocks],
            free,
            index: HashMap::new(),
            lru: BTreeMap::new(),
            tick: 0,
        })
    }

    /// K and V bytes of one block over `layers` layers of `layout`.
    pub fn block_bytes(layers: usize, layout: KvLayout) -> usize {
        layers * KV_BLOCK_TOKENS * layout.row_len() * 2 * size_of::<u16>()
    }

    pub fn stats(&self) -> PoolStats {
        let referenced = self.meta.iter().filter(|m| m.refs > 0).count();
        PoolStats {
            capacity: self.meta.len(),
            referenced,
            cached: self.lru.len(),
            free: self.free.len(),
            block_bytes: Self::block_bytes(self.layers.len(), self.layout),
        }
    }

    pub fn layout(&self) -> KvLayout {
        self.layout
    }

    pub fn layer_count(&self) -> usize {
        self.layers.len()
    }

    pub(super) fn layer(&self, layer: usize) -> &B::Kv {
        &self.layers[layer]
    }

    pub(super) fn layers_mut(&mut self) -> &mut [B::Kv] {
        &mut self.layers
    }

    /// The holders of `block`.
    pub fn refs(&self, block: u32) -> u32 {
        self.meta[block as usize].refs
    }

    /// The content address of `block`, once it is full and sealed.
    pub fn hash(&self, block: u32) -> Option<BlockHash> {
        self.meta[block as usize].hash
    }

    /// Whether `block` may be written in place: one holder and not content-addressed.
    pub fn writable(&self, block: u32) -> bool {
        let m = &self.meta[block as usize];
        m.refs == 1 && m.hash.is_none()
    }

    /// Blocks a new allocation could take now (free or evictable).
    pub fn available(&self) -> usize {
        self.free.len() + self.lru.len()
    }

    /// A block for one holder: a free one, else the least recently used cached one.
    pub(super) fn alloc(&mut self) -> Result<u32, KvError> {
        let block = match self.free.pop() {
            Some(b) => b,
            None => {
                let (_, b) = self.lru.pop_first().ok_or(KvError::OutOfBlocks {
                    capacity: self.meta.len(),
                    needed: 1,
                })?;
                let evicted = self.meta[b as usize].hash.take();
                if let Some(h) = evicted {
                    self.index.remove(&h);
                }
                b
            }
        };
        self.meta[block as usize] = BlockMeta {
            refs: 1,
            hash: None,
            last_used: 0,
        };
        Ok(block)
    }

    /// One more holder of `block`.
    pub(super) fn retain(&mut self, block: u32) {
        let m = &mut self.meta[block as usize];
        if m.refs == 0 {
            self.lru.remove(&m.last_used);
        }
        m.refs += 1;
    }

    /// One holder fewer; the last one leaves the block cached (if hashed) or free.
    pub(super) fn release(&mut self, block: u32) {
        self.tick += 1;
        let m = &mut self.meta[block as usize];
        debug_assert!(m.refs > 0, "block {block} released more often than held");
        m.refs -= 1;
        if m.refs == 0 {
            if m.hash.is_some() {
                m.last_used = self.tick;
                self.lru.insert(self.tick, block);
            } else {
                self.free.push(block);
            }
        }
    }

    /// The block holding `hash`, retained for the caller.
    pub(super) fn adopt(&mut self, hash: &BlockHash) -> Option<u32> {
        let block = *self.index.get(hash)?;
        self.retain(block);
        Some(block)
    }

    /// Names the full, writable `block` by its content. When the pool already holds a block
    /// of that name, `block` is released and the caller holds the existing one instead (its
    /// bytes are the same), so equal prefixes end in one copy.
    pub(super) fn seal(&mut self, block: u32, hash: BlockHash) -> u32 {
        debug_assert!(self.writable(block));
        if let Some(existing) = self.adopt(&hash) {
            self.release(block);
            return existing;
        }
        self.meta[block as usize].hash = Some(hash);
        self.index.insert(hash, block);
        block
    }

    /// A writable copy of the first `rows` token rows of `block`, held by the caller in
    /// place of `block` (copy-on-write of a shared or sealed tail).
    pub(super) fn copy_on_write(
        &mut self,
        backend: &B,
        block: u32,
        rows: usize,
    ) -> Result<u32, KvError> {
        let copy = self.alloc()?;
        let base = |b: u32| b * KV_BLOCK_TOKENS as u32;
        let moves: Vec<(u32, u32)> = (0..rows as u32)
            .map(|r| (base(block) + r, base(copy) + r))
            .collect();
        for kv in &mut self.layers {
            if let Err(e) = backend.kv_copy(kv, &moves) {
                self.release(copy);
                return Err(e.into());
            }
        }
        self.release(block);
        Ok(copy)
    }
}

#[cfg(test)]
mod tests {
    use fak_backends::CpuBackend;

    use super::*;

    fn pool(blocks: usize) -> BlockPool<CpuBackend> {
        let layout = KvLayout {
            blocks,
            n_kv_heads: 1,
            head_dim: 2,
        };
        BlockPool::new(&CpuBackend::new(), 2, layout).unwrap()
    }

    fn h(n: u8) -> BlockHash {
        BlockHash([n; 32])
    }

    #[test]
    fn released_hashed_blocks_are_cached_and_evicted_oldest_first() {
        let mut p = pool(3);
        let blocks: Vec<u32> = (0..3).map(|_| p.alloc().unwrap()).collect();
        assert!(matches!(
            p.alloc(),
            Err(KvError::OutOfBlocks { capacity: 3, .. })
        ));
        for (i, &b) in blocks.iter().enumerate() {
            assert_eq!(p.seal(b, h(i as u8)), b);
        }
        // Release in the order 1, 0, 2: block 1 is the least recently used.
        for i in [1, 0, 2] {
            p.release(blocks[i]);
        }
        assert_eq!(p.stats().cached, 3);
        // Adopting block 0 takes it out of the cache; the next allocation evicts block 1.
        assert_eq!(p.adopt(&h(0)), Some(blocks[0]));
        assert_eq!(p.alloc().unwrap(), blocks[1]);
        assert_eq!(
            p.adopt(&h(1)),
            None,
            "an evicted block's address is forgotten"
        );
        assert_eq!(p.alloc().unwrap(), blocks[2]);
        assert!(p.alloc().is_err());
    }

    #[test]
    fn sealing_a_duplicate_keeps_one_copy() {
        let mut p = pool(4);
        let a = p.alloc().unwrap();
        let b = p.alloc().unwrap();
        assert_eq!(p.seal(a, h(9)), a);
        assert_eq!(p.seal(b, h(9)), a);
        assert_eq!(p.refs(a), 2);
        assert_eq!(
            p.stats().free,
            3,
            "the duplicate went back to the free list"
        );
        assert!(!p.writable(a));
    }

    #[test]
    fn copy_on_write_copies_the_rows_and_hands_back_the_original() {
        let backend = CpuBackend::new();
        let mut p = pool(2);
        let a = p.alloc().unwrap();
        let rows = fak_backends::KvRows {
            k: vec![0x3f80, 0x4000, 0x4040, 0x4080],
            v: vec![0xbf80, 0xc000, 0xc040, 0xc080],
        };
        let slots = [a * KV_BLOCK_TOKENS as u32, a * KV_BLOCK_TOKENS as u32 + 1];
        for l in 0..2 {
            backend
                .kv_write(&mut p.layers_mut()[l], &slots, &rows)
                .unwrap();
        }
        p.retain(a);
        let c = p.copy_on_write(&backend, a, 2).unwrap();
        assert_ne!(c, a);
        assert_eq!(p.refs(a), 1);
        let copied = [c * KV_BLOCK_TOKENS as u32, c * KV_BLOCK_TOKENS as u32 + 1];
        for l in 0..2 {
            assert_eq!(backend.kv_read(p.layer(l), &copied).unwrap(), rows);
        }
    }
}
