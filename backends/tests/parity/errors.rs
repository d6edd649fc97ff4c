//! Bad input is refused the same way on every backend: the device checks on the host what
//! the CPU reference refuses, with the same error, before any kernel runs.

use fak_backends::{Backend, BackendError, BackendFn, HostMatrix, KvLayout, KvRows};
use fak_ops::{
    AttentionConfig, NormWeight, RmsNormParams, RopeLayout, RopeTable, inv_freq_from_base,
};

use crate::common::{cpu, vulkan};

/// Every bad call below, each as its error message (or "ok").
#[derive(Clone, Copy)]
struct BadCalls;

fn outcome(r: Result<(), BackendError>) -> String {
    r.map_or_else(|e| e.to_string(), |()| "ok".to_owned())
}

impl BackendFn for BadCalls {
    type Output = Vec<String>;
    fn run<B: Backend>(self, b: &B) -> Self::Output {
        let t = |n: usize| b.zeros(n).unwrap();
        let w = b
            .matrix(&HostMatrix::from_f32(&[1.0; 12], 3, 4).unwrap())
            .unwrap();
        let rope = b
            .rope_table(&RopeTable::new(&inv_freq_from_base(1.0e4, 4).unwrap(), 8).unwrap())
            .unwrap();
        let layout = KvLayout {
            blocks: 1,
            n_kv_heads: 1,
            head_dim: 4,
        };
        let mut kv = b.kv_alloc(layout).unwrap();
        let config = AttentionConfig {
            n_heads: 2,
            n_kv_heads: 1,
            head_dim: 4,
            scale: 0.5,
            window: None,
        };
        let norm = RmsNormParams {
            eps: 1.0e-6,
            weight: NormWeight::Scale,
        };
        let mut calls = vec![
            outcome(b.matmul(&w, &t(5), &mut t(3))),
            outcome(b.matmul(&w, &t(8), &mut t(5))),
            outcome(b.embed(&w, &[3], &mut t(4))),
            outcome(b.embed(&w, &[], &mut t(0))),
            outcome(b.rms_norm(&t(6), &t(4), norm, &mut t(6))),
            outcome(b.rms_norm(&t(4), &t(4), RmsNormParams { eps: -1.0, ..norm }, &mut t(4))),
            outcome(b.add(&mut t(3), &t(4))),
            outcome(b.add_bias(&mut t(10), &t(4))),
            outcome(b.swiglu(&t(3), &t(3), &mut t(2))),
            outcome(b.geglu(&t(3), &t(4), &mut t(3))),
            outcome(b.geglu(&t(0), &t(0), &mut t(0))),
            outcome(b.scale(&mut t(3), f32::NAN)),
            outcome(b.scale(&mut t(0), 2.0)),
            outcome(b.rope(&rope, RopeLayout::RotateHalf, &[8], &mut t(4), 1)),
            outcome(b.rope(&rope, RopeLayout::Interleaved, &[1], &mut t(5), 1)),
            outcome(b.kv_store(&mut kv, &[32], &t(4), &t(4))),
            outcome(b.kv_store(&mut kv, &[0], &t(3), &t(4))),
            outcome(b.attention(&config, &t(8), &[40], &kv, &[0], &mut t(8))),
            outcome(b.attention(&config, &t(7), &[0], &kv, &[0], &mut t(7))),
            outcome(b.kv_copy(&mut kv, &[(0, 1), (2, 99)])),
            outcome(b.kv_read(&kv, &[32]).map(drop)),
            outcome(b.kv_write(
                &mut kv,
                &[0],
                &KvRows {
                    k: vec![0; 3],
                    v: vec![0; 4],
                },
            )),
            outcome(b.slice(&t(4), 2..5).map(drop)),
        ];
        // Configs the pool's layout or attention itself refuses: KV heads that differ from
        // the pool's, a window of no keys.
        let bad_configs = [
            AttentionConfig {
                n_kv_heads: 2,
                ..config
            },
            AttentionConfig {
                window: Some(0),
                ..config
            },
        ];
        calls.extend(
            bad_configs
                .iter()
                .map(|c| outcome(b.attention(c, &t(8), &[0], &kv, &[0], &mut t(8)))),
        );
        calls
    }
}

#[test]
fn bad_calls_are_refused_with_the_same_errors_as_the_cpu() {
    let Some(device) = vulkan() else { return };
    let reference = BadCalls.run(&cpu());
    let got = BadCalls.run(device);
    for (i, (r, g)) in reference.iter().zip(&got).enumerate() {
        assert_ne!(r, "ok", "bad call {i} was accepted by the cpu");
        assert_eq!(r, g, "bad call {i}");
    }
}
