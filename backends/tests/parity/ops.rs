//! Matrix products, RMSNorm, RoPE, SwiGLU, GeGLU, scaling, residual adds and embedding gather: the device
//! against the CPU reference over the sweeps of `fak_backends::parity` (odd sizes, sizes
//! around the 32-lane block, edge values: ±0, denormals, ±inf, NaN, out-of-domain
//! magnitudes), and over matrices split into several bindings.

use fak_backends::parity::{Embed, Matmul, OpSweep, Rng};
use fak_backends::{Backend, BackendFn, HostBytes, HostMatrix, WeightDtype};

use crate::common::{assert_mostly_finite, assert_same_bits, check_sweep, compare, cpu, vulkan};

#[test]
fn matmul_matches_cpu_for_every_weight_type_and_shape() {
    // The packed GGUF types reach the device as integer chunks and meet int8 activation
    // limbs (DETERMINISM.md §3b), on the CPU as on the device: both must give the same bits.
    for dtype in [
        WeightDtype::Bf16,
        WeightDtype::F16,
        WeightDtype::F32,
        WeightDtype::Q8_0,
        WeightDtype::Q5_0,
        WeightDtype::Q4K,
        WeightDtype::Q6K,
    ] {
        let Some(outputs) = check_sweep(OpSweep::Matmul(dtype)) else {
            return;
        };
        assert_mostly_finite(&format!("matmul {dtype:?} sweep"), &outputs);
    }
}

#[test]
fn matmul_over_a_row_with_only_negative_zeros_gives_positive_zero() {
    if vulkan().is_none() {
        return;
    }
    // Every product is -0.0: the lanes start at +0.0, so the CPU's sum is +0.0, and a
    // compiler that dropped the first `+ 0.0` would give -0.0.
    let cols = 40;
    let w = HostMatrix::from_f32(&vec![-0.0; 2 * cols], 2, cols).unwrap();
    let x = vec![1.0; cols];
    let reference = compare("matmul of negative zeros", Matmul { w, x }).unwrap();
    assert_eq!(reference, vec![0u32, 0u32]);

    // The same through the integer path: Q8_0 blocks with scale -0.0 (f16 0x8000) make
    // every product -0.0.
    let block: Vec<u8> = [0x00, 0x80].into_iter().chain(1..=32).collect();
    let bytes = HostBytes::from_vec(block.repeat(2 * 3));
    let w = HostMatrix::new(bytes, WeightDtype::Q8_0, 2, 96).unwrap();
    let x = vec![1.0; 96];
    let reference = compare("Q8_0 matmul of negative zeros", Matmul { w, x }).unwrap();
    assert_eq!(reference, vec![0u32, 0u32]);
}

#[test]
fn matmul_and_embed_over_a_matrix_split_into_bindings_match_cpu() {
    let Some(device) = vulkan() else { return };
    let mut rng = Rng::new(12);
    // A 4 KiB binding holds 62 rows of 33 bf16 values, and 11 rows of 256 Q4_K weights (8
    // integer chunks of 11 words), the most that leaves room for two tokens' activation limbs.
    for (dtype, rows, cols, per_buffer, buffers) in [
        (WeightDtype::Bf16, 300u32, 33, 62, 5),
        (WeightDtype::Q4K, 41, 256, 11, 4),
    ] {
        let small = device.with_binding_limit(4096);
        let w = rng
            .matrix(dtype, rows as usize, cols, 1.0, u64::MAX)
            .unwrap();
        assert_eq!(small.matrix(&w).unwrap().chunks(), buffers);
        let x = rng.values(2 * cols, 3.0);
        let case = Matmul { w: w.clone(), x };
        let reference = case.clone().run(&cpu()).unwrap();
        assert_same_bits(
            &format!("chunked {dtype:?} matmul"),
            &reference,
            &case.run(&small).unwrap(),
        );

        // Rows on both sides of the first cut, and the last row.
        let embed = Embed {
            table: w,
            tokens: vec![per_buffer - 1, 0, rows - 1, per_buffer],
        };
        let reference = embed.clone().run(&cpu()).unwrap();
        assert_same_bits(
            &format!("chunked {dtype:?} embed"),
            &reference,
            &embed.run(&small).unwrap(),
        );
    }
}

#[test]
fn embed_matches_cpu_for_every_dtype() {
    check_sweep(OpSweep::Embed);
}

#[test]
fn rms_norm_matches_cpu_for_both_weight_styles() {
    check_sweep(OpSweep::RmsNorm);
}

#[test]
fn add_bias_swiglu_slice_geglu_and_scale_match_cpu() {
    check_sweep(OpSweep::Elementwise);
}

#[test]
fn rope_matches_cpu_in_both_layouts() {
    check_sweep(OpSweep::Rope);
}
