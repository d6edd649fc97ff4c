//! Fixture models and helpers the KV tests share.

use std::path::PathBuf;
use std::sync::Arc;

use fak_backends::{Backend, CpuBackend};
use fak_kernel::kv::{KvStore, Session, SpanKind, SpanMeta, SpanTrust};
use fak_models::Model;

pub fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../data/fixtures/models")
        .join(name)
}

/// A fixture model on `backend`, loaded for 512 positions.
pub fn model_on<B: Backend>(backend: Arc<B>, name: &str) -> Arc<Model<B>> {
    Arc::new(Model::load(backend, &fixture(name), Some(512)).unwrap())
}

/// A store of `blocks` blocks over the llama3 fixture on the CPU.
pub fn cpu_store(blocks: usize) -> KvStore<CpuBackend> {
    KvStore::new(model_on(Arc::new(CpuBackend::new()), "llama3"), blocks).unwrap()
}

pub fn meta(kind: SpanKind) -> SpanMeta {
    SpanMeta::new(kind, SpanTrust::Trusted)
}

/// A tool result the kernel does not trust.
pub fn tool_result() -> SpanMeta {
    SpanMeta::new(SpanKind::ToolResult, SpanTrust::Untrusted).with_source("web_fetch")
}

/// Deterministic token ids inside every fixture vocabulary (512 and up).
pub fn tokens(seed: u32, n: usize) -> Vec<u32> {
    (0..n as u32)
        .map(|i| (seed.wrapping_mul(2654435761).wrapping_add(i * 40503)) % 500 + 3)
        .collect()
}

/// Asserts that `session` equals a cold prefill of its own tokens, byte for byte.
pub fn assert_exact<B: Backend>(session: &Session<B>) {
    let report = session.verify().unwrap();
    assert!(
        report.exact(),
        "not exact against a cold run: {report:?} (tokens {:?})",
        session.tokens()
    );
    assert_eq!(report.max_abs_delta_kv, 0.0);
    assert_eq!(report.max_abs_delta_logits, 0.0);
    assert_eq!(report.tokens, session.len());
}

/// Every layer's rows and the logits, as bits.
pub fn state<B: Backend>(session: &Session<B>) -> (Vec<fak_backends::KvRows>, Vec<u32>) {
    let layers = session.store().model().config().num_layers;
    let rows = (0..layers).map(|l| session.kv_rows(l).unwrap()).collect();
    let logits = session
        .logits()
        .map(|l| l.iter().map(|x| x.to_bits()).collect())
        .unwrap_or_default();
    (rows, logits)
}
