//! KV gates: the kernel's KV cache object on one backend, every edit held to a run that
//! never made it (a cold prefill of the same tokens, or the uninterrupted session).

use std::path::Path;
use std::sync::Arc;

use fak_backends::Backend;
use fak_backends::parity::{BitComparison, Rng, bf16_as_f32_bits, compare_bits, f32_bits};
use fak_kernel::kv::{KvError, KvStore, Session, SpanKind, SpanMeta, SpanTrust};
use fak_models::Model;

use super::{GateError, KvGate, Measured};
use crate::on_backend::OnBackend;

/// The fixture the KV gates run on: GQA 4:1 and llama3 RoPE scaling, room for 2048
/// positions.
pub const KV_FIXTURE: &str = "llama3";
/// Positions the model is loaded for: more than any gate's session holds.
const CONTEXT: usize = 512;
/// Blocks in each gate's pool (32 positions each): every session, fork and copy fits.
const POOL_BLOCKS: usize = 64;

/// One KV gate on the fixture model in `dir`.
#[derive(Debug, Clone, Copy)]
pub struct KvRun<'a> {
    pub gate: KvGate,
    pub dir: &'a Path,
}

impl OnBackend for KvRun<'_> {
    type Output = Measured;
    type Error = GateError;
    fn run<B: Backend>(self, backend: Arc<B>) -> Result<Measured, GateError> {
        let model = Arc::new(Model::load(backend, self.dir, Some(CONTEXT))?);
        let g = Gates {
            vocab: model.config().vocab_size,
            model,
        };
        match self.gate {
            // Spans 0..20, 20..50 (crosses position 32), 50..100, 100..110 (the end).
            KvGate::ExciseStart => g.excise(&[20, 30, 50, 10], &[0]),
            KvGate::ExciseAcrossBlocks => g.excise(&[20, 30, 50, 10], &[1]),
            KvGate::ExciseEnd => g.excise(&[20, 30, 50, 10], &[3]),
            KvGate::ExciseTwice => g.excise(&[40, 25, 33, 12], &[1, 2]),
            KvGate::ForkAppend => g.fork_append(),
            KvGate::Chunked => g.split_prefill(&[31, 1, 40, 28]),
            KvGate::TokenByToken => g.split_prefill(&[1; 100]),
            KvGate::DumpLoadContinue => g.dump_load_continue(),
        }
    }
}

struct Gates<B: Backend> {
    model: Arc<Model<B>>,
    vocab: usize,
}

impl<B: Backend> Gates<B> {
    fn store(&self) -> Result<KvStore<B>, KvError> {
        KvStore::new(self.model.clone(), POOL_BLOCKS)
    }

    /// `n` token ids drawn from `seed`, inside the vocabulary.
    fn ids(&self, seed: u64, n: usize) -> Vec<u32> {
        Rng::new(seed).tokens(n, self.vocab)
    }

    /// A session of spans of `lengths` (odd ones untrusted tool results), the spans
    /// `cuts` excised in order; the result against a cold prefill of what is left.
    fn excise(&self, lengths: &[usize], cuts: &[usize]) -> Result<Measured, GateError> {
        let store = self.store()?;
        let mut s = store.session();
        let mut ids = Vec::new();
        for (i, &n) in lengths.iter().enumerate() {
            let meta = if i % 2 == 1 {
                SpanMeta::new(SpanKind::ToolResult, SpanTrust::Untrusted).with_source("web_fetch")
            } else {
                SpanMeta::new(SpanKind::User, SpanTrust::Trusted)
            };
            ids.push(s.append(&self.ids(i as u64, n), meta)?);
        }
        let mut expected = s.tokens().to_vec();
        for &cut in cuts {
            let id = ids[cut];
            let range = s
                .spans()
                .get(id)
                .ok_or(KvError::UnknownSpan(id))?
                .range
                .clone();
            expected.drain(range);
            s.excise(id)?;
        }
        let mut m = Measured::of(against_cold(&s)?);
        if s.tokens() != expected {
            m.problem = Some(
                "the tokens after the excision are not the session's minus the span".to_owned(),
            );
        }
        Ok(m)
    }

