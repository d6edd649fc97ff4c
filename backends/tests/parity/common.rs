//! What every parity test shares: one Vulkan device per test binary, and assertions over
//! `fak_backends::parity`'s cases and comparison.

use std::sync::OnceLock;

use fak_backends::parity::{OpSweep, ParityCase, compare_bits};
use fak_backends::{BackendError, BackendFn, CpuBackend, WgpuBackend};

/// The Vulkan backend, opened once for the whole binary, or `None` after printing
/// `SKIPPED: <why>`. With `FAK_REQUIRE_VULKAN` set (CI), a missing device fails instead.
pub fn vulkan() -> Option<&'static WgpuBackend> {
    static DEVICE: OnceLock<Option<WgpuBackend>> = OnceLock::new();
    DEVICE.get_or_init(fak_backends::vulkan_for_tests).as_ref()
}

/// The CPU reference backend.
pub fn cpu() -> CpuBackend {
    CpuBackend::new()
}

/// Panics unless at least half of `values` (as f32 bits) are finite and non-zero: a
/// comparison of outputs that are all NaN or all zero would prove nothing.
pub fn assert_mostly_finite(what: &str, values: &[u32]) {
    let finite = values
        .iter()
        .filter(|&&b| {
            let v = f32::from_bits(b);
            v.is_finite() && v != 0.0
        })
        .count();
    assert!(
        finite * 2 >= values.len(),
        "{what}: only {finite} of {} values are finite and non-zero",
        values.len()
    );
}

/// Panics unless `device` holds exactly the bits of `reference`, reporting how many values
/// differ, the largest difference and the first differing value.
pub fn assert_same_bits(what: &str, reference: &[u32], device: &[u32]) {
    let c = compare_bits(reference, device);
    assert!(c.is_exact(), "{what}: {c}");
}

/// Runs `case` on the CPU reference and on Vulkan and asserts the same bits. Returns the
/// reference bits, or `None` (with the skip printed) when there is no Vulkan device.
pub fn compare<F>(what: &str, case: F) -> Option<Vec<u32>>
where
    F: BackendFn<Output = Result<Vec<u32>, BackendError>> + Clone,
{
    check(&ParityCase::same(what, case))
}

/// Runs one parity case on Vulkan and asserts the same bits as the CPU reference.
pub fn check<F>(case: &ParityCase<F>) -> Option<Vec<u32>>
where
    F: BackendFn<Output = Result<Vec<u32>, BackendError>> + Clone,
{
    let outcome = case
        .run(vulkan()?)
        .unwrap_or_else(|e| panic!("{}: {e}", case.what));
    assert!(
        outcome.comparison.is_exact(),
        "{}: {}",
        case.what,
        outcome.comparison
    );
    Some(outcome.reference)
}

/// Runs every case of `sweep` (as `harness verify` does) and asserts each; returns the
/// reference outputs laid end to end, or `None` without a Vulkan device.
pub fn check_sweep(sweep: OpSweep) -> Option<Vec<u32>> {
    vulkan()?;
    let cases = sweep
        .cases()
        .unwrap_or_else(|e| panic!("{}: {e}", sweep.name()));
    Some(
        cases
            .iter()
            .flat_map(|c| check(c).unwrap_or_default())
            .collect(),
    )
}
