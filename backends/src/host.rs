//! Weights as the host holds them before a backend takes them: shared bytes (usually a
//! memory map) with a dtype and a shape.
//!
//! The CPU backend computes straight from these bytes, so a memory-mapped checkpoint is never
//! copied into RAM; GPU backends upload them once.

use std::fmt;
use std::ops::Range;
use std::sync::Arc;

use fak_ops::{
    BlockQ4K, BlockQ5_0, BlockQ6K, BlockQ8_0, OpsError, PreparedBlocks, PreparedWeights,
    QUANT_BLOCK, QuantBlock, WeightData, WeightView,
};
use half::{bf16, f16};

use crate::BackendError;

/// The element types a weight matrix can be stored in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WeightDtype {
    Bf16,
    F16,
    F32,
    /// GGML's Q8_0 blocks, kept packed (DETERMINISM.md §3a).
    Q8_0,
    /// GGML's Q5_0 blocks, kept packed.
    Q5_0,
    /// GGML's Q4_K blocks, kept packed.
    Q4K,
    /// GGML's Q6_K blocks, kept packed.
    Q6K,
}

impl WeightDtype {
    /// (elements, bytes) of one storage unit: an element, or a packed block.
    pub fn block(self) -> (usize, usize) {
        match self {
            Self::Bf16 | Self::F16 => (1, 2),
            Self::F32 => (1, 4),
            Self::Q8_0 => packed::<BlockQ8_0>(),
            Self::Q5_0 => packed::<BlockQ5_0>(),
            Self::Q4K => packed::<BlockQ4K>(),
            Self::Q6K => packed::<BlockQ6K>(),
        }
    }

    /// True for GGML's block types, which the CPU keeps packed.
    pub fn is_packed(self) -> bool {
        matches!(self, Self::Q8_0 | Self::Q5_0 | Self::Q4K | Self::Q6K)
    }

    /// Bytes of a row of `cols` elements; `None` when the row is not whole blocks or its
    /// size overflows.
    pub fn row_bytes(self, cols: usize) -> Option<usize> {
        let (per_block, bytes) = self.block();
        cols.is_multiple_of(per_block)
            .then(|| (cols / per_block).checked_mul(bytes))
            .flatten()
    }

    /// The alignment the element views need (packed blocks are byte arrays).
    fn align(self) -> usize {
        if self.is_packed() { 1 } else { self.block().1 }
    }
}

/// (weights, bytes) of a block type.
fn packed<B: QuantBlock>() -> (usize, usize) {
    (QUANT_BLOCK * B::CHUNKS, size_of::<B>())
}

/// What [`HostBytes`] borrow: a buffer in memory or a memory-mapped file.
pub trait ByteSource: Send + Sync {
    fn bytes(&self) -> &[u8];

    /// `range` will not be read again soon. A mapped file gives those pages back to the
    /// system (a later read brings them back from the file); memory the source owns stays as
    /// it is, which is this default.
    fn release(&self, range: Range<usize>) {
        let _ = range;
    }
}

impl ByteSource for Vec<u8> {
    fn bytes(&self) -> &[u8] {
        self
    }
}

/// A byte range of a shared, immutable owner (a memory map, a vector).
#[derive(Clone)]
pub struct HostBytes {
    owner: Arc<dyn ByteSource>,
    range: Range<usize>,
}

impl fmt::Debug for HostBytes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HostBytes")
            .field("range", &self.range)
            .finish_non_exhaustive()
    }
}

impl HostBytes {
    /// `range` of `owner`; an error when the range is not inside it.
    pub fn new(owner: Arc<dyn ByteSource>, range: Range<usize>) -> Result<Self, BackendError> {
        let len = owner.bytes().len();
        if range.start > range.end || range.end > len {
            return Err(BackendError::Shape(format!(
                "byte range {range:?} is outside a buffer of {len} bytes"
            )));
        }
        Ok(Self { owner, range })
    }

    /// All of `bytes`, owned.
    pub fn from_vec(bytes: Vec<u8>) -> Self {
        let len = bytes.len();
        Self {
            owner: Arc::new(bytes),
            range: 0..len,
        }
    }

    /// The bytes.
    pub fn as_slice(&self) -> &[u8] {
        &self.owner.bytes()[self.range.clone()]
    }

    /// Says these bytes will not be read again soon ([`ByteSource::release`]): a mapped
    /// file's pages leave the process's memory until they are read again.
    pub fn release(&self) {
        self.owner.release(self.range.clone());
    }

