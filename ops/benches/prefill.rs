//! Prefill-shaped products: a 512-token prompt through the Qwen2.5-0.5B MLP projections.
//!
//! `tiled` is `fak_ops::matmul` (over prepared bf16 weights, the pair-lane kernel's 4 x 5
//! register tiles); `row_block` is `matmul_with::<Fused>`, the plain one-row kernel the
//! tiled one must match bit for bit (asserted once before timing). Both run on rayon's default pool, as a
//! prefill does.
//!
//! Run: `cargo bench -p fak-ops --bench prefill`

use std::hint::black_box;
use std::time::Duration;

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use fak_ops::{Fused, PreparedWeights, matmul, matmul_with};
use half::bf16;

/// Prompt length in tokens.
const TOKENS: usize = 512;
/// (in, out) feature counts: MLP gate/up (896 -> 4864) and down (4864 -> 896).
const SHAPES: [(usize, usize); 2] = [(896, 4864), (4864, 896)];

/// Deterministic pseudo-random values in [-1, 1) from a 32-bit LCG (no RNG dependency).
fn values(n: usize, seed: u32) -> impl Iterator<Item = f32> {
    let mut state = seed;
    (0..n).map(move |_| {
        state = state.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
        (state >> 8) as f32 / (1u32 << 23) as f32 - 1.0
    })
}

fn bench_prefill_matmul(c: &mut Criterion) {
    let mut group = c.benchmark_group("prefill_matmul_bf16");
    group
        .sample_size(10)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(3));
    for (cols, rows) in SHAPES {
        let w: Vec<bf16> = values(rows * cols, 7)
            .map(|v| bf16::from_f32(v * 0.05))
            .collect();
        let w = PreparedWeights::bf16(w, rows, cols).expect("bench shape is valid");
        let x: Vec<f32> = values(TOKENS * cols, 11).map(|v| v * 2.0).collect();
        let mut tiled = vec![0.0f32; TOKENS * rows];
        let mut plain = vec![0.0f32; TOKENS * rows];
        matmul(w.view(), &x, &mut tiled).expect("valid");
        matmul_with::<Fused>(w.view(), &x, &mut plain).expect("valid");
        assert!(
            tiled
                .iter()
                .zip(&plain)
                .all(|(a, b)| a.to_bits() == b.to_bits()),
            "tiled and row-block kernels must agree bit for bit"
        );
        let id = format!("{TOKENS}x{cols}x{rows}");
        group.throughput(Throughput::Elements(TOKENS as u64));
        group.bench_function(BenchmarkId::new("tiled", &id), |b| {
            b.iter(|| matmul(w.view(), black_box(&x), &mut tiled).expect("valid"))
        });
        group.bench_function(BenchmarkId::new("row_block", &id), |b| {
            b.iter(|| matmul_with::<Fused>(w.view(), black_box(&x), &mut plain).expect("valid"))
        });
    }
    group.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default().without_plots();
    targets = bench_prefill_matmul
}
criterion_main!(benches);
