//! Per-op throughput on every backend this build and machine have: the CPU reference and
//! each CubeCL device that opens (llvmpipe's Vulkan on the build machine).
//!
//! Shapes are Qwen2.5-0.5B's (hidden 896, MLP 4864, 14 query heads over 2 KV heads of 64);
//! the sliding window is Gemma 3's (512 keys).
//! Each iteration launches the op and reads its (small) output back, so a device's time
//! includes finishing the work, not just queueing it; the CPU backend does the same read
//! (a copy). Run: `cargo bench -p fak-backends --bench ops`.

use std::hint::black_box;
use std::time::Duration;

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use fak_backends::{
    AnyBackend, Backend, BackendFn, BackendKind, HostBytes, HostMatrix, KV_BLOCK_TOKENS, KvLayout,
    WeightDtype,
};
use fak_ops::{AttentionConfig, NormWeight, RmsNormParams};

const HIDDEN: usize = 896;
const MLP: usize = 4864;
const CONFIG: AttentionConfig = AttentionConfig {
    n_heads: 14,
    n_kv_heads: 2,
    head_dim: 64,
    scale: 0.125,
    window: None,
};

/// Deterministic values in [-1, 1).
fn values(n: usize, seed: u32) -> Vec<f32> {
    (0..n as u32)
        .map(|i| {
            let x = i
                .wrapping_mul(2_654_435_761)
                .wrapping_add(seed.wrapping_mul(40_503));
            (x >> 8) as f32 / (1u32 << 23) as f32 - 1.0
        })
        .collect()
}

fn bf16_matrix(rows: usize, cols: usize) -> HostMatrix {
    let bytes = values(rows * cols, 7)
        .iter()
        .flat_map(|&v| half::bf16::from_f32(v * 0.05).to_bits().to_le_bytes())
        .collect();
    HostMatrix::new(HostBytes::from_vec(bytes), WeightDtype::Bf16, rows, cols).unwrap()
}

/// A gated MLP activation of a backend (`Backend::swiglu` or `Backend::geglu`).
type GatedOp<B> = fn(
    &B,
    &<B as Backend>::Tensor,
    &<B as Backend>::Tensor,
    &mut <B as Backend>::Tensor,
) -> Result<(), fak_backends::BackendError>;

/// Registers every op's benchmark for one backend.
struct OpBenches<'a> {
    c: &'a mut Criterion,
    name: &'static str,
}