    /// These bytes, copied into a fresh allocation when they are not aligned to `align`
    /// (safetensors does not promise alignment of tensor data).
    fn aligned_to(self, align: usize) -> Self {
        if (self.as_slice().as_ptr() as usize).is_multiple_of(align) {
            return self;
        }
        // A Vec<u64> is 8-aligned, enough for every dtype here.
        let bytes = self.as_slice();
        let mut words = vec![0u64; bytes.len().div_ceil(8)];
        bytemuck::cast_slice_mut::<u64, u8>(&mut words)[..bytes.len()].copy_from_slice(bytes);
        let len = bytes.len();
        Self {
            owner: Arc::new(AlignedBytes(words)),
            range: 0..len,
        }
    }
}

/// Adopts in-domain bf16 bytes as they are, or prepares a clamped copy.
fn prepare_bf16(
    bytes: HostBytes,
    rows: usize,
    cols: usize,
) -> Result<PreparedWeights<Bf16Bytes>, BackendError> {
    match PreparedWeights::adopt(Bf16Bytes(bytes), rows, cols)? {
        Ok(adopted) => Ok(adopted),
        Err(Bf16Bytes(bytes)) => {
            let values = bytemuck::cast_slice::<u8, bf16>(bytes.as_slice()).to_vec();
            let clamped = PreparedWeights::bf16(values, rows, cols)?;
            let owned =
                HostBytes::from_vec(bytemuck::cast_slice(clamped.data()).to_vec()).aligned_to(2);
            PreparedWeights::adopt(Bf16Bytes(owned), rows, cols)?.map_err(|_| {
                BackendError::Shape("a clamped bf16 copy left the factor domain".to_owned())
            })
        }
    }
}

struct AlignedBytes(Vec<u64>);

impl ByteSource for AlignedBytes {
    fn bytes(&self) -> &[u8] {
        bytemuck::cast_slice(&self.0)
    }
}

/// [`HostBytes`] read as bf16 (aligned by construction of the [`HostMatrix`]).
#[derive(Debug, Clone)]
struct Bf16Bytes(HostBytes);

impl AsRef<[bf16]> for Bf16Bytes {
    fn as_ref(&self) -> &[bf16] {
        bytemuck::cast_slice(self.0.as_slice())
    }
}

#[derive(Debug, Clone)]
enum Storage {
    /// bf16, inside the factor domain.
    Prepared(PreparedWeights<Bf16Bytes>),
    /// f16, as stored.
    F16(HostBytes),
    /// f32, as stored.
    F32(HostBytes),
    /// Q8_0 blocks, as stored.
    Q8_0(HostBytes),
    /// Q5_0 blocks, as stored.
    Q5_0(HostBytes),
    /// Q4_K blocks, as stored.
    Q4K(HostBytes),
    /// Q6_K blocks, as stored.
    Q6K(HostBytes),
}

/// A row-major `rows x cols` weight matrix on the host.
///
/// bf16 matrices are held prepared (every element inside the factor domain, DETERMINISM.md
/// §3), so products skip the per-element clamp: trained weights are adopted in place, and
/// only a matrix holding out-of-domain values is copied once with the clamp applied. GGML's
/// block types stay packed: products read their chunks as integers (DETERMINISM.md §3b).
#[derive(Debug, Clone)]
pub struct HostMatrix {
    storage: Storage,
    /// A packed dtype laid out for this CPU's quantized kernel ([`HostMatrix::for_cpu`]).
    cpu_layout: Option<Arc<PreparedBlocks>>,
    dtype: WeightDtype,
    rows: usize,
    cols: usize,
}

impl HostMatrix {
    /// Checks that `bytes` holds exactly `rows * cols` elements of `dtype` (for a packed
    /// dtype, whole blocks a row).
    pub fn new(
        bytes: HostBytes,
        dtype: WeightDtype,
        rows: usize,
        cols: usize,
    ) -> Result<Self, BackendError> {
        let (per_block, _) = dtype.block();
        if !cols.is_multiple_of(per_block) {
            return Err(BackendError::Shape(format!(
                "a {dtype:?} matrix needs whole blocks of {per_block} values a row, got {cols} columns"
            )));
        }
        let expected = dtype
            .row_bytes(cols)
            .and_then(|row| row.checked_mul(rows))
            .ok_or_else(|| BackendError::Shape(format!("{rows} x {cols} overflows")))?;
        if rows == 0 || cols == 0 || bytes.as_slice().len() != expected {
            return Err(BackendError::Shape(format!(
                "a {rows} x {cols} {dtype:?} matrix needs {expected} bytes, got {}",
                bytes.as_slice().len()
            )));
        }
        let bytes = bytes.aligned_to(dtype.align());
        let storage = match dtype {
            WeightDtype::Bf16 => Storage::Prepared(prepare_bf16(bytes, rows, cols)?),
            WeightDtype::F16 => Storage::F16(bytes),
            WeightDtype::F32 => Storage::F32(bytes),
            WeightDtype::Q8_0 => Storage::Q8_0(bytes),
            WeightDtype::Q5_0 => Storage::Q5_0(bytes),
            WeightDtype::Q4K => Storage::Q4K(bytes),
            WeightDtype::Q6K => Storage::Q6K(bytes),
        };
        Ok(Self {
            storage,
            cpu_layout: None,
            dtype,
            rows,
            cols,
        })
    }

