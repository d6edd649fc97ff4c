//! Products over packed GGML blocks against the same weights dequantized to f32 (same bits,
//! DETERMINISM.md §3a), at Gemma 3 270M's shapes: the MLP gate/up projection (Q5_0, 640 in,
//! 2048 out), the MLP down projection (Q4_K, 2048 in, 640 out) and the tied output
//! projection (Q8_0, 640 in, 262144 out).
//! One token (a decode step's matvec) and 64 tokens (a prefill chunk's matmul). Three forms:
//! `prepared`, the blocks laid out once for the VNNI kernel (`PreparedBlocks`, as the CPU
//! backend holds a model's weights; only on CPUs with that kernel); `packed`, a plain view of
//! the blocks, which that kernel lays out on every call; `f32`, the dequantized values.
//!
//! Everything runs on the bench thread alone (a one-thread rayon pool made of it), so the
//! figures measure the kernels' arithmetic and memory traffic, not scheduling. The packed
//! form reads 34 (Q8_0), 22 (Q5_0) or 18 (Q4_K) bytes per 32 weights where f32 reads 128;
//! throughput is reported in weights per second so the two forms compare directly.
//!
//! Run: `cargo bench -p fak-ops --bench quantized`

use std::hint::black_box;
use std::time::Duration;

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use fak_ops::{
    BlockQ4K, BlockQ5_0, BlockQ8_0, PreparedBlocks, QUANT_BLOCK, QuantBlock, WeightView, matmul,
};

/// A 32-bit LCG: reproducible bytes without an RNG dependency.
struct Lcg(u32);

impl Lcg {
    fn byte(&mut self) -> u8 {
        self.0 = self.0.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
        (self.0 >> 24) as u8
    }

    /// In [-1, 1).
    fn unit(&mut self) -> f32 {
        f32::from(self.byte()) / 128.0 - 1.0
    }

    /// An f16 scale in [2^-9, 2^-6): the magnitude of trained weights' scales.
    fn scale(&mut self) -> [u8; 2] {
        (0x1800u16 + (u16::from(self.byte()) << 4)).to_le_bytes()
    }
}

fn q8_0(rng: &mut Lcg, n: usize) -> Vec<BlockQ8_0> {
    (0..n / QUANT_BLOCK)
        .map(|_| BlockQ8_0 {
            d: rng.scale(),
            qs: std::array::from_fn(|_| rng.byte() as i8),
        })
        .collect()
}

fn q5_0(rng: &mut Lcg, n: usize) -> Vec<BlockQ5_0> {
    (0..n / QUANT_BLOCK)
        .map(|_| BlockQ5_0 {
            d: rng.scale(),
            qh: std::array::from_fn(|_| rng.byte()),
            qs: std::array::from_fn(|_| rng.byte()),
        })
        .collect()
}

fn q4_k(rng: &mut Lcg, n: usize) -> Vec<BlockQ4K> {
    (0..n / (QUANT_BLOCK * BlockQ4K::CHUNKS))
        .map(|_| BlockQ4K {
            d: rng.scale(),
            dmin: rng.scale(),
            scales: std::array::from_fn(|_| rng.byte()),
            qs: std::array::from_fn(|_| rng.byte()),
        })
        .collect()
}

fn values<B: QuantBlock>(blocks: &[B]) -> Vec<f32> {
    blocks.iter().flat_map(|b| b.values()).collect()
}

/// The one-thread rayon pool every product runs in (see benches/matvec.rs).
fn bench_pool() -> rayon::ThreadPool {
    rayon::ThreadPoolBuilder::new()
        .num_threads(1)
        .use_current_thread()
        .build()
        .expect("one-thread pool")
}

/// Times `packed` against `f32_view` for each token count.
fn compare(
    c: &mut Criterion,
    pool: &rayon::ThreadPool,
    name: &str,
    packed: WeightView<'_>,
    f32_view: WeightView<'_>,
) {
    let (rows, cols) = (packed.rows(), packed.cols());
    let mut group = c.benchmark_group(name);
    group
        .sample_size(10)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2));
    let mut rng = Lcg(17);
    for tokens in [1usize, 64] {
        let x: Vec<f32> = (0..tokens * cols).map(|_| rng.unit() * 2.0).collect();
        let mut out = vec![0.0f32; tokens * rows];
        group.throughput(Throughput::Elements((rows * cols * tokens) as u64));
        let prepared = PreparedBlocks::new(packed);
        let laid_out = prepared
            .as_ref()
            .map(|p| packed.with_prepared_blocks(p).expect("laid out from it"));
        let forms = [
            ("packed", Some(packed)),
            ("prepared", laid_out),
            ("f32", Some(f32_view)),
        ];
        for (form, view) in forms.into_iter().filter_map(|(f, v)| Some((f, v?))) {
            group.bench_function(BenchmarkId::new(form, format!("{tokens} tokens")), |b| {
                b.iter(|| pool.install(|| matmul(view, black_box(&x), &mut out).expect("valid")))
            });
        }
    }
    group.finish();
}

fn bench_quantized(c: &mut Criterion) {
    let pool = bench_pool();
    let mut rng = Lcg(7);

    let (rows, cols) = (2048, 640);
    let blocks = q5_0(&mut rng, rows * cols);
    let dequantized = values(&blocks);
    compare(
        c,
        &pool,
        "q5_0_640x2048",
        WeightView::q5_0(&blocks, rows, cols).expect("bench shape"),
        WeightView::f32(&dequantized, rows, cols).expect("bench shape"),
    );

    let (rows, cols) = (640, 2048);
    let blocks = q4_k(&mut rng, rows * cols);
    let dequantized = values(&blocks);
    compare(
        c,
        &pool,
        "q4_k_2048x640",
        WeightView::q4_k(&blocks, rows, cols).expect("bench shape"),
        WeightView::f32(&dequantized, rows, cols).expect("bench shape"),
    );

    let (rows, cols) = (262_144, 640);
    let blocks = q8_0(&mut rng, rows * cols);
    let dequantized = values(&blocks);
    compare(
        c,
        &pool,
        "q8_0_640x262144",
        WeightView::q8_0(&blocks, rows, cols).expect("bench shape"),
        WeightView::f32(&dequantized, rows, cols).expect("bench shape"),
    );
}

criterion_group! {
    name = benches;
    config = Criterion::default().without_plots();
    targets = bench_quantized
}
criterion_main!(benches);
