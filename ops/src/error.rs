//! The one error type of the crate: every refusal names the op and the shape or value at fault.

use thiserror::Error;

/// Why an op refused its input. Ops check every shape before they read a slice, so a wrong
/// shape is reported here instead of panicking or reading out of bounds.
#[derive(Debug, Clone, PartialEq, Error)]
pub enum OpsError {
    /// A buffer's length does not match the length its shape implies.
    #[error("{op}: {what} has length {got}, expected {expected}")]
    Length {
        op: &'static str,
        what: &'static str,
        expected: usize,
        got: usize,
    },
    /// A buffer or dimension that must be non-empty is empty (or zero).
    #[error("{op}: {what} is empty")]
    Empty {
        op: &'static str,
        what: &'static str,
    },
    /// A length must be a whole number of rows (or heads, or pairs) and is not.
    #[error("{op}: {what} has length {len}, which is not a multiple of {unit}")]
    NotMultiple {
        op: &'static str,
        what: &'static str,
        len: usize,
        unit: usize,
    },
    /// Two dimensions that must divide evenly do not (e.g. query heads by key/value heads).
    #[error("{op}: {what}: {numerator} is not divisible by {denominator}")]
    NotDivisible {
        op: &'static str,
        what: &'static str,
        numerator: usize,
        denominator: usize,
    },
    /// A dimension exceeds what the deterministic arithmetic supports.
    #[error("{op}: {what} is {got}, above the supported maximum of {max}")]
    TooLarge {
        op: &'static str,
        what: &'static str,
        got: usize,
        max: usize,
    },
    /// A position or index refers past the end of the table or cache it indexes.
    #[error("{op}: {what} {index} is out of range (there are {len})")]
    OutOfRange {
        op: &'static str,
        what: &'static str,
        index: usize,
        len: usize,
    },
    /// A value that the op cannot give a meaningful answer for (NaN, or an infinity where
    /// only finite values or -inf make sense).
    #[error("{op}: {what}[{index}] is {value}, which this op does not accept")]
    NonFinite {
        op: &'static str,
        what: &'static str,
        index: usize,
        value: f32,
    },
    /// A row that must hold at least one finite value holds none (every value is -inf).
    #[error("{op}: {what} has no finite value")]
    NoFiniteValue {
        op: &'static str,
        what: &'static str,
    },
    /// Data prepared from one input was given with another.
    #[error("{op}: {what}")]
    Mismatch {
        op: &'static str,
        what: &'static str,
    },
    /// A parameter outside its valid range.
    #[error("{op}: {param} = {value} is invalid: {reason}")]
    InvalidParam {
        op: &'static str,
        param: &'static str,
        value: f64,
        reason: &'static str,
    },
}

/// Returns a [`OpsError::Length`] unless `got == expected`.
pub fn check_len(
    op: &'static str,
    what: &'static str,
    expected: usize,
    got: usize,
) -> Result<(), OpsError> {
    if got == expected {
        Ok(())
    } else {
        Err(OpsError::Length {
            op,
            what,
            expected,
            got,
        })
    }
}

/// Returns [`OpsError::Empty`] when `n == 0`.
pub fn check_nonzero(op: &'static str, what: &'static str, n: usize) -> Result<(), OpsError> {
    if n == 0 {
        Err(OpsError::Empty { op, what })
    } else {
        Ok(())
    }
}

/// The number of whole rows of `unit` elements in a buffer of `len`, refusing empty buffers
/// and partial rows.
pub fn whole_rows(
    op: &'static str,
    what: &'static str,
    len: usize,
    unit: usize,
) -> Result<usize, OpsError> {
    check_nonzero(op, what, len)?;
    if !len.is_multiple_of(unit) {
        return Err(OpsError::NotMultiple {
            op,
            what,
            len,
            unit,
        });
    }
    Ok(len / unit)
}

/// Refuses the first NaN or +inf in `values` (-inf is accepted: it is a masked entry).
pub(crate) fn check_no_nan_or_pos_inf(
    op: &'static str,
    what: &'static str,
    values: &[f32],
) -> Result<(), OpsError> {
    match values
        .iter()
        .position(|v| v.is_nan() || *v == f32::INFINITY)
    {
        Some(index) => Err(OpsError::NonFinite {
            op,
            what,
            index,
            value: values[index],
        }),
        None => Ok(()),
    }
}

/// The product of shape dimensions, refusing one that overflows `usize` (dimensions come
/// from configuration, not from allocated buffers, so they can be anything).
pub fn shape_product(
    op: &'static str,
    what: &'static str,
    dims: &[usize],
) -> Result<usize, OpsError> {
    dims.iter().try_fold(1usize, |acc, &d| {
        acc.checked_mul(d).ok_or(OpsError::TooLarge {
            op,
            what,
            got: d,
            max: usize::MAX / acc.max(1),
        })
    })
}

/// Refuses `got > max` with [`OpsError::TooLarge`].
pub(crate) fn check_at_most(
    op: &'static str,
    what: &'static str,
    got: usize,
    max: usize,
) -> Result<(), OpsError> {
    if got > max {
        Err(OpsError::TooLarge { op, what, got, max })
    } else {
        Ok(())
    }
}

/// Refuses the first position at or past `len` with [`OpsError::OutOfRange`].
pub fn check_positions(
    op: &'static str,
    what: &'static str,
    positions: &[u32],
    len: usize,
) -> Result<(), OpsError> {
    match positions.iter().find(|&&p| p as usize >= len) {
        Some(&p) => Err(OpsError::OutOfRange {
            op,
            what,
            index: p as usize,
            len,
        }),
        None => Ok(()),
    }
}