    /// An f32 matrix from values (tests, small tensors built on the host).
    pub fn from_f32(values: &[f32], rows: usize, cols: usize) -> Result<Self, BackendError> {
        Self::new(
            HostBytes::from_vec(bytemuck::cast_slice(values).to_vec()),
            WeightDtype::F32,
            rows,
            cols,
        )
    }

    pub fn dtype(&self) -> WeightDtype {
        self.dtype
    }

    pub fn rows(&self) -> usize {
        self.rows
    }

    pub fn cols(&self) -> usize {
        self.cols
    }

    /// The little-endian element bytes (for bf16: the prepared elements; for a packed
    /// dtype: its blocks as stored).
    pub fn bytes(&self) -> &[u8] {
        match &self.storage {
            Storage::Prepared(p) => bytemuck::cast_slice(p.data()),
            Storage::F16(bytes) | Storage::F32(bytes) => bytes.as_slice(),
            Storage::Q8_0(bytes)
            | Storage::Q5_0(bytes)
            | Storage::Q4K(bytes)
            | Storage::Q6K(bytes) => bytes.as_slice(),
        }
    }

    /// This matrix as the CPU backend holds it: a packed dtype also laid out once for the
    /// CPU's quantized kernel where it has one ([`PreparedBlocks`]; same bits, no per-product
    /// unpacking), at the cost of about the blocks' size again in memory. The stored blocks
    /// are then released ([`HostBytes::release`]): only an embedding lookup reads them again,
    /// a few rows a token. Other dtypes, and CPUs without that kernel, share the storage as
    /// it is.
    pub fn for_cpu(&self) -> Result<Self, OpsError> {
        let mut m = self.clone();
        if m.cpu_layout.is_none() {
            m.cpu_layout = PreparedBlocks::new(self.view()?).map(Arc::new);
            if let (Some(_), Some(blocks)) = (&m.cpu_layout, self.packed_bytes()) {
                blocks.release();
            }
        }
        Ok(m)
    }

    /// A packed dtype's blocks as stored.
    fn packed_bytes(&self) -> Option<&HostBytes> {
        match &self.storage {
            Storage::Prepared(_) | Storage::F16(_) | Storage::F32(_) => None,
            Storage::Q8_0(bytes)
            | Storage::Q5_0(bytes)
            | Storage::Q4K(bytes)
            | Storage::Q6K(bytes) => Some(bytes),
        }
    }

    /// The matrix as the ops library reads it.
    pub fn view(&self) -> Result<WeightView<'_>, OpsError> {
        let view = self.stored_view()?;
        match &self.cpu_layout {
            Some(layout) => view.with_prepared_blocks(layout),
            None => Ok(view),
        }
    }

    fn stored_view(&self) -> Result<WeightView<'_>, OpsError> {
        // Construction aligned the bytes to the element size, so these casts cannot fail.
        let data = match &self.storage {
            Storage::Prepared(p) => return Ok(p.view()),
            Storage::F16(bytes) => {
                WeightData::F16(bytemuck::cast_slice::<u8, f16>(bytes.as_slice()))
            }
            Storage::F32(bytes) => {
                WeightData::F32(bytemuck::cast_slice::<u8, f32>(bytes.as_slice()))
            }
            Storage::Q8_0(bytes) => WeightData::Q8_0(bytemuck::cast_slice(bytes.as_slice())),
            Storage::Q5_0(bytes) => WeightData::Q5_0(bytemuck::cast_slice(bytes.as_slice())),
            Storage::Q4K(bytes) => WeightData::Q4K(bytemuck::cast_slice(bytes.as_slice())),
            Storage::Q6K(bytes) => WeightData::Q6K(bytemuck::cast_slice(bytes.as_slice())),
        };
        WeightView::new(data, self.rows, self.cols)
    }

    /// Every element widened to f32 (norm weights and biases are used as f32 vectors).
    pub fn to_f32(&self) -> Vec<f32> {
        let bytes = self.bytes();
        match self.dtype {
            WeightDtype::Bf16 => bytemuck::cast_slice::<u8, bf16>(bytes)
                .iter()
                .map(|v| v.to_f32())
                .collect(),
            WeightDtype::F16 => bytemuck::cast_slice::<u8, f16>(bytes)
                .iter()
                .map(|v| v.to_f32())
                .collect(),
            WeightDtype::F32 => bytemuck::cast_slice::<u8, f32>(bytes).to_vec(),
            WeightDtype::Q8_0 => block_values::<BlockQ8_0>(bytes),
            WeightDtype::Q5_0 => block_values::<BlockQ5_0>(bytes),
            WeightDtype::Q4K => block_values::<BlockQ4K>(bytes),
            WeightDtype::Q6K => block_values::<BlockQ6K>(bytes),
        }
    }
}

