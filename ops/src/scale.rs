//! Multiplying every value by one factor: Gemma's embedding scale (the embeddings times
//! `sqrt(hidden_size)`, one f32 product as llama.cpp computes it).

use crate::canonical::{canonical, ftz};
use crate::error::{OpsError, check_nonzero};

/// `x[i] = canonical(ftz(x[i]) * ftz(factor))`: a single rounded product that feeds no add,
/// so it needs no arithmetic parameter. The factor is a host constant and must be finite.
pub fn scale(x: &mut [f32], factor: f32) -> Result<(), OpsError> {
    check_scale(x.len(), factor)?;
    let factor = ftz(factor);
    for v in x.iter_mut() {
        *v = canonical(ftz(*v) * factor);
    }
    Ok(())
}

/// The checks of [`scale`] on `len` values: refused unless `len > 0` and `factor` is finite.
pub fn check_scale(len: usize, factor: f32) -> Result<(), OpsError> {
    check_nonzero("scale", "x", len)?;
    if !factor.is_finite() {
        return Err(OpsError::InvalidParam {
            op: "scale",
            param: "factor",
            value: factor as f64,
            reason: "must be finite",
        });
    }
    Ok(())
}