    /// One session forked twice, the forks appending two turns each, in turn, while both
    /// hold the shared blocks; the forks and the original against cold prefills.
    fn fork_append(&self) -> Result<Measured, GateError> {
        let store = self.store()?;
        let mut root = store.session();
        // 45 positions: one full block and a shared partial tail the forks must copy.
        root.append_untagged(&self.ids(100, 45))?;
        let mut forks = [root.fork(), root.fork()];
        for (turn, n) in [20, 13].into_iter().enumerate() {
            for (fork, s) in forks.iter_mut().enumerate() {
                s.append_untagged(&self.ids(101 + 10 * fork as u64 + turn as u64, n))?;
            }
        }
        let mut total = against_cold(&root)?;
        for s in &forks {
            total = total.merge(against_cold(s)?);
        }
        Ok(Measured::of(total))
    }

    /// 100 tokens sent in `chunks`, against the same tokens sent in one call (each in its
    /// own store, so nothing is shared between them).
    fn split_prefill(&self, chunks: &[usize]) -> Result<Measured, GateError> {
        let ids = self.ids(200, chunks.iter().sum());
        let one_shot = {
            let store = self.store()?;
            let mut s = store.session();
            s.append_untagged(&ids)?;
            state(&s)?
        };
        let store = self.store()?;
        let mut s = store.session();
        let mut at = 0;
        for &n in chunks {
            s.append_untagged(&ids[at..at + n])?;
            at += n;
        }
        Ok(Measured::of(compare_bits(&one_shot, &state(&s)?)))
    }

    /// A session dumped after three spans, loaded into a fresh store, and both continued
    /// by one more turn: the loaded one against the live one, at the load and after.
    fn dump_load_continue(&self) -> Result<Measured, GateError> {
        let dir = tempfile::tempdir().map_err(GateError::TempDir)?;
        let path = dir.path().join("session.fakkv");
        let store = self.store()?;
        let mut live = store.session();
        live.append(
            &self.ids(300, 45),
            SpanMeta::new(SpanKind::System, SpanTrust::Trusted),
        )?;
        live.append(
            &self.ids(301, 30),
            SpanMeta::new(SpanKind::ToolResult, SpanTrust::Untrusted),
        )?;
        live.append(
            &self.ids(302, 12),
            SpanMeta::new(SpanKind::User, SpanTrust::Trusted),
        )?;
        live.dump(&path)?;
        let fresh = self.store()?;
        let mut loaded = fresh.load(&path)?;
        let computed = loaded.last_edit().computed;
        let at_load = compare_bits(&state(&live)?, &state(&loaded)?);
        let turn = self.ids(303, 20);
        live.append_untagged(&turn)?;
        loaded.append_untagged(&turn)?;
        let after = compare_bits(&state(&live)?, &state(&loaded)?);
        let mut m = Measured::of(at_load.merge(after));
        if loaded.tokens() != live.tokens() {
            m.problem = Some("the loaded session holds other tokens than the live one".to_owned());
        } else if computed != 0 {
            m.problem = Some(format!(
                "the load computed {computed} positions; it must compute none"
            ));
        }
        Ok(m)
    }
}

/// `s` against a cold prefill of its own tokens ([`Session::verify`]): every KV value of
/// every layer and the last position's logits.
fn against_cold<B: Backend>(s: &Session<B>) -> Result<BitComparison, KvError> {
    let r = s.verify()?;
    let logits = s.logits().map_or(0, <[f32]>::len);
    Ok(BitComparison {
        values: r.kv_values + logits,
        differing: r.kv_differing + r.logits_differing,
        max_abs_delta: r.max_abs_delta_kv.max(r.max_abs_delta_logits),
        // verify() counts differences; it does not say where the first one is.
        first: None,
    })
}

/// Every layer's K and V rows (bf16, widened) and the last logits, as f32 bits.
fn state<B: Backend>(s: &Session<B>) -> Result<Vec<u32>, KvError> {
    let mut bits = Vec::new();
    for layer in 0..s.store().model().config().num_layers {
        let rows = s.kv_rows(layer)?;
        bits.extend(bf16_as_f32_bits(&rows.k).chain(bf16_as_f32_bits(&rows.v)));
    }
    bits.extend(f32_bits(s.logits().unwrap_or(&[])));
    Ok(bits)
}
