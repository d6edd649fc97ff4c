//! Admission throughput in bytes per second over the test corpus: benign look-alikes and
//! hostile payloads (every obfuscation), plus one large benign JSON result.

use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use fak_kernel::admission::{ScreenLimits, screen};

#[path = "../tests/corpus/mod.rs"]
mod corpus;

const LIMITS: ScreenLimits = ScreenLimits {
    max_result_bytes: 4 << 20,
    page_out_bytes: 16 << 10,
};

fn bench_group(c: &mut Criterion, name: &str, samples: &[String]) {
    let bytes: usize = samples.iter().map(String::len).sum();
    let mut g = c.benchmark_group("admission");
    g.throughput(Throughput::Bytes(bytes as u64));
    g.bench_function(name, |b| {
        b.iter(|| {
            for s in samples {
                black_box(screen(black_box(s), LIMITS, true));
            }
        })
    });
    g.finish();
}

fn bench_admission(c: &mut Criterion) {
    let benign: Vec<String> = corpus::benign::all().into_iter().map(|(_, t)| t).collect();
    let hostile: Vec<String> = corpus::payloads::BASES
        .iter()
        .flat_map(|p| {
            corpus::payloads::OBFUSCATIONS
                .iter()
                .map(move |(_, f)| f(p))
        })
        .collect();
    let large: String = serde_json::to_string(
        &(0..1500)
            .map(|i| {
                let tier = if i % 2 == 0 { "gold" } else { "silver" };
                serde_json::json!({"id": i, "name": format!("customer {i}"), "tier": tier, "balance_usd": i * 13 % 997})
            })
            .collect::<Vec<_>>(),
    )
    .expect("large sample serializes");
    bench_group(c, "benign_corpus", &benign);
    bench_group(c, "hostile_corpus", &hostile);
    bench_group(c, "benign_large_json", &[large]);
}

criterion_group!(benches, bench_admission);
criterion_main!(benches);
