//! A session's block list over the shared pool, as the forward pass writes through it.

use fak_backends::{Backend, KV_BLOCK_TOKENS};
use fak_models::{KvCache, KvCacheError, KvLayer, commit_reserved, slot_of};

use super::{BlockPool, KvError};

/// One forward call's view: the pool (locked by the caller) and the session's blocks.
/// A refusal of the pool is kept in `refusal` so the session can return it typed.
pub(super) struct CacheView<'a, B: Backend> {
    pub pool: &'a mut BlockPool<B>,
    pub blocks: &'a mut Vec<u32>,
    pub len: usize,
    pub slots: Vec<u32>,
    pub refusal: Option<KvError>,
}

impl<'a, B: Backend> CacheView<'a, B> {
    pub fn new(pool: &'a mut BlockPool<B>, blocks: &'a mut Vec<u32>, len: usize) -> Self {
        Self {
            pool,
            blocks,
            len,
            slots: Vec::new(),
            refusal: None,
        }
    }

    /// Makes the tail block writable and adds blocks up to `end` positions.
    fn make_room(&mut self, backend: &B, end: usize) -> Result<(), KvError> {
        let offset = self.len % KV_BLOCK_TOKENS;
        if offset != 0 {
            let i = self.len / KV_BLOCK_TOKENS;
            let tail = self.blocks[i];
            if !self.pool.writable(tail) {
                // Shared with a fork, or sealed content another session may adopt.
                self.blocks[i] = self.pool.copy_on_write(backend, tail, offset)?;
            }
        }
        let needed = end.div_ceil(KV_BLOCK_TOKENS);
        if needed - self.blocks.len().min(needed) > self.pool.available() {
            return Err(KvError::OutOfBlocks {
                capacity: self.pool.stats().capacity,
                needed: needed - self.blocks.len(),
            });
        }
        while self.blocks.len() < needed {
            let b = self.pool.alloc()?;
            self.blocks.push(b);
        }
        Ok(())
    }
}

impl<B: Backend> KvCache<B> for CacheView<'_, B> {
    fn len(&self) -> usize {
        self.len
    }

    fn reserve(&mut self, backend: &B, tokens: &[u32]) -> Result<(), KvCacheError> {
        let end = self.len + tokens.len();
        if let Err(e) = self.make_room(backend, end) {
            let message = e.to_string();
            self.refusal = Some(e);
            return Err(KvCacheError::Refused(message));
        }
        self.slots.clear();
        self.slots
            .extend((self.len..end).map(|p| slot_of(self.blocks, p)));
        Ok(())
    }

    fn layer(&mut self, layer: usize) -> Result<KvLayer<'_, B>, KvCacheError> {
        KvLayer::of(
            self.pool.layers_mut(),
            layer,
            self.blocks,
            self.len,
            &self.slots,
        )
    }

    fn commit(&mut self) -> Result<(), KvCacheError> {
        commit_reserved(&mut self.len, &mut self.slots)
    }
}
