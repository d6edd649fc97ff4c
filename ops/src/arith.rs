//! How a multiply-add is evaluated: fused (one rounding) or unfused (two roundings).
//!
//! Every op is written once, generic over [`MulAdd`], and every multiply that feeds an add
//! goes through [`MulAdd::mul_add`]. Because the contract makes each such product exact
//! (DETERMINISM.md §3), both evaluations give the same bits; the tests run every op both
//! ways to prove it. The public ops use [`Unfused`]; a GPU compiler that contracts `a*b+c`
//! into an FMA behaves like [`Fused`].

/// One evaluation of `a * b + c`.
pub trait MulAdd: Copy + Send + Sync + 'static {
    /// Returns `a * b + c`, rounded the way this evaluation rounds it.
    fn mul_add(a: f32, b: f32, c: f32) -> f32;
}

/// `a * b` rounded to f32, then `+ c` rounded: what a compiler that never contracts emits.
#[derive(Debug, Clone, Copy, Default)]
pub struct Unfused;

/// `a * b + c` with a single rounding (`f32::mul_add`): what an FMA unit computes.
#[derive(Debug, Clone, Copy, Default)]
pub struct Fused;

impl MulAdd for Unfused {
    #[inline(always)]
    fn mul_add(a: f32, b: f32, c: f32) -> f32 {
        a * b + c
    }
}

impl MulAdd for Fused {
    #[inline(always)]
    fn mul_add(a: f32, b: f32, c: f32) -> f32 {
        a.mul_add(b, c)
    }
}
