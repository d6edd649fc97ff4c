//! The KV cache as a kernel object, on the committed llama3 fixture model (CPU backend).
//!
//! - `kv_excise/excise/p=P`: cut a 64-token span at position P out of a 1024-token session,
//!   against `kv_excise/cold/p=P`, a cold prefill of the same edited 960 tokens. The
//!   excision computes only the 960 - P positions after the cut, so the cold/excise ratio
//!   should track (L - span) / (L - P - span).
//! - `kv_pool/fork_2048`: forking a 2048-token session (refcounts only, no row copied); the
//!   bytes per position and per block are printed first.
//!
//! The N-agents comparison is `harness fleet` (fak-harness).
//! Run: `cargo bench -p fak-kernel --bench kv`.

use std::hint::black_box;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};
use fak_backends::CpuBackend;
use fak_kernel::kv::{KvStore, SpanKind, SpanMeta, SpanTrust};
use fak_models::Model;

/// Positions the model is loaded for: the fixture's whole context.
const CONTEXT: usize = 2048;
const SPAN: usize = 64;
const EXCISE_LEN: usize = 1024;
const PREFIX: usize = 2048;

/// The committed llama3 fixture on the CPU backend.
fn model() -> Arc<Model<CpuBackend>> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../data/fixtures/models/llama3");
    Arc::new(Model::load(Arc::new(CpuBackend::new()), &dir, Some(CONTEXT)).expect("fixture loads"))
}

/// Deterministic token ids inside the fixture vocabulary.
fn tokens(seed: u32, n: usize) -> Vec<u32> {
    (0..n as u32)
        .map(|i| (seed.wrapping_mul(2654435761).wrapping_add(i * 40503)) % 500 + 3)
        .collect()
}

fn meta() -> SpanMeta {
    SpanMeta::new(SpanKind::User, SpanTrust::Trusted)
}

/// A store with room for the largest working set here (1024 blocks of 32 positions).
fn store(model: &Arc<Model<CpuBackend>>) -> KvStore<CpuBackend> {
    KvStore::new(model.clone(), 1024).expect("pool allocates")
}

fn bench_excise(c: &mut Criterion) {
    let model = model();
    let mut group = c.benchmark_group("kv_excise");
    group.sample_size(10);
    let all = tokens(1, EXCISE_LEN);
    for p in [0, 256, 512, 768, 896] {
        let edited: Vec<u32> = [&all[..p], &all[p + SPAN..]].concat();
        group.bench_with_input(BenchmarkId::new("excise", format!("p={p}")), &p, |b, &p| {
            b.iter_custom(|iters| {
                let mut total = Duration::ZERO;
                for _ in 0..iters {
                    let store = store(&model);
                    let mut s = store.session();
                    if p > 0 {
                        s.append(&all[..p], meta()).unwrap();
                    }
                    let span = s.append(&all[p..p + SPAN], meta()).unwrap();
                    s.append(&all[p + SPAN..], meta()).unwrap();
                    let started = Instant::now();
                    black_box(s.excise(span).unwrap());
                    total += started.elapsed();
                }
                total
            })
        });
        group.bench_with_input(BenchmarkId::new("cold", format!("p={p}")), &p, |b, _| {
            b.iter_custom(|iters| {
                let mut total = Duration::ZERO;
                for _ in 0..iters {
                    let store = store(&model);
                    let mut s = store.session();
                    let started = Instant::now();
                    s.append_untagged(&edited).unwrap();
                    total += started.elapsed();
                    black_box(s.logits());
                }
                total
            })
        });
    }
    group.finish();
}

fn bench_pool(c: &mut Criterion) {
    let model = model();
    let store = store(&model);
    let stats = store.stats();
    println!(
        "kv_pool: {} bytes of K and V per position; {} blocks of {} bytes",
        store.bytes_per_token(),
        stats.capacity,
        stats.block_bytes
    );
    let mut root = store.session();
    root.append(&tokens(3, PREFIX), meta()).unwrap();
    c.bench_function("kv_pool/fork_2048", |b| b.iter(|| black_box(root.fork())));
}

criterion_group!(benches, bench_excise, bench_pool);
criterion_main!(benches);
