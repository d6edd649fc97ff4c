//! argmax with ties resolved to the lowest index.

use crate::error::{OpsError, check_nonzero};

/// The index of the largest value; among equal values (+0.0 and -0.0 are equal) the lowest
/// index wins. NaN is refused: it has no place in an order.
pub fn argmax(x: &[f32]) -> Result<usize, OpsError> {
    check_nonzero("argmax", "x", x.len())?;
    let mut best = 0;
    for (i, &v) in x.iter().enumerate() {
        if v.is_nan() {
            return Err(OpsError::NonFinite {
                op: "argmax",
                what: "x",
                index: i,
                value: v,
            });
        }
        if v > x[best] {
            best = i;
        }
    }
    Ok(best)
}
