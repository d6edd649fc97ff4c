//! The whole syscall path for a read: answered by the vDSO (hit) and dispatched to an
//! in-memory tool (miss). The journal is the discarding kind (hash chain, no I/O).

use std::hint::black_box;
use std::path::Path;

use criterion::{Criterion, criterion_group, criterion_main};
use fak_kernel::{InMemoryRegistry, Kernel, Policy, RawCall, ToolDescriptor};
use serde_json::json;

fn bench_syscall(c: &mut Criterion) {
    let policy = Policy::parse(
        r#"{"allow": ["lookup"], "vdso": {"max_entries": 1024}}"#,
        "bench",
        Path::new("/work"),
    )
    .expect("bench policy compiles");
    let kernel = Kernel::builder(policy).build();
    let mut registry = InMemoryRegistry::new();
    registry.register(
        ToolDescriptor::new(
            "lookup",
            json!({"type": "object", "properties": {"customer": {"type": "string"}}, "required": ["customer"]}),
        )
        .pure_read(),
        |args| Ok(format!("{{\"customer\": {}, \"tier\": \"gold\", \"flights\": 3}}", args["customer"])),
    );
    let hit = RawCall::text("lookup", r#"{"customer": "mia_li_3668"}"#);
    kernel.syscall(&registry, "bench", &hit, None);
    c.bench_function("syscall/vdso_hit", |b| {
        b.iter(|| black_box(kernel.syscall(&registry, "bench", black_box(&hit), None)))
    });
    let misses: Vec<RawCall> = (0..4096)
        .map(|i| RawCall::text("lookup", format!(r#"{{"customer": "c{i}"}}"#)))
        .collect();
    let mut i = 0usize;
    c.bench_function("syscall/vdso_miss_dispatch", |b| {
        b.iter(|| {
            // Each call is new to the cache; advancing the world drops old answers so the
            // cache never serves one of these.
            i = (i + 1) % misses.len();
            if i == 0 {
                kernel.advance_world();
            }
            black_box(kernel.syscall(&registry, "bench", &misses[i], None))
        })
    });
}

criterion_group!(benches, bench_syscall);
criterion_main!(benches);
