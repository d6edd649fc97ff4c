//! The same KV object on Vulkan (Mesa's llvmpipe in CI), byte for byte equal to the CPU.
//!
//! Without a Vulkan device the test prints `SKIPPED: <why>` and passes, unless
//! `FAK_REQUIRE_VULKAN` is set (`.ci/run` sets it), which makes a missing device a failure.

use std::sync::Arc;

use fak_backends::{Backend, CpuBackend, WgpuBackend};
use fak_kernel::kv::{KvStore, Session, SpanKind};

use crate::common::{assert_exact, meta, model_on, state, tokens, tool_result};

fn vulkan() -> Option<Arc<WgpuBackend>> {
    fak_backends::vulkan_for_tests().map(Arc::new)
}

/// A system prompt, a tool result across a block boundary, a user turn; a fork that
/// appends; the tool result excised from the original; a dump reloaded.
fn scenario<B: Backend>(store: &KvStore<B>, dump: &std::path::Path) -> Vec<Session<B>> {
    let mut s = store.session();
    s.append(&tokens(1, 28), meta(SpanKind::System)).unwrap();
    let tool = s.append(&tokens(2, 41), tool_result()).unwrap();
    s.append(&tokens(3, 9), meta(SpanKind::User)).unwrap();
    let mut fork = s.fork();
    fork.append(&tokens(4, 7), meta(SpanKind::Assistant))
        .unwrap();
    s.excise(tool).unwrap();
    s.dump(dump).unwrap();
    let mut loaded = store.load(dump).unwrap();
    loaded.append_untagged(&tokens(5, 3)).unwrap();
    vec![s, fork, loaded]
}

#[test]
fn kv_sessions_on_vulkan_are_exact_and_equal_the_cpu_byte_for_byte() {
    let Some(gpu) = vulkan() else { return };
    let dir = tempfile::tempdir().unwrap();
    let on_gpu = KvStore::new(model_on(gpu, "qwen3"), 16).unwrap();
    let on_cpu = KvStore::new(model_on(Arc::new(CpuBackend::new()), "qwen3"), 16).unwrap();
    let gpu_sessions = scenario(&on_gpu, &dir.path().join("gpu.fakkv"));
    let cpu_sessions = scenario(&on_cpu, &dir.path().join("cpu.fakkv"));
    for (g, c) in gpu_sessions.iter().zip(&cpu_sessions) {
        assert_exact(g);
        assert_eq!(state(g), state(c), "Vulkan and CPU differ");
    }
    // A dump written on the CPU continues on Vulkan: the bytes are the same everywhere.
    let mut moved = on_gpu.load(&dir.path().join("cpu.fakkv")).unwrap();
    moved.append_untagged(&tokens(5, 3)).unwrap();
    assert_eq!(state(&moved), state(&cpu_sessions[2]));
}
