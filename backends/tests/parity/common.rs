//! What every parity test shares: one Vulkan device per test binary, seeded data, and the
//! bit-for-bit comparison.

use std::sync::OnceLock;

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

/// A seeded generator of test values (SplitMix64): the same sequence on every run.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Self(seed)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// True about once in `every` calls.
    pub fn one_in(&mut self, every: u64) -> bool {
        self.next_u64().is_multiple_of(every)
    }

    /// Uniform in [-scale, scale).
    pub fn uniform(&mut self, scale: f32) -> f32 {
        let unit = (self.next_u64() >> 40) as f32 / (1u64 << 24) as f32;
        (unit * 2.0 - 1.0) * scale
    }

    /// `n` values uniform in [-scale, scale).
    pub fn values(&mut self, n: usize, scale: f32) -> Vec<f32> {
        (0..n).map(|_| self.uniform(scale)).collect()
    }

    /// `n` values of which about one in `every` is an edge case: ±0, a denormal, ±inf,
    /// NaN with a payload, or a magnitude outside the factor domain.
    pub fn values_with_edges(&mut self, n: usize, scale: f32, every: u64) -> Vec<f32> {
        const EDGES: [u32; 10] = [
            0x0000_0000,
            0x8000_0000,
            0x0000_0001,
            0x8040_0000,
            0x7F80_0000,
            0xFF80_0000,
            0x7FC0_1234,
            0x6F80_0000,
            0x2000_0000,
            0xA000_0001,
        ];
        (0..n)
            .map(|_| {
                if self.one_in(every) {
                    f32::from_bits(EDGES[(self.next_u64() % EDGES.len() as u64) as usize])
                } else {
                    self.uniform(scale)
                }
            })
            .collect()
    }

    /// `n` arbitrary f32 bit patterns.
    pub fn bit_patterns(&mut self, n: usize) -> Vec<f32> {
        (0..n)
            .map(|_| f32::from_bits(self.next_u64() as u32))
            .collect()
    }
}

/// The bit patterns of `values`.
pub fn bits(values: &[f32]) -> Vec<u32> {
    values.iter().map(|v| v.to_bits()).collect()
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
/// differ, the largest difference (read as f32) and the first differing value.
pub fn assert_same_bits(what: &str, reference: &[u32], device: &[u32]) {
    assert_eq!(
        reference.len(),
        device.len(),
        "{what}: lengths differ (cpu {}, device {})",
        reference.len(),
        device.len()
    );
    let differing: Vec<usize> = (0..reference.len())
        .filter(|&i| reference[i] != device[i])
        .collect();
    if let Some(&first) = differing.first() {
        let as_f32 = |b: u32| f32::from_bits(b);
        let max_delta = differing
            .iter()
            .map(|&i| (as_f32(reference[i]) - as_f32(device[i])).abs())
            .fold(0.0f32, f32::max);
        panic!(
            "{what}: {} of {} values differ, max|Δ| = {max_delta:e}; first at {first}: \
             cpu {:#010x} ({:e}) vs device {:#010x} ({:e})",
            differing.len(),
            reference.len(),
            reference[first],
            as_f32(reference[first]),
            device[first],
            as_f32(device[first]),
        );
    }
}

/// Runs `case` on the CPU reference and on Vulkan and asserts the same bits. Returns the
/// reference bits, or `None` (with the skip printed) when there is no Vulkan device.
pub fn compare<F>(what: &str, case: F) -> Option<Vec<u32>>
where
    F: BackendFn<Output = Result<Vec<u32>, BackendError>> + Clone,
{
    let device = vulkan()?;
    let reference = case
        .clone()
        .run(&cpu())
        .unwrap_or_else(|e| panic!("{what} on cpu: {e}"));
    let got = case
        .run(device)
        .unwrap_or_else(|e| panic!("{what} on vulkan: {e}"));
    assert_same_bits(what, &reference, &got);
    Some(reference)
}
