//! Model gates: a whole fixture model on a device against the same model on the CPU.

use std::path::Path;
use std::sync::Arc;

use fak_backends::parity::{BitComparison, Rng, bf16_as_f32_bits, compare_bits, f32_bits};
use fak_backends::{Backend, CpuBackend};
use fak_models::{Activations, KvCache, Logits, Model, SequenceKv};

use super::GateError;
use crate::on_backend::OnBackend;

/// Tokens prefilled: three KV blocks, so attention crosses block boundaries at 32 and 64.
const TOKENS: usize = 80;

/// The fixture model in `dir` on the device and on the CPU.
#[derive(Debug, Clone, Copy)]
pub struct ModelRun<'a> {
    pub dir: &'a Path,
}

impl OnBackend for ModelRun<'_> {
    type Output = BitComparison;
    type Error = GateError;
    fn run<B: Backend>(self, device: Arc<B>) -> Result<BitComparison, GateError> {
        let reference = prefill(Arc::new(CpuBackend::new()), self.dir)?;
        Ok(compare_bits(&reference, &prefill(device, self.dir)?))
    }
}

/// The logits of every position of a seeded prompt, then every layer's K and V rows, as
/// f32 bits.
fn prefill<B: Backend>(backend: Arc<B>, dir: &Path) -> Result<Vec<u32>, GateError> {
    let model = Model::load(backend, dir, Some(TOKENS))?;
    let ids = Rng::new(400).tokens(TOKENS, model.config().vocab_size);
    let b = &**model.backend();
    let mut kv = SequenceKv::new(b, model.config(), TOKENS)?;
    let logits = model.forward(&mut Activations::new(), &mut kv, &ids, Logits::All)?;
    let mut bits = f32_bits(&logits);
    let slots = kv.slots(0..kv.len()).unwrap_or_default();
    for pool in (0..).map_while(|layer| kv.pool(layer)) {
        let rows = b.kv_read(pool, &slots)?;
        bits.extend(bf16_as_f32_bits(&rows.k).chain(bf16_as_f32_bits(&rows.v)));
    }
    Ok(bits)
}
