//! The KV store: one model, one block pool, and the sessions over them.

use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use fak_backends::{Backend, KV_BLOCK_TOKENS, KvLayout};
use fak_models::Model;

use super::{BlockPool, KvError, PoolStats, Session};

/// The KV cache of one loaded model: a block pool under a fixed budget, shared by every
/// session made from it. Cloning is cheap and shares the pool.
#[derive(Debug)]
pub struct KvStore<B: Backend> {
    inner: Arc<Inner<B>>,
}

#[derive(Debug)]
struct Inner<B: Backend> {
    model: Arc<Model<B>>,
    pool: Mutex<BlockPool<B>>,
}

impl<B: Backend> Clone for KvStore<B> {
    fn clone(&self) -> Self {
        Self {
            inner: self.inner.clone(),
        }
    }
}

impl<B: Backend> KvStore<B> {
    /// A pool of `blocks` blocks ([`KV_BLOCK_TOKENS`] positions each) for `model`.
    pub fn new(model: Arc<Model<B>>, blocks: usize) -> Result<Self, KvError> {
        let layout = Self::layout_of(&model, blocks);
        if blocks == 0 {
            return Err(KvError::BudgetTooSmall {
                bytes: 0,
                block_bytes: BlockPool::<B>::block_bytes(model.config().num_layers, layout),
            });
        }
        let pool = BlockPool::new(&**model.backend(), model.config().num_layers, layout)?;
        Ok(Self {
            inner: Arc::new(Inner {
                model,
                pool: Mutex::new(pool),
            }),
        })
    }

    /// As many blocks as `bytes` of K and V hold.
    pub fn with_budget(model: Arc<Model<B>>, bytes: usize) -> Result<Self, KvError> {
        let block_bytes =
            BlockPool::<B>::block_bytes(model.config().num_layers, Self::layout_of(&model, 1));
        if bytes < block_bytes {
            return Err(KvError::BudgetTooSmall { bytes, block_bytes });
        }
        Self::new(model, bytes / block_bytes)
    }

    fn layout_of(model: &Model<B>, blocks: usize) -> KvLayout {
        KvLayout {
            blocks,
            n_kv_heads: model.config().num_kv_heads,
            head_dim: model.config().head_dim,
        }
    }

    /// A new, empty session.
    pub fn session(&self) -> Session<B> {
        Session::new(self.clone())
    }

    pub fn model(&self) -> &Arc<Model<B>> {
        &self.inner.model
    }

    pub fn stats(&self) -> PoolStats {
        self.pool().stats()
    }

    /// K and V bytes one position takes over all layers (a block's bytes over its tokens).
    pub fn bytes_per_token(&self) -> usize {
        self.stats().block_bytes / KV_BLOCK_TOKENS
    }

    /// The pool, locked. A panic while it was held can only come from a bug in the pool's
    /// bookkeeping; the counts are still the best record there is, so the lock is taken
    /// over rather than every later session failing.
    pub(super) fn pool(&self) -> MutexGuard<'_, BlockPool<B>> {
        self.inner
            .pool
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }
}
