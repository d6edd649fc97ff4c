//! verify(): the session against a cold prefill of its own tokens, byte for byte.

use fak_backends::{Backend, KvRows};
use fak_models::{Activations, KvCache, Logits, SequenceKv};
use half::bf16;

use super::{EditStats, KvError, Session};

/// The comparison of a session with a cold rebuild that never saw its history.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct VerifyReport {
    /// Positions compared.
    pub tokens: usize,
    /// K and V values compared over all layers.
    pub kv_values: usize,
    /// Of those, how many differ in any bit.
    pub kv_differing: usize,
    /// The largest |Δ| between a session value and the cold one (0 when identical).
    pub max_abs_delta_kv: f64,
    /// Logit values of the last position that differ in any bit.
    pub logits_differing: usize,
    pub max_abs_delta_logits: f64,
    /// What the session's last edit computed and reused (the cold run computes all).
    pub last_edit: EditStats,
}

impl VerifyReport {
    /// Every KV byte and every logit bit equal to the cold run's.
    pub fn exact(&self) -> bool {
        self.kv_differing == 0 && self.logits_differing == 0
    }
}

impl<B: Backend> Session<B> {
    /// Prefills the session's tokens cold on the same backend, in a private cache, and
    /// compares every KV value of every layer and the last position's logits.
    pub fn verify(&self) -> Result<VerifyReport, KvError> {
        let model = self.store.model();
        let backend = &**model.backend();
        let len = self.len();
        let mut report = VerifyReport {
            tokens: len,
            kv_values: 0,
            kv_differing: 0,
            max_abs_delta_kv: 0.0,
            logits_differing: 0,
            max_abs_delta_logits: 0.0,
            last_edit: self.last_edit,
        };
        if len == 0 {
            return Ok(report);
        }
        let mut cold = SequenceKv::new(backend, model.config(), len)?;
        let mut activations = Activations::new();
        // One forward call: any chunking gives the same bits, and this is the plainest.
        let logits = model.forward(&mut activations, &mut cold, &self.tokens, Logits::Last)?;
        debug_assert_eq!(cold.len(), len);
        let cold_slots = cold.slots(0..len).unwrap_or_default();
        for layer in 0..model.config().num_layers {
            let ours = self.kv_rows(layer)?;
            let pool = cold.pool(layer).ok_or(KvError::NoSuchLayer {
                layer,
                layers: model.config().num_layers,
            })?;
            let theirs: KvRows = backend.kv_read(pool, &cold_slots)?;
            for (a, b) in [(&ours.k, &theirs.k), (&ours.v, &theirs.v)] {
                let d = compare(
                    a.iter().map(|&x| bf16::from_bits(x).to_f32()),
                    b.iter().map(|&x| bf16::from_bits(x).to_f32()),
                );
                report.kv_values += a.len();
                report.kv_differing += d.differing + a.len().abs_diff(b.len());
                report.max_abs_delta_kv = report.max_abs_delta_kv.max(d.max_abs);
            }
        }
        let ours = self.logits.as_deref().unwrap_or(&[]);
        let d = compare(ours.iter().copied(), logits.iter().copied());
        report.logits_differing = d.differing + ours.len().abs_diff(logits.len());
        report.max_abs_delta_logits = d.max_abs;
        Ok(report)
    }
}

struct Delta {
    differing: usize,
    max_abs: f64,
}

/// Bitwise differences and the largest |Δ| (infinite where one side is NaN and the
/// bits differ).
fn compare(a: impl Iterator<Item = f32>, b: impl Iterator<Item = f32>) -> Delta {
    let mut d = Delta {
        differing: 0,
        max_abs: 0.0,
    };
    for (x, y) in a.zip(b) {
        if x.to_bits() != y.to_bits() {
            d.differing += 1;
            let delta = (f64::from(x) - f64::from(y)).abs();
            d.max_abs = d
                .max_abs
                .max(if delta.is_nan() { f64::INFINITY } else { delta });
        }
    }
    d
}