fn block_values<B: QuantBlock>(bytes: &[u8]) -> Vec<f32> {
    bytemuck::cast_slice::<u8, B>(bytes)
        .iter()
        .flat_map(|b| b.values())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn misaligned_bytes_are_copied_to_an_aligned_buffer() {
        let mut raw = vec![0u8; 9];
        raw[1..9].copy_from_slice(bytemuck::cast_slice(&[1.0f32, 2.0]));
        let bytes = HostBytes::new(Arc::new(raw), 1..9).unwrap();
        let m = HostMatrix::new(bytes, WeightDtype::F32, 1, 2).unwrap();
        assert_eq!(m.to_f32(), vec![1.0, 2.0]);
        assert!(m.view().is_ok());
    }

    #[test]
    fn bf16_matrices_are_prepared_without_copying_in_domain_weights() {
        let values = [bf16::from_f32(0.5), bf16::from_f32(-2.0)];
        let owner: Arc<dyn ByteSource> =
            Arc::new(bytemuck::cast_slice::<bf16, u8>(&values).to_vec());
        let bytes = HostBytes::new(owner.clone(), 0..4).unwrap();
        let m = HostMatrix::new(bytes, WeightDtype::Bf16, 1, 2).unwrap();
        assert!(m.view().unwrap().is_prepared());
        assert_eq!(
            m.bytes().as_ptr(),
            owner.bytes().as_ptr(),
            "adopted in place"
        );

        // 2^-50 is below the factor domain: the matrix holds a clamped copy (signed zero).
        let tiny = [bf16::from_f32(1.0), bf16::from_f32(-(2.0f32.powi(-50)))];
        let bytes = HostBytes::from_vec(bytemuck::cast_slice::<bf16, u8>(&tiny).to_vec());
        let m = HostMatrix::new(bytes, WeightDtype::Bf16, 1, 2).unwrap();
        assert!(m.view().unwrap().is_prepared());
        assert_eq!(m.to_f32(), vec![1.0, -0.0]);
        assert!(m.to_f32()[1].is_sign_negative());
    }

    #[test]
    fn wrong_byte_count_names_the_shape() {
        let err = HostMatrix::new(HostBytes::from_vec(vec![0; 6]), WeightDtype::Bf16, 2, 2)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("2 x 2 Bf16 matrix needs 8 bytes, got 6"),
            "{err}"
        );
    }

    #[test]
    fn packed_matrices_stay_packed_and_widen_to_their_values() {
        // One Q8_0 row: scale 0.5 (f16 0x3800), quants 0, 1, ..., 31.
        let mut raw = 0x3800u16.to_le_bytes().to_vec();
        raw.extend(0..32u8);
        let m =
            HostMatrix::new(HostBytes::from_vec(raw.clone()), WeightDtype::Q8_0, 1, 32).unwrap();
        assert_eq!(m.bytes(), raw.as_slice());
        assert!(matches!(m.view().unwrap().data(), WeightData::Q8_0(_)));
        let expected: Vec<f32> = (0..32).map(|q| q as f32 * 0.5).collect();
        assert_eq!(m.to_f32(), expected);

        let err = HostMatrix::new(HostBytes::from_vec(raw), WeightDtype::Q8_0, 2, 16)
            .unwrap_err()
            .to_string();
        assert!(err.contains("whole blocks of 32 values"), "{err}");
    }

    #[test]
    fn range_outside_the_owner_is_refused() {
        assert!(HostBytes::new(Arc::new(vec![0u8; 4]), 2..6).is_err());
    }
}
