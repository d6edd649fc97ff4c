//! What a CubeCL backend keeps on its device: f32 activations, weight matrices (in their
//! stored dtype, or as integer chunks when quantized), RoPE tables and KV pools, each a
//! buffer of 32-bit words.

use cubecl::server::Handle;

use crate::{KvLayout, WeightDtype};

/// A device buffer of `len` 32-bit words.
#[derive(Debug, Clone)]
pub(crate) struct Words {
    pub(crate) handle: Handle,
    pub(crate) len: usize,
}

/// f32 activations on the device.
#[derive(Debug, Clone)]
pub struct CubeTensor {
    pub(crate) words: Words,
}

impl CubeTensor {
    /// Number of f32 values.
    pub fn len(&self) -> usize {
        self.words.len
    }

    /// True when the tensor holds no value.
    pub fn is_empty(&self) -> bool {
        self.words.len == 0
    }
}

/// A run of whole rows of a weight matrix, in one buffer (so in one binding).
#[derive(Debug, Clone)]
pub(crate) struct MatrixChunk {
    pub(crate) words: Words,
    pub(crate) first_row: usize,
    pub(crate) rows: usize,
}

/// A weight matrix on the device: bf16/f16 packed two to a word, f32 as is, a quantized
/// dtype as integer chunks (`kernels::quantized`). A matrix larger than one binding is held
/// as several chunks of whole rows.
#[derive(Debug, Clone)]
pub struct CubeMatrix {
    pub(crate) chunks: Vec<MatrixChunk>,
    pub(crate) dtype: WeightDtype,
    pub(crate) rows: usize,
    pub(crate) cols: usize,
}

impl CubeMatrix {
    /// Number of chunks (bindings) the matrix was split into.
    pub fn chunks(&self) -> usize {
        self.chunks.len()
    }
}

/// A RoPE table on the device: the host's cos and sin bytes, entry `p * pairs + i`.
#[derive(Debug, Clone)]
pub struct CubeRope {
    pub(crate) cos: Words,
    pub(crate) sin: Words,
    pub(crate) pairs: usize,
    pub(crate) max_positions: usize,
}

/// One layer's KV pool on the device: per slot, `row_words` words of packed bf16 for K and
/// the same for V (a row of odd length has a zero high half in its last word).
#[derive(Debug, Clone)]
pub struct CubeKv {
    pub(crate) k: Words,
    pub(crate) v: Words,
    pub(crate) layout: KvLayout,
    pub(crate) row_words: usize,
}
