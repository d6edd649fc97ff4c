//! Seeded sampling over logits on the host: temperature, top-k, top-p.
//!
//! Reproducible from the seed across crate versions: the random words come from the
//! ChaCha20 stream (a fixed algorithm, keyed by the seed as below), each non-greedy draw
//! takes exactly one 32-bit word, and the word becomes a float by integer arithmetic we
//! define here, not by a library's conversion.

use std::cmp::Ordering;

use rand_chacha::ChaCha20Rng;
use rand_chacha::rand_core::{Rng, SeedableRng};

use crate::argmax::argmax;
use crate::error::{OpsError, check_no_nan_or_pos_inf, check_nonzero};
use crate::math::{exp, recip};

/// How to pick a token from logits.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SamplingParams {
    /// Logits are divided by this before the softmax; 0 means greedy (argmax, no draw).
    pub temperature: f32,
    /// Keep only the `top_k` most likely tokens; 0 keeps all.
    pub top_k: usize,
    /// Keep the smallest most-likely prefix whose mass reaches `top_p` of the total;
    /// 1.0 keeps all. Must be in (0, 1].
    pub top_p: f32,
}

impl SamplingParams {
    /// Always the most likely token (lowest index on ties).
    pub const GREEDY: SamplingParams = SamplingParams {
        temperature: 0.0,
        top_k: 0,
        top_p: 1.0,
    };
}

/// A seeded sampler: the same seed, parameters and logits give the same tokens.
#[derive(Debug, Clone)]
pub struct Sampler {
    params: SamplingParams,
    rng: ChaCha20Rng,
}

/// One candidate token with its logit.
#[derive(Debug, Clone, Copy)]
struct Candidate {
    index: usize,
    logit: f32,
}

/// Higher logit first; equal logits (+0.0 and -0.0 included) by lower index.
fn by_rank(a: &Candidate, b: &Candidate) -> Ordering {
    if a.logit > b.logit {
        Ordering::Less
    } else if a.logit < b.logit {
        Ordering::Greater
    } else {
        a.index.cmp(&b.index)
    }
}

impl Sampler {
    /// A sampler keyed by `seed`: the ChaCha20 key is `seed` as 8 little-endian bytes
    /// followed by 24 zero bytes, stream and word position 0.
    pub fn new(params: SamplingParams, seed: u64) -> Result<Self, OpsError> {
        const OP: &str = "Sampler::new";
        if !(params.temperature.is_finite() && params.temperature >= 0.0) {
            return Err(OpsError::InvalidParam {
                op: OP,
                param: "temperature",
                value: params.temperature as f64,
                reason: "must be finite and >= 0",
            });
        }
        if !(params.top_p > 0.0 && params.top_p <= 1.0) {
            return Err(OpsError::InvalidParam {
                op: OP,
                param: "top_p",
                value: params.top_p as f64,
                reason: "must be in (0, 1]",
            });
        }
        let mut key = [0u8; 32];
        key[..8].copy_from_slice(&seed.to_le_bytes());
        Ok(Sampler {
            params,
            rng: ChaCha20Rng::from_seed(key),
        })
    }

    /// The parameters this sampler was made with.
    pub fn params(&self) -> SamplingParams {
        self.params
    }

    /// A uniform float in [0, 1): the top 24 bits of the next 32-bit word, times 2^-24.
    fn uniform(&mut self) -> f32 {
        (self.rng.next_u32() >> 8) as f32 * (1.0 / (1u32 << 24) as f32)
    }

    /// Picks a token index from `logits`.
    ///
    /// Greedy when temperature is 0. Otherwise: the finite logits ranked (higher first,
    /// lower index on ties), cut to `top_k`; weights `e_i = exp((l_i - l_0) * (1/T))`;
    /// `c_i` their running sum in rank order; cut after the first `i` with
    /// `c_i >= top_p * c_last`; draw `u` and return the first kept candidate with
    /// `c_i > u * c_kept` (the last kept one if rounding leaves none).
    /// NaN or +inf logits are refused, and so is a row of only -inf.
    pub fn sample(&mut self, logits: &[f32]) -> Result<usize, OpsError> {
        const OP: &str = "sample";
        check_nonzero(OP, "logits", logits.len())?;
        check_no_nan_or_pos_inf(OP, "logits", logits)?;
        if self.params.temperature == 0.0 {
            return argmax(logits);
        }
        let mut ranked: Vec<Candidate> = logits
            .iter()
            .enumerate()
            .filter(|(_, l)| l.is_finite())
            .map(|(index, &logit)| Candidate { index, logit })
            .collect();
        if ranked.is_empty() {
            return Err(OpsError::NoFiniteValue {
                op: OP,
                what: "logits",
            });
        }
        let k = self.params.top_k;
        if k > 0 && k < ranked.len() {
            ranked.select_nth_unstable_by(k - 1, by_rank);
            ranked.truncate(k);
        }
        ranked.sort_unstable_by(by_rank);

        let inv_temperature = recip(self.params.temperature);
        let top = ranked[0].logit;
        let mut cumulative = Vec::with_capacity(ranked.len());
        let mut running = 0.0f32;
        for c in &ranked {
            running += exp((c.logit - top) * inv_temperature);
            cumulative.push(running);
        }
        let threshold = self.params.top_p * running;
        let kept = cumulative
            .iter()
            .position(|&c| c >= threshold)
            .map_or(cumulative.len(), |i| i + 1);
        let target = self.uniform() * cumulative[kept - 1];
        let pick = cumulative[..kept]
            .iter()
            .position(|&c| c > target)
            .unwrap_or(kept - 1);
        Ok(ranked[pick].index)
    }
}
