//! The one interface a forward pass launches ops through.
//!
//! Every method mirrors the `fak-ops` function of the same name and must give the same bits
//! as it (the CPU backend *is* those functions). Small per-call arrays (token ids, positions,
//! KV slots, block tables) are passed as host slices; large data stays in the backend's own
//! types so a GPU backend keeps it on the device between calls.

use std::fmt::Debug;

use fak_ops::{AttentionConfig, RmsNormParams, RopeLayout, RopeTable};

use crate::{BackendError, DeviceInfo, HostMatrix};

/// Tokens per KV block. Equal to attention's fixed key block, so one block of the pool is
/// exactly one block of the canonical attention order (DETERMINISM.md §7).
pub const KV_BLOCK_TOKENS: usize = fak_ops::ATTENTION_BLOCK;

/// The shape of one layer's KV pool: `blocks` blocks of [`KV_BLOCK_TOKENS`] token rows,
/// each row `n_kv_heads * head_dim` bf16 values of K (after RoPE) and the same of V.
/// A token's physical slot is `block * KV_BLOCK_TOKENS + offset`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KvLayout {
    pub blocks: usize,
    pub n_kv_heads: usize,
    pub head_dim: usize,
}

impl KvLayout {
    /// bf16 values in one token row of K (and of V).
    pub fn row_len(&self) -> usize {
        self.n_kv_heads * self.head_dim
    }

    /// Token slots in the pool.
    pub fn slots(&self) -> usize {
        self.blocks * KV_BLOCK_TOKENS
    }

    /// `slot` as an index, or an error when it is outside the pool.
    pub fn check_slot(&self, slot: u32) -> Result<usize, BackendError> {
        let index = slot as usize;
        if index >= self.slots() {
            return Err(BackendError::Shape(format!(
                "KV slot {slot} is outside a pool of {} slots",
                self.slots()
            )));
        }
        Ok(index)
    }

    /// Checks every slot before any row is touched, so a refused call changes nothing.
    pub fn check_slots(&self, slots: &[u32]) -> Result<(), BackendError> {
        slots.iter().try_for_each(|&s| self.check_slot(s).map(drop))
    }

    /// The slot of absolute position `position` through `block_table` (logical block `b`
    /// is physical block `block_table[b]`).
    pub fn slot_of(&self, block_table: &[u32], position: usize) -> Result<u32, BackendError> {
        let logical = position / KV_BLOCK_TOKENS;
        let block = *block_table.get(logical).ok_or_else(|| {
            BackendError::Shape(format!(
                "position {position} needs block {logical} but the block table has {}",
                block_table.len()
            ))
        })?;
        let slot = u32::try_from(block as usize * KV_BLOCK_TOKENS + position % KV_BLOCK_TOKENS)
            .map_err(|_| BackendError::Shape(format!("block {block} overflows a slot index")))?;
        self.check_slot(slot)?;
        Ok(slot)
    }

    /// Checks that `block_table` maps every position `0..=last` into the pool.
    pub fn check_block_table(&self, block_table: &[u32], last: usize) -> Result<(), BackendError> {
        // One position per block decides: the slots of a block are contiguous.
        (0..=last)
            .step_by(KV_BLOCK_TOKENS)
            .try_for_each(|p| self.slot_of(block_table, p).map(drop))
    }

    /// Checks `op`'s K and V token rows against `slots` (one row of [`Self::row_len`]
    /// values per slot) and every slot against the pool.
    pub fn check_rows(
        &self,
        op: &str,
        slots: &[u32],
        k_len: usize,
        v_len: usize,
    ) -> Result<(), BackendError> {
        let n = self.row_len();
        let expected = slots.len() * n;
        if k_len != expected || v_len != expected {
            return Err(BackendError::Shape(format!(
                "{op}: {} slots of {n} values need K and V of {expected}, got {k_len} and {v_len}",
                slots.len()
            )));
        }
        self.check_slots(slots)
    }

    /// Checks an attention call's head layout against the pool's.
    pub fn check_attention(&self, config: &AttentionConfig) -> Result<(), BackendError> {
        if config.n_kv_heads != self.n_kv_heads || config.head_dim != self.head_dim {
            return Err(BackendError::Shape(format!(
                "attention config {config:?} does not match the KV pool {self:?}"
            )));
        }
        Ok(())
    }
}

/// K and V token rows as raw bf16 bits, `[row][n_kv_heads * head_dim]`, for dumps and
/// byte-for-byte comparison.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct KvRows {
    pub k: Vec<u16>,
    pub v: Vec<u16>,
}

