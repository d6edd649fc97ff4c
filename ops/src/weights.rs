//! Borrowed, shape-checked views of a row-major weight matrix in bf16, f16 or f32.

use half::{bf16, f16};

use crate::error::{OpsError, check_nonzero};

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
}

impl WeightData<'_> {
    /// Number of elements.
    pub fn len(&self) -> usize {
        match self {
            WeightData::Bf16(d) => d.len(),
            WeightData::F16(d) => d.len(),
            WeightData::F32(d) => d.len(),
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
}

impl<'a> WeightView<'a> {
    /// A view of `data` as `rows x cols`, refusing empty shapes and a length that is not
    /// exactly `rows * cols`.
    pub fn new(data: WeightData<'a>, rows: usize, cols: usize) -> Result<Self, OpsError> {
        const OP: &str = "WeightView::new";
        check_nonzero(OP, "rows", rows)?;
        check_nonzero(OP, "cols", cols)?;
        let expected = rows.checked_mul(cols).ok_or(OpsError::TooLarge {
            op: OP,
            what: "rows (rows * cols overflows usize)",
            got: rows,
            max: usize::MAX / cols,
        })?;
        crate::error::check_len(OP, "data", expected, data.len())?;
        Ok(WeightView { data, rows, cols })
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
}
