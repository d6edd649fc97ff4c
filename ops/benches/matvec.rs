//! The price of the determinism contract: `fak_ops::matvec` against plain f32 dot products
//! over the same bf16 weights and activations, at the Qwen2.5-0.5B projection shapes.
//!
//! Three variants per shape, all on the bench thread alone (a one-thread rayon pool made of
//! it), so the figures measure arithmetic and memory traffic, not scheduling:
//! - `deterministic`: `fak_ops::matvec` over a plain view (bf16 rounding and clamping of x,
//!   per-element weight clamping, the canonical order in pair lanes, canonical output).
//! - `deterministic_prepared`: the same over `PreparedWeights` (weights clamped once at
//!   load, same bits), the path a model that owns its weights takes.
//! - `plain_serial`: one running f32 sum per row, the textbook loop. Rust may not reorder
//!   it, so it runs as a scalar dependency chain.
//! - `plain_lanes`: 32 independent f32 accumulators summed at the end, no rounding or
//!   clamping, compiled with the same SIMD dispatch as the deterministic kernel: the
//!   fastest plain loop, and the fair baseline for the ratio.
//!
//! Before the criterion groups, the bench prints the ratios from an interleaved
//! measurement: rounds that time each variant in turn, keeping each variant's fastest
//! round. On a shared machine, load that comes and goes shifts criterion's per-variant
//! means against each other; the interleaved minima are what the ratios are quoted from.
//!
//! Run: `CARGO_TARGET_DIR=target-ops cargo bench -p fak-ops --bench matvec`

use std::hint::black_box;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group};
use fak_ops::{PreparedWeights, WeightView, matvec};
use half::bf16;
use multiversion::multiversion;

/// (in, out) feature counts of the Qwen2.5-0.5B projections: attention q/o (896 -> 896),
/// MLP gate/up (896 -> 4864), MLP down (4864 -> 896), LM head (896 -> 151936).
const SHAPES: [(usize, usize); 4] = [(896, 896), (896, 4864), (4864, 896), (896, 151_936)];
const LANES: usize = 32;

/// Deterministic pseudo-random values in [-1, 1) from a 32-bit LCG (no RNG dependency).
fn values(n: usize, seed: u32) -> impl Iterator<Item = f32> {
    let mut state = seed;
    (0..n).map(move |_| {
        state = state.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
        (state >> 8) as f32 / (1u32 << 23) as f32 - 1.0
    })
}

/// The weights of one shape, prepared (every value is inside the factor domain, so
/// preparing changes no byte), and an activation vector. Every variant reads these same
/// weight bytes, so no variant gains from where its copy happens to sit in memory.
fn inputs(rows: usize, cols: usize) -> (PreparedWeights, Vec<f32>) {
    let w: Vec<bf16> = values(rows * cols, 7)
        .map(|v| bf16::from_f32(v * 0.05))
        .collect();
    let x: Vec<f32> = values(cols, 11).map(|v| v * 2.0).collect();
    (
        PreparedWeights::bf16(w, rows, cols).expect("bench shape is valid"),
        x,
    )
}

fn widen(w: bf16) -> f32 {
    f32::from_bits(u32::from(w.to_bits()) << 16)
}

fn plain_serial(w: &[bf16], cols: usize, x: &[f32], out: &mut [f32]) {
    for (o, row) in out.iter_mut().zip(w.chunks_exact(cols)) {
        *o = row.iter().zip(x).map(|(&w, &x)| widen(w) * x).sum();
    }
}

#[multiversion(targets(
    "x86_64+avx512f+avx512bw+avx512vl+avx2+fma+f16c",
    "x86_64+avx2+fma+f16c",
    "aarch64+neon"
))]
fn plain_lanes(w: &[bf16], cols: usize, x: &[f32], out: &mut [f32]) {
    for (o, row) in out.iter_mut().zip(w.chunks_exact(cols)) {
        let mut acc = [0.0f32; LANES];
        let mut chunks = row.chunks_exact(LANES);
        for (c, wc) in (&mut chunks).enumerate() {
            let xc = &x[c * LANES..][..LANES];
            for j in 0..LANES {
                acc[j] += widen(wc[j]) * xc[j];
            }
        }
        let tail = cols - chunks.remainder().len();
        for (j, &w) in chunks.remainder().iter().enumerate() {
            acc[j] += widen(w) * x[tail + j];
        }
        *o = acc.iter().sum();
    }
}