/// A place ops run. Implementations: [`crate::CpuBackend`] (the reference) and the CubeCL
/// backends. All results are bit-identical across implementations.
pub trait Backend: Send + Sync + Debug + 'static {
    /// f32 activations, resident where the ops run.
    type Tensor: Send + Sync + Debug;
    /// An uploaded weight matrix, in its stored dtype.
    type Matrix: Send + Sync + Debug;
    /// An uploaded RoPE cos/sin table.
    type Rope: Send + Sync + Debug;
    /// One layer's KV pool (see [`KvLayout`]).
    type Kv: Send + Sync + Debug;

    /// The device this backend runs on.
    fn device(&self) -> &DeviceInfo;

    /// `len` zeros.
    fn zeros(&self, len: usize) -> Result<Self::Tensor, BackendError>;
    /// A tensor holding `data`.
    fn upload(&self, data: &[f32]) -> Result<Self::Tensor, BackendError>;
    /// The tensor's values, read back to the host.
    fn download(&self, t: &Self::Tensor) -> Result<Vec<f32>, BackendError>;
    /// Elements `range` of `src`, as a new tensor.
    fn slice(
        &self,
        src: &Self::Tensor,
        range: std::ops::Range<usize>,
    ) -> Result<Self::Tensor, BackendError>;
    /// Takes a weight matrix (the CPU backend keeps the host bytes without copying).
    fn matrix(&self, w: &HostMatrix) -> Result<Self::Matrix, BackendError>;
    /// Takes a RoPE table (the same bytes on every backend: DETERMINISM.md §6).
    fn rope_table(&self, table: &RopeTable) -> Result<Self::Rope, BackendError>;
    /// A zeroed KV pool.
    fn kv_alloc(&self, layout: KvLayout) -> Result<Self::Kv, BackendError>;

    /// `out[t] = table[tokens[t]]`, widened to f32.
    fn embed(
        &self,
        table: &Self::Matrix,
        tokens: &[u32],
        out: &mut Self::Tensor,
    ) -> Result<(), BackendError>;
    /// RMSNorm of each row of `x` (row length `weight`'s length).
    fn rms_norm(
        &self,
        x: &Self::Tensor,
        weight: &Self::Tensor,
        params: RmsNormParams,
        out: &mut Self::Tensor,
    ) -> Result<(), BackendError>;
    /// `out[t] = W x[t]` for every activation row of `x`.
    fn matmul(
        &self,
        w: &Self::Matrix,
        x: &Self::Tensor,
        out: &mut Self::Tensor,
    ) -> Result<(), BackendError>;
    /// `x += y`, element by element.
    fn add(&self, x: &mut Self::Tensor, y: &Self::Tensor) -> Result<(), BackendError>;
    /// `x[t] += bias` for every row `t` of `x` (row length `bias`'s length).
    fn add_bias(&self, x: &mut Self::Tensor, bias: &Self::Tensor) -> Result<(), BackendError>;
    /// Rotates every head of every token of `x` in place by its position's angles.
    fn rope(
        &self,
        table: &Self::Rope,
        layout: RopeLayout,
        positions: &[u32],
        x: &mut Self::Tensor,
        n_heads: usize,
    ) -> Result<(), BackendError>;
    /// `out = silu(gate) * up`.
    fn swiglu(
        &self,
        gate: &Self::Tensor,
        up: &Self::Tensor,
        out: &mut Self::Tensor,
    ) -> Result<(), BackendError>;
    /// `out = gelu_tanh(gate) * up` (GELU with the tanh approximation: Gemma's MLP).
    fn geglu(
        &self,
        gate: &Self::Tensor,
        up: &Self::Tensor,
        out: &mut Self::Tensor,
    ) -> Result<(), BackendError>;
    /// `x *= factor`, element by element, one rounded product each (Gemma's embedding
    /// scale); `factor` must be finite.
    fn scale(&self, x: &mut Self::Tensor, factor: f32) -> Result<(), BackendError>;
    /// Rounds token rows of K and V to bf16 and stores row `t` in slot `slots[t]`.
    fn kv_store(
        &self,
        kv: &mut Self::Kv,
        slots: &[u32],
        k: &Self::Tensor,
        v: &Self::Tensor,
    ) -> Result<(), BackendError>;
    /// Causal attention of `positions.len()` queries over the keys of positions
    /// `config.first_key(p)..=p` (all of `0..=p` without a window), where position `p`
    /// lives in slot `block_table[p / KV_BLOCK_TOKENS] * KV_BLOCK_TOKENS + p %
    /// KV_BLOCK_TOKENS`. The block table maps every position `0..=p` all the same: a window
    /// narrows what is read, not what the cache holds.
    fn attention(
        &self,
        config: &AttentionConfig,
        q: &Self::Tensor,
        positions: &[u32],
        kv: &Self::Kv,
        block_table: &[u32],
        out: &mut Self::Tensor,
    ) -> Result<(), BackendError>;
    /// Copies token rows between slots (`(from, to)` pairs, applied in order): compaction
    /// after an excision and copy-on-write of a shared tail block.
    fn kv_copy(&self, kv: &mut Self::Kv, moves: &[(u32, u32)]) -> Result<(), BackendError>;
    /// The K and V rows of `slots`, as bf16 bits.
    fn kv_read(&self, kv: &Self::Kv, slots: &[u32]) -> Result<KvRows, BackendError>;
    /// Writes K and V rows (bf16 bits, as [`Backend::kv_read`] returns them) into `slots`.
    fn kv_write(&self, kv: &mut Self::Kv, slots: &[u32], rows: &KvRows)
    -> Result<(), BackendError>;
}
