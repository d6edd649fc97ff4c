//! Matrix products, RMSNorm, RoPE, SwiGLU, residual adds and embedding gather: the device
//! against the CPU reference over shape sweeps with odd sizes, sizes around the 32-lane
//! block, and edge values (±0, denormals, ±inf, NaN, out-of-domain magnitudes).

use fak_backends::{Backend, BackendError, BackendFn, HostBytes, HostMatrix, WeightDtype};
use fak_ops::{NormWeight, RmsNormParams, RopeLayout, RopeTable, inv_freq_from_base};
use half::{bf16, f16};

use crate::common::{Rng, assert_mostly_finite, bits, compare, vulkan};

/// Sizes below, at and above one 32-lane chunk, odd ones, and Qwen2.5-0.5B's hidden size.
const DIMS: [usize; 7] = [1, 7, 31, 32, 33, 97, 896];

/// A `rows x cols` matrix of `dtype`, values uniform in ±`scale`, with about one edge value
/// (or, for f16, one raw bit pattern) in `every`; `every = u64::MAX` gives none.
pub fn matrix(
    rng: &mut Rng,
    dtype: WeightDtype,
    rows: usize,
    cols: usize,
    scale: f32,
    every: u64,
) -> HostMatrix {
    let values = rng.values_with_edges(rows * cols, scale, every);
    let bytes: Vec<u8> = match dtype {
        WeightDtype::Bf16 => values
            .iter()
            .flat_map(|&v| bf16::from_f32(v).to_bits().to_le_bytes())
            .collect(),
        // Raw f16 patterns cover denormals, infinities and NaN payloads.
        WeightDtype::F16 => (0..rows * cols)
            .flat_map(|i| {
                let v = if rng.one_in(every) {
                    rng.next_u64() as u16
                } else {
                    f16::from_f32(values[i]).to_bits()
                };
                v.to_le_bytes()
            })
            .collect(),
        WeightDtype::F32 => bytemuck::cast_slice(&values).to_vec(),
    };
    HostMatrix::new(HostBytes::from_vec(bytes), dtype, rows, cols).unwrap()
}

#[derive(Clone)]
struct Matmul {
    w: HostMatrix,
    x: Vec<f32>,
}

impl BackendFn for Matmul {
    type Output = Result<Vec<u32>, BackendError>;
    fn run<B: Backend>(self, b: &B) -> Self::Output {
        let w = b.matrix(&self.w)?;
        let x = b.upload(&self.x)?;
        let mut out = b.zeros(self.x.len() / self.w.cols() * self.w.rows())?;
        b.matmul(&w, &x, &mut out)?;
        Ok(bits(&b.download(&out)?))
    }
}

