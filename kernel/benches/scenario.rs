//! The offline scenario end to end: both arms of each task (planner, tools, kernel with an
//! in-memory journal), and a whole recorded trace replayed through the syscall path.

use std::hint::black_box;
use std::path::Path;

use criterion::{Criterion, criterion_group, criterion_main};
use fak_kernel::scenario::replay::{Trace, replay};
use fak_kernel::scenario::{Task, run_offline};

const SUPPORT_ATTACKS: &str = include_str!("../../data/traces/support-attacks.json");

fn bench_scenario(c: &mut Criterion) {
    let base = Path::new("/");
    for task in Task::ALL {
        let policy = task.builtin_policy(base).expect("built-in policy compiles");
        c.bench_function(&format!("agent_offline/{}", task.name()), |b| {
            b.iter(|| black_box(run_offline(task, policy.clone())))
        });
    }
    let trace = Trace::parse(SUPPORT_ATTACKS, "support-attacks.json").expect("fixture parses");
    let policy = trace
        .policy("support-attacks.json", base)
        .expect("fixture policy compiles");
    c.bench_function("turntax/support_attacks_12_calls", |b| {
        b.iter(|| black_box(replay(&trace, policy.clone())))
    });
}

criterion_group!(benches, bench_scenario);
criterion_main!(benches);
