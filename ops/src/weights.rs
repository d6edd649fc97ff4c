//! Borrowed, shape-checked views of a row-major weight matrix in bf16, f16, f32, or GGML's
//! packed Q8_0 / Q5_0 / Q4_K / Q6_K blocks.

use half::{bf16, f16};

use crate::error::{OpsError, check_nonzero};
use crate::half_float::domain_bf16;
use crate::matvec::PreparedBlocks;
use crate::quantized::{BlockQ4K, BlockQ5_0, BlockQ6K, BlockQ8_0, QUANT_BLOCK, QuantBlock};

/// The element type and data of a weight matrix, borrowed from wherever it lives (a memory
/// map, a loaded tensor).
#[derive(Debug, Clone, Copy)]
pub enum WeightData<'a> {
    /// bf16 weights: widening is exact and a weight times a bf16 activation is exact.
    Bf16(&'a [bf16]),
    /// f16 weights: widening is exact; 11 x 8 significant bits is exact too.
    F16(&'a [f16]),
    /// f32 weights: each weight is split into two 12-bit pieces, two exact products.
    F32(&'a [f32]),
    /// Q8_0 blocks, row by row (`cols / 32` blocks a row): each weight is its f32 value
    /// `d * q` and enters exactly as an f32 weight would (DETERMINISM.md §3a).
    Q8_0(&'a [BlockQ8_0]),
    /// Q5_0 blocks, row by row, entering like Q8_0's.
    Q5_0(&'a [BlockQ5_0]),
    /// Q4_K blocks (256 weights each), row by row: each weight is its f32 value
    /// `(d * scale) * q - dmin * min`.
    Q4K(&'a [BlockQ4K]),
    /// Q6_K blocks (256 weights each), row by row: each weight is `(d * scale) * (q - 32)`.
    Q6K(&'a [BlockQ6K]),
}

impl WeightData<'_> {
    /// Number of elements.
    pub fn len(&self) -> usize {
        match self {
            WeightData::Bf16(d) => d.len(),
            WeightData::F16(d) => d.len(),
            WeightData::F32(d) => d.len(),
            WeightData::Q8_0(d) => d.len() * QUANT_BLOCK,
            WeightData::Q5_0(d) => d.len() * QUANT_BLOCK,
            WeightData::Q4K(d) => d.len() * QUANT_BLOCK * BlockQ4K::CHUNKS,
            WeightData::Q6K(d) => d.len() * QUANT_BLOCK * BlockQ6K::CHUNKS,
        }
    }

    /// Weights per storage unit: 1 for an element type, the block size for a block type
    /// (a row must be whole units).
    pub fn unit(&self) -> usize {
        match self {
            WeightData::Bf16(_) | WeightData::F16(_) | WeightData::F32(_) => 1,
            WeightData::Q8_0(_) | WeightData::Q5_0(_) => QUANT_BLOCK,
            WeightData::Q4K(_) => QUANT_BLOCK * BlockQ4K::CHUNKS,
            WeightData::Q6K(_) => QUANT_BLOCK * BlockQ6K::CHUNKS,
        }
    }

    /// True when there are no elements.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// A `rows x cols` row-major weight matrix: row `r` is elements `r*cols .. (r+1)*cols`.
/// Output `r` of a matrix product is the dot product of row `r` with the activation.
#[derive(Debug, Clone, Copy)]
pub struct WeightView<'a> {
    data: WeightData<'a>,
    rows: usize,
    cols: usize,
    /// Set only by [`PreparedWeights::view`]: every bf16 element is already inside the
    /// factor domain, so products skip the per-element clamp.
    prepared: bool,
    /// The same blocks laid out for this CPU's quantized kernel, when attached.
    blocks: Option<&'a PreparedBlocks>,
}

impl<'a> WeightView<'a> {
    /// A view of `data` as `rows x cols`, refusing empty shapes, a length that is not
    /// exactly `rows * cols`, and block types whose rows are not whole blocks.
    pub fn new(data: WeightData<'a>, rows: usize, cols: usize) -> Result<Self, OpsError> {
        const OP: &str = "WeightView::new";
        check_nonzero(OP, "rows", rows)?;
        check_nonzero(OP, "cols", cols)?;
        if !cols.is_multiple_of(data.unit()) {
            return Err(OpsError::NotMultiple {
                op: OP,
                what: "cols (a quantized row is whole blocks)",
                len: cols,
                unit: data.unit(),
            });
        }
        let expected = rows.checked_mul(cols).ok_or(OpsError::TooLarge {
            op: OP,
            what: "rows (rows * cols overflows usize)",
            got: rows,
            max: usize::MAX / cols,
        })?;
        crate::error::check_len(OP, "data", expected, data.len())?;
        Ok(WeightView {
            data,
            rows,
            cols,
            prepared: false,
            blocks: None,
        })
    }

    /// A bf16 view; see [`WeightView::new`].
    pub fn bf16(data: &'a [bf16], rows: usize, cols: usize) -> Result<Self, OpsError> {
        Self::new(WeightData::Bf16(data), rows, cols)
    }

    /// An f16 view; see [`WeightView::new`].
    pub fn f16(data: &'a [f16], rows: usize, cols: usize) -> Result<Self, OpsError> {
        Self::new(WeightData::F16(data), rows, cols)
    }

    /// An f32 view; see [`WeightView::new`].
    pub fn f32(data: &'a [f32], rows: usize, cols: usize) -> Result<Self, OpsError> {
        Self::new(WeightData::F32(data), rows, cols)
    }

    /// A view of Q8_0 blocks; see [`WeightView::new`].
    pub fn q8_0(data: &'a [BlockQ8_0], rows: usize, cols: usize) -> Result<Self, OpsError> {
        Self::new(WeightData::Q8_0(data), rows, cols)
    }

    /// A view of Q5_0 blocks; see [`WeightView::new`].
    pub fn q5_0(data: &'a [BlockQ5_0], rows: usize, cols: usize) -> Result<Self, OpsError> {
        Self::new(WeightData::Q5_0(data), rows, cols)
    }

    /// A view of Q4_K blocks; see [`WeightView::new`].
    pub fn q4_k(data: &'a [BlockQ4K], rows: usize, cols: usize) -> Result<Self, OpsError> {
        Self::new(WeightData::Q4K(data), rows, cols)
    }

    /// A view of Q6_K blocks; see [`WeightView::new`].
    pub fn q6_k(data: &'a [BlockQ6K], rows: usize, cols: usize) -> Result<Self, OpsError> {
        Self::new(WeightData::Q6K(data), rows, cols)
    }

    /// Number of rows (outputs of a matrix-vector product).
    pub fn rows(&self) -> usize {
        self.rows
    }

    /// Number of columns (the length of each dot product).
    pub fn cols(&self) -> usize {
        self.cols
    }

    /// The borrowed elements.
    pub fn data(&self) -> WeightData<'a> {
        self.data
    }

    /// True for views of [`PreparedWeights`].
    pub fn is_prepared(&self) -> bool {
        self.prepared
    }

    /// This view with `blocks`, the same matrix laid out for the quantized kernel
    /// ([`PreparedBlocks::new`]), which its products then read instead of unpacking the
    /// blocks. Refuses a layout made from a matrix of another block type or shape.
    pub fn with_prepared_blocks(mut self, blocks: &'a PreparedBlocks) -> Result<Self, OpsError> {
        if !blocks.fits(&self) {
            return Err(OpsError::Mismatch {
                op: "WeightView::with_prepared_blocks",
                what: "the prepared blocks were laid out from a matrix of another type or shape",
            });
        }
        self.blocks = Some(blocks);
        Ok(self)
    }

    /// The attached [`PreparedBlocks`], if any.
    pub fn prepared_blocks(&self) -> Option<&'a PreparedBlocks> {
        self.blocks
    }
}

/// A bf16 weight matrix with the factor domain (DETERMINISM.md §3) applied to every element
/// once, at load, instead of inside every product.
///
/// Preparing changes no result: the clamp is idempotent, so a matmul over
/// [`PreparedWeights::view`] gives the bits of a matmul over a plain view of the original
/// weights, while its kernel skips the per-element clamp (the price of the contract on a
/// cache-resident matrix). Backends may upload the prepared bytes and skip the clamp too.
///
/// The storage `S` is anything that reads as bf16: an owned vector (the clamped copy
/// [`PreparedWeights::bf16`] makes) or borrowed bytes of a memory-mapped checkpoint that
/// [`PreparedWeights::adopt`] found already inside the domain.
#[derive(Debug, Clone, PartialEq)]
pub struct PreparedWeights<S = Vec<bf16>> {
    data: S,
    rows: usize,
    cols: usize,
}

impl PreparedWeights {
    /// Takes ownership of `rows x cols` bf16 weights and clamps each into the factor domain
    /// (magnitudes below 2^-40 become signed zero, from 2^64 up the canonical NaN).
    pub fn bf16(mut data: Vec<bf16>, rows: usize, cols: usize) -> Result<Self, OpsError> {
        WeightView::bf16(&data, rows, cols)?;
        for w in &mut data {
            *w = bf16::from_bits(domain_bf16(w.to_bits()));
        }
        Ok(PreparedWeights { data, rows, cols })
    }
}

impl<S: AsRef<[bf16]>> PreparedWeights<S> {
    /// Adopts `rows x cols` weights as they are when every element already lies in the factor
    /// domain (one pass, at load): the usual case for trained weights, and what lets a
    /// memory-mapped checkpoint be used without a copy. Gives `data` back as `Err` when some
    /// element would be clamped; prepare a copy with [`PreparedWeights::bf16`] then.
    pub fn adopt(data: S, rows: usize, cols: usize) -> Result<Result<Self, S>, OpsError> {
        let values = data.as_ref();
        WeightView::bf16(values, rows, cols)?;
        if values
            .iter()
            .all(|w| domain_bf16(w.to_bits()) == w.to_bits())
        {
            Ok(Ok(PreparedWeights { data, rows, cols }))
        } else {
            Ok(Err(data))
        }
    }

    /// A view for matmul and matvec that skips the per-element clamp.
    pub fn view(&self) -> WeightView<'_> {
        WeightView {
            data: WeightData::Bf16(self.data.as_ref()),
            rows: self.rows,
            cols: self.cols,
            prepared: true,
            blocks: None,
        }
    }

    /// The prepared elements, row-major: the bytes a backend uploads.
    pub fn data(&self) -> &[bf16] {
        self.data.as_ref()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn weight_view_refuses_wrong_length_and_empty_shapes() {
        let data = vec![bf16::ZERO; 6];
        assert!(WeightView::bf16(&data, 2, 3).is_ok());
        assert_eq!(
            WeightView::bf16(&data, 2, 4).unwrap_err(),
            OpsError::Length {
                op: "WeightView::new",
                what: "data",
                expected: 8,
                got: 6
            }
        );
        assert!(matches!(
            WeightView::bf16(&data, 0, 3),
            Err(OpsError::Empty { what: "rows", .. })
        ));
        assert!(matches!(
            WeightView::bf16(&data, usize::MAX, 3),
            Err(OpsError::TooLarge { .. })
        ));
    }

    #[test]
    fn adopt_keeps_in_domain_storage_and_returns_the_rest() {
        let ok = vec![bf16::from_f32(1.5), bf16::ZERO, bf16::from_f32(-3.0e-5)];
        let adopted = PreparedWeights::adopt(ok.as_slice(), 1, 3)
            .unwrap()
            .unwrap();
        assert!(adopted.view().is_prepared());
        assert_eq!(adopted.data(), ok.as_slice());

        // 2^-50 lies below the domain: adopting would skip a clamp the kernel must apply.
        let tiny = vec![bf16::from_f32(1.0), bf16::from_f32(2.0f32.powi(-50))];
        let back = PreparedWeights::adopt(tiny.as_slice(), 1, 2)
            .unwrap()
            .unwrap_err();
        assert_eq!(back, tiny.as_slice());
        assert!(PreparedWeights::adopt(tiny.as_slice(), 2, 2).is_err());
    }
}
