//! Attention and GeGLU at Gemma 3 270M's shapes, the two largest parts of a prefill after
//! the quantized products: a layer's attention for a 512-token prompt (4 query heads on one
//! KV head, head size 256, a 512-key window) and for one decode step (a query at position
//! 511 against the same cache), and the MLP's GeGLU over 512 tokens x 2048.
//!
//! Everything runs on the bench thread alone (a one-thread rayon pool made of it, see
//! benches/matvec.rs), so the figures measure the kernels, not scheduling.
//!
//! Run: `cargo bench -p fak-ops --bench attention_glu`

use std::hint::black_box;
use std::time::Duration;

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use fak_ops::{AttentionConfig, KvView, attention, geglu};
use half::bf16;

/// Prompt tokens.
const TOKENS: usize = 512;
/// Gemma 3 270M's attention.
const CONFIG: AttentionConfig = AttentionConfig {
    n_heads: 4,
    n_kv_heads: 1,
    head_dim: 256,
    scale: 1.0 / 16.0,
    window: Some(512),
};
/// Its MLP's hidden size.
const HIDDEN: usize = 2048;

/// `n` values in [-r, r), spread by a multiplicative hash of the index and `seed`.
fn values(n: usize, seed: usize, r: f32) -> Vec<f32> {
    (0..n)
        .map(|i| ((i * 2_654_435_761 + seed) % 4096) as f32 / 2048.0 * r - r)
        .collect()
}

fn bench_attention_glu(c: &mut Criterion) {
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(1)
        .use_current_thread()
        .build()
        .expect("one-thread pool");
    let mut group = c.benchmark_group("gemma3_270m_layer");
    group
        .sample_size(10)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(3));

    let row = CONFIG.n_kv_heads * CONFIG.head_dim;
    let to_bf16 = |v: Vec<f32>| -> Vec<bf16> { v.into_iter().map(bf16::from_f32).collect() };
    let k = to_bf16(values(TOKENS * row, 1, 2.0));
    let v = to_bf16(values(TOKENS * row, 2, 1.0));
    let kv = KvView { k: &k, v: &v };
    let q_row = CONFIG.n_heads * CONFIG.head_dim;
    for (name, positions) in [
        ("prefill", (0..TOKENS as u32).collect::<Vec<_>>()),
        ("decode", vec![TOKENS as u32 - 1]),
    ] {
        let q = values(positions.len() * q_row, 3, 2.0);
        let mut out = vec![0.0f32; q.len()];
        group.throughput(Throughput::Elements(positions.len() as u64));
        group.bench_function(BenchmarkId::new("attention", name), |b| {
            b.iter(|| {
                pool.install(|| attention(&CONFIG, black_box(&q), &positions, kv, &mut out))
                    .expect("valid shapes")
            })
        });
    }

    let gate = values(TOKENS * HIDDEN, 4, 4.0);
    let up = values(TOKENS * HIDDEN, 5, 1.0);
    let mut out = vec![0.0f32; gate.len()];
    group.throughput(Throughput::Elements(gate.len() as u64));
    group.bench_function(BenchmarkId::new("geglu", "512x2048"), |b| {
        b.iter(|| {
            pool.install(|| geglu(black_box(&gate), &up, &mut out))
                .expect("valid shapes")
        })
    });
    group.finish();
}

criterion_group!(benches, bench_attention_glu);
criterion_main!(benches);
