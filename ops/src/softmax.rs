//! softmax over one row, with the canonical max and sum.

use crate::arith::{MulAdd, Unfused};
use crate::canonical::canonical;
use crate::error::{OpsError, check_len, check_no_nan_or_pos_inf, check_nonzero};
use crate::math::{exp_with, recip_with};
use crate::reduce::{lane_sum, max};

/// softmax with the default (unfused) evaluation; see [`softmax_with`].
pub fn softmax(x: &[f32], out: &mut [f32]) -> Result<(), OpsError> {
    softmax_with::<Unfused>(x, out)
}

/// `out[i] = canonical(e[i] * recip(sum))` with `e[i] = exp(x[i] - m)`, `m` the canonical
/// max and `sum` the canonical sum of `e`. -inf entries get probability 0; NaN or +inf is
/// refused, and so is a row with no finite value.
pub fn softmax_with<A: MulAdd>(x: &[f32], out: &mut [f32]) -> Result<(), OpsError> {
    const OP: &str = "softmax";
    check_nonzero(OP, "x", x.len())?;
    check_len(OP, "out", x.len(), out.len())?;
    check_no_nan_or_pos_inf(OP, "x", x)?;
    let m = max(x);
    if m == f32::NEG_INFINITY {
        return Err(OpsError::NoFiniteValue { op: OP, what: "x" });
    }
    for (o, &v) in out.iter_mut().zip(x) {
        *o = exp_with::<A>(v - m);
    }
    let inv_sum = recip_with::<A>(lane_sum(out.len(), |i, acc| acc + out[i]));
    for o in out.iter_mut() {
        *o = canonical(*o * inv_sum);
    }
    Ok(())
}