/// The one-thread rayon pool every variant runs in. Its worker is the bench thread itself,
/// so `install` runs inline: no hand-off to another thread is timed, just as the plain
/// loops run inline. A thread can join only one pool, hence one pool for the whole run.
fn bench_pool() -> &'static rayon::ThreadPool {
    static POOL: OnceLock<rayon::ThreadPool> = OnceLock::new();
    POOL.get_or_init(|| {
        rayon::ThreadPoolBuilder::new()
            .num_threads(1)
            .use_current_thread()
            .build()
            .expect("one-thread pool")
    })
}

fn bench_matvec(c: &mut Criterion) {
    let pool = bench_pool();
    let mut group = c.benchmark_group("matvec_bf16");
    group
        .sample_size(10)
        .warm_up_time(Duration::from_millis(300))
        .measurement_time(Duration::from_secs(1));
    for (cols, rows) in SHAPES {
        let (prepared, x) = inputs(rows, cols);
        let w = prepared.data();
        let mut out = vec![0.0f32; rows];
        let view = WeightView::bf16(w, rows, cols).expect("bench shape is valid");
        let id = format!("{cols}x{rows}");
        group.throughput(Throughput::Bytes((rows * cols * 2) as u64));
        group.bench_function(BenchmarkId::new("deterministic", &id), |b| {
            b.iter(|| pool.install(|| matvec(view, black_box(&x), &mut out).expect("valid")))
        });
        group.bench_function(BenchmarkId::new("deterministic_prepared", &id), |b| {
            b.iter(|| {
                pool.install(|| matvec(prepared.view(), black_box(&x), &mut out).expect("valid"))
            })
        });
        group.bench_function(BenchmarkId::new("plain_lanes", &id), |b| {
            b.iter(|| plain_lanes(black_box(w), cols, black_box(&x), &mut out))
        });
        group.bench_function(BenchmarkId::new("plain_serial", &id), |b| {
            b.iter(|| plain_serial(black_box(w), cols, black_box(&x), &mut out))
        });
    }
    group.finish();
}

/// Rounds of the interleaved measurement, and the matvec calls timed per variant per round.
const ROUNDS: usize = 10;
const CALLS_PER_ROUND: usize = 2;

/// The fastest round of each variant, in microseconds per matvec, rounds interleaved.
fn interleaved_minima(variants: &mut [&mut dyn FnMut()]) -> Vec<f64> {
    let mut best = vec![f64::INFINITY; variants.len()];
    for _ in 0..ROUNDS {
        for (v, b) in variants.iter_mut().zip(best.iter_mut()) {
            let start = Instant::now();
            for _ in 0..CALLS_PER_ROUND {
                v();
            }
            *b = b.min(start.elapsed().as_secs_f64() * 1e6 / CALLS_PER_ROUND as f64);
        }
    }
    best
}

fn print_interleaved_ratios() {
    let pool = bench_pool();
    println!("interleaved minima, one thread (us per matvec; ratio = x / plain_lanes)");
    println!(
        "shape (in x out) | deterministic | prepared | plain_lanes | plain_serial | det ratio | prepared ratio"
    );
    for (cols, rows) in SHAPES {
        let (prepared, x) = inputs(rows, cols);
        let w = prepared.data();
        let mut out = vec![0.0f32; rows];
        let view = WeightView::bf16(w, rows, cols).expect("bench shape is valid");
        let t = pool.install(|| {
            let mut out2 = out.clone();
            let mut out3 = out.clone();
            let mut out4 = out.clone();
            interleaved_minima(&mut [
                &mut || matvec(view, black_box(&x), &mut out).expect("valid"),
                &mut || matvec(prepared.view(), black_box(&x), &mut out2).expect("valid"),
                &mut || plain_lanes(black_box(w), cols, black_box(&x), &mut out3),
                &mut || plain_serial(black_box(w), cols, black_box(&x), &mut out4),
            ])
        });
        println!(
            "{cols}x{rows} | {:.1} | {:.1} | {:.1} | {:.1} | {:.2} | {:.2}",
            t[0],
            t[1],
            t[2],
            t[3],
            t[0] / t[2],
            t[1] / t[2]
        );
    }
}

criterion_group! {
    name = benches;
    // No plots: they double the run time and the ratios are what the bench is for.
    config = Criterion::default().without_plots();
    targets = bench_matvec
}

fn main() {
    print_interleaved_ratios();
    benches();
    Criterion::default().configure_from_args().final_summary();
}
