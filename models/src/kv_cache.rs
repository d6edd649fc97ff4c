//! The interface the forward pass writes keys and values through.
//!
//! The model does not own its cache: the cache is a kernel object (paged, shared across
//! sessions, excised, dumped), so the forward pass only asks it, per call, where the new
//! tokens go and which blocks hold the positions before them. A cache is a set of per-layer
//! pools ([`Backend::kv_alloc`]) plus one block table shared by every layer: position `p`
//! lives in slot `block_table[p / KV_BLOCK_TOKENS] * KV_BLOCK_TOKENS + p % KV_BLOCK_TOKENS`
//! of each layer's pool.
//!
//! One forward call is: [`KvCache::reserve`] the new tokens, write every layer through
//! [`KvCache::layer`], then [`KvCache::commit`]. A call that fails before `commit` leaves
//! the cached length unchanged, so the same tokens can be sent again.

use fak_backends::{Backend, BackendError, KV_BLOCK_TOKENS};
use thiserror::Error;

/// Why a cache could not take more tokens.
#[derive(Debug, Error)]
pub enum KvCacheError {
    /// The cache holds at most `capacity` positions.
    #[error("the KV cache holds {capacity} positions; {requested} were asked for")]
    Full { capacity: usize, requested: usize },
    /// A layer index the cache was not made for.
    #[error("the KV cache has {layers} layers; layer {layer} was asked for")]
    NoSuchLayer { layer: usize, layers: usize },
    /// No tokens are reserved: `layer` or `commit` was called before `reserve`.
    #[error("the KV cache has no reserved tokens to write")]
    NothingReserved,
    /// The backend refused an allocation or a copy.
    #[error(transparent)]
    Backend(#[from] BackendError),
    /// Another implementation's own refusal (a block pool out of blocks, a sealed session).
    #[error("{0}")]
    Refused(String),
}

/// What one layer's writes and reads for the reserved tokens need.
#[derive(Debug)]
pub struct KvLayer<'a, B: Backend> {
    /// This layer's pool.
    pub pool: &'a mut B::Kv,
    /// The blocks of positions `0..len + reserved`, in position order.
    pub block_table: &'a [u32],
    /// The slot of each reserved token, in token order.
    pub slots: &'a [u32],
}

impl<'a, B: Backend> KvLayer<'a, B> {
    /// Layer `layer` of `pools` (one per layer) for the reserved `slots`, which follow `len`
    /// stored positions; `block_table` may run past the blocks those positions need.
    pub fn of(
        pools: &'a mut [B::Kv],
        layer: usize,
        block_table: &'a [u32],
        len: usize,
        slots: &'a [u32],
    ) -> Result<Self, KvCacheError> {
        if slots.is_empty() {
            return Err(KvCacheError::NothingReserved);
        }
        let layers = pools.len();
        let pool = pools
            .get_mut(layer)
            .ok_or(KvCacheError::NoSuchLayer { layer, layers })?;
        let blocks = (len + slots.len()).div_ceil(KV_BLOCK_TOKENS);
        Ok(Self {
            pool,
            block_table: &block_table[..blocks],
            slots,
        })
    }
}

/// The pool slot of `position` through `block_table`: block `block_table[position / 32]`,
/// row `position % 32` (the layout the module doc describes). The table must cover the
/// position; slots fit u32 because the backends index their pools by u32.
pub fn slot_of(block_table: &[u32], position: usize) -> u32 {
    block_table[position / KV_BLOCK_TOKENS] * KV_BLOCK_TOKENS as u32
        + (position % KV_BLOCK_TOKENS) as u32
}

/// [`KvCache::commit`] for an implementation that keeps its length and reserved slots:
/// the slots become stored positions.
pub fn commit_reserved(len: &mut usize, slots: &mut Vec<u32>) -> Result<(), KvCacheError> {
    if slots.is_empty() {
        return Err(KvCacheError::NothingReserved);
    }
    *len += slots.len();
    slots.clear();
    Ok(())
}

/// A sequence's keys and values, as the forward pass sees them.
pub trait KvCache<B: Backend> {
    /// Positions whose keys and values are stored; the next token goes at this position.
    fn len(&self) -> usize;

    /// Whether no position is stored yet.
    fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Makes room for `tokens` at positions `len() .. len() + tokens.len()` (a new block, a
    /// private copy of a shared tail block) and makes them the reserved tokens that
    /// [`KvCache::layer`] returns slots for. The token ids are given so that a
    /// content-addressed cache can name the blocks they fill. Replaces any earlier
    /// reservation that was not committed.
    fn reserve(&mut self, backend: &B, tokens: &[u32]) -> Result<(), KvCacheError>;

    /// Layer `layer`'s pool, the block table and the slots of the reserved tokens.
    fn layer(&mut self, layer: usize) -> Result<KvLayer<'_, B>, KvCacheError>;

    /// Marks the reserved tokens as stored: [`KvCache::len`] grows by their number.
    fn commit(&mut self) -> Result<(), KvCacheError>;
}
