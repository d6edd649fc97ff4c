//! Backend parity: the fixture forward on Vulkan (CubeCL over wgpu; Mesa's llvmpipe in CI)
//! gives the CPU's logits and KV bytes, bit for bit, on every fixture architecture.
//!
//! Without a Vulkan device the test prints `SKIPPED: <why>` and passes, unless
//! `FAK_REQUIRE_VULKAN` is set (`.ci/run` sets it), which makes a missing device a failure.

mod common;

use std::sync::Arc;

use fak_backends::{Backend, KvRows, WgpuBackend};
use fak_models::{Activations, KvCache, Logits, Model, SequenceKv};

use common::{FIXTURES, fixture_dir, load, reference};

fn vulkan() -> Option<Arc<WgpuBackend>> {
    fak_backends::vulkan_for_tests().map(Arc::new)
}

/// Logits (as bits) of `ids` sent as a 40-token prefill chunk, the rest but three tokens,
/// then three one-token decode steps; and every layer's KV rows afterwards.
fn run<B: Backend>(model: &Model<B>, ids: &[u32]) -> (Vec<u32>, Vec<KvRows>) {
    let mut kv = SequenceKv::new(&**model.backend(), model.config(), ids.len()).unwrap();
    let mut activations = Activations::new();
    let (head, rest) = ids.split_at(40);
    let (middle, tail) = rest.split_at(rest.len() - 3);
    let mut logits = Vec::new();
    for chunk in [head, middle].into_iter().chain(tail.chunks(1)) {
        logits.extend(
            model
                .forward(&mut activations, &mut kv, chunk, Logits::All)
                .unwrap(),
        );
    }
    let slots = kv.slots(0..kv.len()).unwrap();
    let rows = (0..model.config().num_layers)
        .map(|layer| {
            model
                .backend()
                .kv_read(kv.pool(layer).unwrap(), &slots)
                .unwrap()
        })
        .collect();
    (logits.iter().map(|v| v.to_bits()).collect(), rows)
}

#[test]
fn every_fixture_forward_on_vulkan_gives_the_cpu_logits_and_kv_bit_for_bit() {
    let Some(gpu) = vulkan() else { return };
    for name in FIXTURES {
        let ids = &reference(name).sequences[0].ids;
        let on_gpu = Model::load(gpu.clone(), &fixture_dir(name), None).unwrap();
        let (gpu_logits, gpu_kv) = run(&on_gpu, ids);
        let (cpu_logits, cpu_kv) = run(&load(name), ids);
        let differing = gpu_logits
            .iter()
            .zip(&cpu_logits)
            .filter(|(a, b)| a != b)
            .count();
        assert_eq!(
            differing,
            0,
            "{name}: {differing} of {} logits differ between vulkan and cpu",
            cpu_logits.len()
        );
        assert!(
            gpu_kv == cpu_kv,
            "{name}: KV bytes differ between vulkan and cpu"
        );
    }
}