impl BackendFn for OpBenches<'_> {
    type Output = ();
    fn run<B: Backend>(self, b: &B) {
        let name = self.name;

        let mut group = self.c.benchmark_group("matmul_bf16_1token");
        for (rows, cols) in [(HIDDEN, HIDDEN), (MLP, HIDDEN), (HIDDEN, MLP)] {
            let w = b.matrix(&bf16_matrix(rows, cols)).unwrap();
            let x = b.upload(&values(cols, 1)).unwrap();
            let mut out = b.zeros(rows).unwrap();
            group.throughput(Throughput::Elements((rows * cols) as u64));
            group.bench_function(BenchmarkId::new(name, format!("{rows}x{cols}")), |bench| {
                bench.iter(|| {
                    b.matmul(&w, &x, &mut out).unwrap();
                    black_box(b.download(&out).unwrap())
                })
            });
        }
        group.finish();

        let mut group = self.c.benchmark_group("rms_norm");
        let weight = b.upload(&values(HIDDEN, 2)).unwrap();
        let params = RmsNormParams {
            eps: 1.0e-6,
            weight: NormWeight::Scale,
        };
        for tokens in [1, 64] {
            let x = b.upload(&values(tokens * HIDDEN, 3)).unwrap();
            let mut out = b.zeros(tokens * HIDDEN).unwrap();
            group.throughput(Throughput::Elements((tokens * HIDDEN) as u64));
            group.bench_function(
                BenchmarkId::new(name, format!("{tokens}x{HIDDEN}")),
                |bench| {
                    bench.iter(|| {
                        b.rms_norm(&x, &weight, params, &mut out).unwrap();
                        black_box(b.download(&out).unwrap())
                    })
                },
            );
        }
        group.finish();

        let mut group = self.c.benchmark_group("gated_mlp_activation");
        for tokens in [1, 64] {
            let gate = b.upload(&values(tokens * MLP, 8)).unwrap();
            let up = b.upload(&values(tokens * MLP, 9)).unwrap();
            let mut out = b.zeros(tokens * MLP).unwrap();
            group.throughput(Throughput::Elements((tokens * MLP) as u64));
            for (op, f) in [("swiglu", B::swiglu as GatedOp<B>), ("geglu", B::geglu)] {
                let id = BenchmarkId::new(format!("{name} {op}"), format!("{tokens}x{MLP}"));
                group.bench_function(id, |bench| {
                    bench.iter(|| {
                        f(b, &gate, &up, &mut out).unwrap();
                        black_box(b.download(&out).unwrap())
                    })
                });
            }
        }
        group.finish();

        // Gemma's embedding scale over a prompt's embeddings.
        let mut group = self.c.benchmark_group("scale");
        for tokens in [1, 512] {
            let mut x = b.upload(&values(tokens * HIDDEN, 10)).unwrap();
            group.throughput(Throughput::Elements((tokens * HIDDEN) as u64));
            group.bench_function(
                BenchmarkId::new(name, format!("{tokens}x{HIDDEN}")),
                |bench| {
                    bench.iter(|| {
                        // A factor of 1 keeps the values bounded over the iterations.
                        b.scale(&mut x, 1.0).unwrap();
                        black_box(b.download(&x).unwrap())
                    })
                },
            );
        }
        group.finish();

        // One decoding query at the end of a context of `ctx` keys; with a sliding window
        // of 512 keys (Gemma 3's local layers) it reads 512 of them, whatever the context.
        let mut group = self.c.benchmark_group("attention_decode");
        for (ctx, window) in [
            (128usize, None),
            (512, None),
            (2048, None),
            (2048, Some(512)),
        ] {
            let config = AttentionConfig { window, ..CONFIG };
            let blocks = ctx.div_ceil(KV_BLOCK_TOKENS);
            let layout = KvLayout {
                blocks,
                n_kv_heads: CONFIG.n_kv_heads,
                head_dim: CONFIG.head_dim,
            };
            let row = layout.row_len();
            let mut kv = b.kv_alloc(layout).unwrap();
            let slots: Vec<u32> = (0..ctx as u32).collect();
            let k = b.upload(&values(ctx * row, 4)).unwrap();
            let v = b.upload(&values(ctx * row, 5)).unwrap();
            b.kv_store(&mut kv, &slots, &k, &v).unwrap();
            let table: Vec<u32> = (0..blocks as u32).collect();
            let q = b
                .upload(&values(CONFIG.n_heads * CONFIG.head_dim, 6))
                .unwrap();
            let mut out = b.zeros(CONFIG.n_heads * CONFIG.head_dim).unwrap();
            let position = [ctx as u32 - 1];
            group.throughput(Throughput::Elements(ctx as u64));
            let id = match window {
                None => BenchmarkId::new(name, ctx),
                Some(w) => BenchmarkId::new(format!("{name} window {w}"), ctx),
            };
            group.bench_function(id, |bench| {
                bench.iter(|| {
                    b.attention(&config, &q, &position, &kv, &table, &mut out)
                        .unwrap();
                    black_box(b.download(&out).unwrap())
                })
            });
        }
        group.finish();
    }
}

fn benches(c: &mut Criterion) {
    for kind in BackendKind::compiled() {
        match AnyBackend::open(kind, 0) {
            Ok(backend) => {
                eprintln!("benchmarking {kind}: {}", backend.device().name);
                backend.run(OpBenches {
                    c,
                    name: kind.name(),
                });
            }
            Err(why) => eprintln!("SKIPPED {kind}: {why}"),
        }
    }
}

criterion_group! {
    name = ops;
    // Bounded: the whole run takes a few minutes even on llvmpipe.
    config = Criterion::default()
        .sample_size(10)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3));
    targets = benches
}
criterion_main!(ops);
