//! Op gates: every op sweep and math function on a device against the CPU reference.

use fak_backends::parity::{BitComparison, MathCase, OpSweep, compare_bits};
use fak_backends::{AnyBackend, MathFn};

use super::GateError;

/// Every case of `sweep` on `backend`, compared with the CPU, laid end to end.
pub fn op_sweep(sweep: OpSweep, backend: &AnyBackend) -> Result<BitComparison, GateError> {
    let mut total = BitComparison::EMPTY;
    for case in sweep.cases()? {
        let outcome = backend.run(&case).map_err(|source| GateError::Case {
            case: case.what.clone(),
            source,
        })?;
        total = total.merge(outcome.comparison);
    }
    Ok(total)
}

/// `f`'s sweep of inputs on `backend`, compared with the CPU reference.
pub fn math(f: MathFn, backend: &AnyBackend) -> Result<BitComparison, GateError> {
    let case = MathCase::sweep(f);
    Ok(compare_bits(&case.reference(), &case.run_on_any(backend)?))
}
