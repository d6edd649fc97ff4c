//! The residual connection: `x += y`, element by element.

use crate::canonical::{canonical, ftz};
use crate::error::{OpsError, check_len, check_nonzero};

/// `x[i] = canonical(x[i] + y[i])` with denormal inputs read as zero. A single add of two
/// stored values takes no product, so it needs no arithmetic parameter.
pub fn add(x: &mut [f32], y: &[f32]) -> Result<(), OpsError> {
    check_nonzero("add", "x", x.len())?;
    check_len("add", "y", x.len(), y.len())?;
    for (a, &b) in x.iter_mut().zip(y) {
        *a = canonical(ftz(*a) + ftz(b));
    }
    Ok(())
}
