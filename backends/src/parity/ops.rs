//! One case of each dense op, runnable on any backend: its inputs, and the op's output as
//! f32 bits.

use fak_ops::{RmsNormParams, RopeLayout, RopeTable};

use super::f32_bits;
use crate::{Backend, BackendError, BackendFn, HostMatrix};

/// `out = x · wᵀ` for every token row of `x`.
#[derive(Debug, Clone)]
pub struct Matmul {
    pub w: HostMatrix,
    pub x: Vec<f32>,
}

impl BackendFn for Matmul {
    type Output = Result<Vec<u32>, BackendError>;
    fn run<B: Backend>(self, b: &B) -> Self::Output {
        let w = b.matrix(&self.w)?;
        let x = b.upload(&self.x)?;
        let mut out = b.zeros(self.x.len() / self.w.cols() * self.w.rows())?;
        b.matmul(&w, &x, &mut out)?;
        Ok(f32_bits(&b.download(&out)?))
    }
}

/// The rows of `table` named by `tokens`.
#[derive(Debug, Clone)]
pub struct Embed {
    pub table: HostMatrix,
    pub tokens: Vec<u32>,
}

impl BackendFn for Embed {
    type Output = Result<Vec<u32>, BackendError>;
    fn run<B: Backend>(self, b: &B) -> Self::Output {
        let table = b.matrix(&self.table)?;
        let mut out = b.zeros(self.tokens.len() * self.table.cols())?;
        b.embed(&table, &self.tokens, &mut out)?;
        Ok(f32_bits(&b.download(&out)?))
    }
}

/// RMSNorm of every row of `x` (rows as long as `weight`).
#[derive(Debug, Clone)]
pub struct RmsNorm {
    pub x: Vec<f32>,
    pub weight: Vec<f32>,
    pub params: RmsNormParams,
}

impl BackendFn for RmsNorm {
    type Output = Result<Vec<u32>, BackendError>;
    fn run<B: Backend>(self, b: &B) -> Self::Output {
        let x = b.upload(&self.x)?;
        let w = b.upload(&self.weight)?;
        let mut out = b.zeros(self.x.len())?;
        b.rms_norm(&x, &w, self.params, &mut out)?;
        Ok(f32_bits(&b.download(&out)?))
    }
}

/// The element-wise ops over the same inputs, outputs concatenated: `a + b`, `a + bias`
/// (per row), `silu(a) * b`, the second half of that result taken as a slice,
/// `gelu_tanh(a) * b`, and `a * factor`.
#[derive(Debug, Clone)]
pub struct Elementwise {
    pub a: Vec<f32>,
    pub b: Vec<f32>,
    pub bias: Vec<f32>,
    pub factor: f32,
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
        let mut gelu_gated = be.zeros(self.a.len())?;
        be.geglu(&a, &b, &mut gelu_gated)?;
        let mut scaled = be.upload(&self.a)?;
        be.scale(&mut scaled, self.factor)?;
        let mut out = be.download(&sum)?;
        for t in [&biased, &gated, &tail, &gelu_gated, &scaled] {
            out.extend(be.download(t)?);
        }
        Ok(f32_bits(&out))
    }
}

/// RoPE of `n_heads` heads per token, in place, at `positions`.
#[derive(Debug, Clone)]
pub struct Rope {
    pub table: RopeTable,
    pub layout: RopeLayout,
    pub positions: Vec<u32>,
    pub x: Vec<f32>,
    pub n_heads: usize,
}

impl BackendFn for Rope {
    type Output = Result<Vec<u32>, BackendError>;
    fn run<B: Backend>(self, b: &B) -> Self::Output {
        let table = b.rope_table(&self.table)?;
        let mut x = b.upload(&self.x)?;
        b.rope(&table, self.layout, &self.positions, &mut x, self.n_heads)?;
        Ok(f32_bits(&b.download(&x)?))
    }
}