#[test]
fn matmul_matches_cpu_for_every_weight_type_and_shape() {
    if vulkan().is_none() {
        return;
    }
    let mut rng = Rng::new(11);
    for dtype in [WeightDtype::Bf16, WeightDtype::F16, WeightDtype::F32] {
        let mut outputs = Vec::new();
        for cols in DIMS {
            for (rows, tokens) in [(1, 1), (9, 3), (33, 2)] {
                // About one edge value per eight rows and per eight tokens: most outputs
                // stay finite, some meet ±0, denormals, infinities and NaN.
                let every = 8 * cols as u64 + 32;
                let case = Matmul {
                    w: matrix(&mut rng, dtype, rows, cols, 2.0, every),
                    x: rng.values_with_edges(tokens * cols, 4.0, 4 * every),
                };
                let what = format!("matmul {dtype:?} {rows}x{cols}, {tokens} tokens");
                outputs.extend(compare(&what, case).unwrap_or_default());
            }
        }
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
}

#[test]
fn matmul_and_embed_over_a_matrix_split_into_bindings_match_cpu() {
    let Some(device) = vulkan() else { return };
    let mut rng = Rng::new(12);
    // A 4 KiB binding holds 62 rows of 33 bf16 values: 300 rows become 5 buffers.
    let small = device.with_binding_limit(4096);
    let w = matrix(&mut rng, WeightDtype::Bf16, 300, 33, 1.0, u64::MAX);
    assert_eq!(small.matrix(&w).unwrap().chunks(), 5);
    let x = rng.values(2 * 33, 3.0);
    let case = Matmul { w: w.clone(), x };
    let reference = case.clone().run(&crate::common::cpu()).unwrap();
    crate::common::assert_same_bits("chunked matmul", &reference, &case.run(&small).unwrap());

    let tokens = [0u32, 61, 62, 299, 124, 62];
    let embed = Embed {
        table: w,
        tokens: tokens.to_vec(),
    };
    let reference = embed.clone().run(&crate::common::cpu()).unwrap();
    crate::common::assert_same_bits("chunked embed", &reference, &embed.run(&small).unwrap());
}

#[derive(Clone)]
struct Embed {
    table: HostMatrix,
    tokens: Vec<u32>,
}

impl BackendFn for Embed {
    type Output = Result<Vec<u32>, BackendError>;
    fn run<B: Backend>(self, b: &B) -> Self::Output {
        let table = b.matrix(&self.table)?;
        let mut out = b.zeros(self.tokens.len() * self.table.cols())?;
        b.embed(&table, &self.tokens, &mut out)?;
        Ok(bits(&b.download(&out)?))
    }
}

#[test]
fn embed_matches_cpu_for_every_dtype() {
    if vulkan().is_none() {
        return;
    }
    let mut rng = Rng::new(13);
    for dtype in [WeightDtype::Bf16, WeightDtype::F16, WeightDtype::F32] {
        for dim in [1, 7, 896] {
            let case = Embed {
                table: matrix(&mut rng, dtype, 50, dim, 2.0, 10),
                tokens: vec![3, 49, 0, 3, 17],
            };
            compare(&format!("embed {dtype:?} dim {dim}"), case);
        }
    }
}

#[derive(Clone)]
struct Norm {
    x: Vec<f32>,
    weight: Vec<f32>,
    params: RmsNormParams,
}

impl BackendFn for Norm {
    type Output = Result<Vec<u32>, BackendError>;
    fn run<B: Backend>(self, b: &B) -> Self::Output {
        let x = b.upload(&self.x)?;
        let w = b.upload(&self.weight)?;
        let mut out = b.zeros(self.x.len())?;
        b.rms_norm(&x, &w, self.params, &mut out)?;
        Ok(bits(&b.download(&out)?))
    }
}

#[test]
fn rms_norm_matches_cpu_for_both_weight_styles() {
    if vulkan().is_none() {
        return;
    }
    let mut rng = Rng::new(14);
    for weight in [NormWeight::Scale, NormWeight::OnePlus] {
        for dim in DIMS {
            for (rows, eps) in [(1, 1.0e-6), (4, 0.0), (3, 1.0e-5)] {
                let mut x = rng.values_with_edges(rows * dim, 8.0, 60);
                // One row of zeros: rsqrt(eps) or +inf times zero.
                x[..dim].fill(0.0);
                let case = Norm {
                    x,
                    weight: rng.values_with_edges(dim, 1.5, 60),
                    params: RmsNormParams { eps, weight },
                };
                compare(&format!("rms_norm {weight:?} {rows}x{dim} eps {eps}"), case);
            }
        }
    }
}

/// Element-wise ops: the sum, the bias add and SwiGLU of the same inputs, concatenated.
#[derive(Clone)]
struct Elementwise {
    a: Vec<f32>,
    b: Vec<f32>,
    bias: Vec<f32>,
}

impl BackendFn for Elementwise {
    type Output = Result<Vec<u32>, BackendError>;
    fn run<B: Backend>(self, be: &B) -> Self::Output {
        let a = be.upload(&self.a)?;
        let b = be.upload(&self.b)?;
        let mut sum = be.upload(&self.a)?;
        be.add(&mut sum, &b)?;
        let mut biased = be.upload(&self.a)?;
        be.add_bias(&mut biased, &be.upload(&self.bias)?)?;
        let mut gated = be.zeros(self.a.len())?;
        be.swiglu(&a, &b, &mut gated)?;
        let tail = be.slice(&gated, self.a.len() / 2..self.a.len())?;
        let mut out = be.download(&sum)?;
        out.extend(be.download(&biased)?);
        out.extend(be.download(&gated)?);
        out.extend(be.download(&tail)?);
        Ok(bits(&out))
    }
}

#[test]
fn add_bias_swiglu_and_slice_match_cpu() {
    if vulkan().is_none() {
        return;
    }
    let mut rng = Rng::new(15);
    for (rows, dim) in [(1, 1), (1, 31), (3, 257), (2, 4864 + 3)] {
        let case = Elementwise {
            a: rng.values_with_edges(rows * dim, 30.0, 25),
            b: rng.values_with_edges(rows * dim, 30.0, 25),
            bias: rng.values_with_edges(dim, 3.0, 25),
        };
        compare(&format!("element-wise ops {rows}x{dim}"), case);
    }
}

#[derive(Clone)]
struct Rope {
    table: RopeTable,
    layout: RopeLayout,
    positions: Vec<u32>,
    x: Vec<f32>,
    n_heads: usize,
}

impl BackendFn for Rope {
    type Output = Result<Vec<u32>, BackendError>;
    fn run<B: Backend>(self, b: &B) -> Self::Output {
        let table = b.rope_table(&self.table)?;
        let mut x = b.upload(&self.x)?;
        b.rope(&table, self.layout, &self.positions, &mut x, self.n_heads)?;
        Ok(bits(&b.download(&x)?))
    }
}

#[test]
fn rope_matches_cpu_in_both_layouts() {
    if vulkan().is_none() {
        return;
    }
    let mut rng = Rng::new(16);
    for head_dim in [2, 6, 64] {
        let table = RopeTable::new(&inv_freq_from_base(1.0e6, head_dim).unwrap(), 4096).unwrap();
        for layout in [RopeLayout::RotateHalf, RopeLayout::Interleaved] {
            for (n_heads, positions) in [(1, vec![0u32]), (14, vec![5, 0, 4095, 33, 1000])] {
                let case = Rope {
                    table: table.clone(),
                    layout,
                    x: rng.values_with_edges(positions.len() * n_heads * head_dim, 6.0, 40),
                    positions,
                    n_heads,
                };
                compare(
                    &format!("rope {layout:?} head_dim {head_dim} x{n_heads}"),
                    case,
                );
            }
        }
    }
}
