//! Matrix-vector and matrix-matrix products over bf16, f16, f32 or packed Q8_0 / Q5_0 /
//! Q4_K / Q6_K weights.
//!
//! Output `r` for token `t` is the canonical lane reduction (DETERMINISM.md §1) of the
//! exact products `w[r][i] * x[t][i]`, where `x` is the activation rounded to bf16 and
//! clamped to the factor domain. Every output follows that order whatever the number of
//! tokens, threads or rows, so a prompt prefilled in one matmul equals the same tokens
//! pushed through matvec one by one.
//!
//! bf16 weights enter in pair lanes instead (DETERMINISM.md §6): lane `j < 16` takes
//! column `32c + 2j + 1`, then `32c + 2j`, chunk by chunk, and lanes 16..32 stay +0.0; one
//! AVX512-BF16 instruction adds a whole chunk that way ([`pairs`]).
//!
//! Packed quantized weights go by blocks of 32 against int8 activations instead
//! (DETERMINISM.md §3b, [`blocks`]).

use std::marker::PhantomData;

use bytemuck::{Pod, Zeroable, cast_slice};
use half::{bf16, f16};
use multiversion::multiversion;
use multiversion::target::target_cfg_f;
use rayon::prelude::*;

use crate::arith::{Fused, MulAdd, Unfused};
use crate::canonical::canonical;
use crate::error::{OpsError, check_len, shape_product, whole_rows};
use crate::exact_product::split;
use crate::half_float::{bf16_factor, domain_bf16, widen_bf16, widen_f16};
use crate::reduce::{LANES, fold_sum};
use crate::weights::{WeightData, WeightView};
use blocks::{Blocks, Storage};

#[cfg(target_arch = "x86_64")]
mod avx512;
mod blocks;
mod lanes;
mod one_token;
#[cfg(target_arch = "x86_64")]
mod pairs;
mod tiled;
#[cfg(target_arch = "x86_64")]
mod vnni;

pub use lanes::PreparedBlocks;
use one_token::Rows;
#[cfg(target_arch = "x86_64")]
pub(crate) use pairs::{FOLDED, fold_sixteen};

/// Whether this CPU has the VNNI kernel [`PreparedBlocks`] are laid out for.
fn vnni_supported() -> bool {
    #[cfg(target_arch = "x86_64")]
    return vnni::supported();
    #[cfg(not(target_arch = "x86_64"))]
    false
}

/// Weight rows per rayon task: enough tasks to balance two or more threads, few enough that
/// scheduling costs nothing next to a row block's work.
const ROW_BLOCK: usize = 16;
/// Tokens whose dot products share one pass over a weight row in a matmul.
const TOKEN_GROUP: usize = 4;

/// How one weight element enters a lane accumulator next to an activation factor `x`.
trait WeightElement: Copy + Send + Sync {
    /// The weight +0.0, which pads the last partial chunk.
    const ZERO: Self;
    /// The element as the factor (or, for f32, the pair of split factors) of its products.
    type Factor: Copy;
    fn factor(self) -> Self::Factor;
    /// `acc` plus the exact product(s) of `factor` and `x`, in the documented order.
    fn accumulate<A: MulAdd>(factor: Self::Factor, x: f32, acc: f32) -> f32;
    /// How many products the element adds to its lane: 1, or 2 for split f32 pieces.
    const FACTORS: usize;
    /// The factors in the order their products are added (unused ones +0.0).
    fn factors(factor: Self::Factor) -> [f32; 2];
    /// Whether the element enters in pair lanes (bf16) rather than in lane `i % 32`.
    const PAIRED: bool = false;
    /// The slice as the SIMD kernels read it, for the storages they have a form for.
    fn stored_rows(_weights: &[Self]) -> Option<Rows<'_>> {
        None
    }
}

/// One-factor elements' [`WeightElement::FACTORS`] and [`WeightElement::factors`].
macro_rules! one_factor {
    () => {
        const FACTORS: usize = 1;
        #[inline(always)]
        fn factors(w: f32) -> [f32; 2] {
            [w, 0.0]
        }
    };
}

impl WeightElement for bf16 {
    const ZERO: Self = bf16::ZERO;
    type Factor = f32;
    #[inline(always)]
    fn factor(self) -> f32 {
        widen_bf16(domain_bf16(self.to_bits()))
    }
    #[inline(always)]
    fn accumulate<A: MulAdd>(w: f32, x: f32, acc: f32) -> f32 {
        A::mul_add(w, x, acc)
    }
    one_factor!();
    const PAIRED: bool = true;
}

/// A bf16 weight that [`PreparedWeights`] has already put inside the factor domain: the
/// clamp of the plain bf16 path is the identity on it, so it is skipped.
#[derive(Debug, Clone, Copy, Pod, Zeroable)]
#[repr(transparent)]
struct PreparedBf16(u16);

impl WeightElement for PreparedBf16 {
    const ZERO: Self = PreparedBf16(0);
    type Factor = f32;
    #[inline(always)]
    fn factor(self) -> f32 {
        widen_bf16(self.0)
    }
    #[inline(always)]
    fn accumulate<A: MulAdd>(w: f32, x: f32, acc: f32) -> f32 {
        A::mul_add(w, x, acc)
    }
    one_factor!();
    const PAIRED: bool = true;
}

impl WeightElement for f16 {
    const ZERO: Self = f16::ZERO;
    type Factor = f32;
    #[inline(always)]
    fn factor(self) -> f32 {
        // Every f16 (including infinities) is inside the range where products with a
        // domain-clamped bf16 factor are exact, so no clamp is needed (DETERMINISM.md §3).
        widen_f16(self.to_bits())
    }
    #[inline(always)]
    fn accumulate<A: MulAdd>(w: f32, x: f32, acc: f32) -> f32 {
        A::mul_add(w, x, acc)
    }
    one_factor!();
}

impl WeightElement for f32 {
    const ZERO: Self = 0.0;
    type Factor = (f32, f32);
    #[inline(always)]
    fn factor(self) -> (f32, f32) {
        split(self)
    }
    #[inline(always)]
    fn accumulate<A: MulAdd>((head, tail): (f32, f32), x: f32, acc: f32) -> f32 {
        A::mul_add(tail, x, A::mul_add(head, x, acc))
    }
    const FACTORS: usize = 2;
    #[inline(always)]
    fn factors((head, tail): (f32, f32)) -> [f32; 2] {
        [head, tail]
    }
    fn stored_rows(weights: &[Self]) -> Option<Rows<'_>> {
        Some(Rows::F32(weights))
    }
}

/// The signature of a row-block kernel: the 32 lane accumulators of the rows of `block`
/// against `tokens` activation rows (`block`, `cols`, `x`, `tokens`,
/// `lanes[row * tokens + token]`).
type RowKernel<W> = fn(&[W], usize, &[f32], usize, &mut [[f32; LANES]]);

/// Which row-block kernels a product runs: the fastest this CPU has, or one [`MulAdd`].
trait Evaluation {
    fn kernel<W: WeightElement>() -> RowKernel<W>;
    /// Whether products of [`tiled::TILE_TOKENS`] or more tokens may take the register-tiled
    /// kernel (same bits, see [`tiled`]) instead of the row-block kernel.
    const TILED: bool;
    /// The product over packed quantized blocks (DETERMINISM.md §3b); `x` as given.
    fn blocks<B: Storage>(w: Blocks<'_, B>, x: &[f32], tokens: usize, out: &mut [f32]);
}

/// FMA in the SIMD clones that have it, separate multiply and add elsewhere.
struct Native;

impl Evaluation for Native {
    fn kernel<W: WeightElement>() -> RowKernel<W> {
        row_block_native::<W>
    }
    const TILED: bool = true;
    fn blocks<B: Storage>(w: Blocks<'_, B>, x: &[f32], tokens: usize, out: &mut [f32]) {
        blocks::native(w, x, tokens, out);
    }
}

/// Exactly the evaluation `A`.
struct With<A>(PhantomData<A>);

/// The plain row-block kernel under exactly `A`: the reference the tiled kernel is tested
/// against.
impl<A: MulAdd> Evaluation for With<A> {
    fn kernel<W: WeightElement>() -> RowKernel<W> {
        row_block::<A, W>
    }
    const TILED: bool = false;
    /// The reference order reads the blocks as stored; prepared layouts are for speed.
    fn blocks<B: Storage>(w: Blocks<'_, B>, x: &[f32], tokens: usize, out: &mut [f32]) {
        blocks::product::<A, B>(w.blocks, w.cols, x, tokens, out);
    }
}

/// `out = W x` for one activation vector, with the fastest evaluation this CPU has (FMA
/// where available); the contract makes the bits the same as [`matvec_with`] under any
/// [`MulAdd`].
pub fn matvec(w: WeightView<'_>, x: &[f32], out: &mut [f32]) -> Result<(), OpsError> {
    check_len("matvec", "x", w.cols(), x.len())?;
    check_len("matvec", "out", w.rows(), out.len())?;
    dispatch::<Native>(w, x, out)
}

/// `out = W x`: `x` has `w.cols()` values, `out` gets `w.rows()`. Identical bits under any
/// [`MulAdd`], any thread count, and to row `t` of a [`matmul_with`] containing `x`.
pub fn matvec_with<A: MulAdd>(
    w: WeightView<'_>,
    x: &[f32],
    out: &mut [f32],
) -> Result<(), OpsError> {
    check_len("matvec", "x", w.cols(), x.len())?;
    check_len("matvec", "out", w.rows(), out.len())?;
    dispatch::<With<A>>(w, x, out)
}

/// `out[t] = W x[t]` for a block of activation rows, with the fastest evaluation this CPU
/// has; see [`matvec`] and [`matmul_with`].
pub fn matmul(w: WeightView<'_>, x: &[f32], out: &mut [f32]) -> Result<(), OpsError> {
    dispatch::<Native>(w, x, out)
}

/// `out[t] = W x[t]` for `tokens = x.len() / w.cols()` row-major activation rows; `out` is
/// `tokens x w.rows()` row-major. Each output has exactly the order of [`matvec_with`].
pub fn matmul_with<A: MulAdd>(
    w: WeightView<'_>,
    x: &[f32],
    out: &mut [f32],
) -> Result<(), OpsError> {
    dispatch::<With<A>>(w, x, out)
}

/// Checks shapes, rounds the activations once, and runs the kernel of the weight type.
fn dispatch<E: Evaluation>(w: WeightView<'_>, x: &[f32], out: &mut [f32]) -> Result<(), OpsError> {
    let (rows, cols) = (w.rows(), w.cols());
    let tokens = whole_rows("matmul", "x", x.len(), cols)?;
    check_len(
        "matmul",
        "out",
        shape_product("matmul", "out", &[tokens, rows])?,
        out.len(),
    )?;
    // The pair kernel rounds the activations itself, as it lays them out, and quantized
    // blocks take them as int8 blocks.
    let factors = || -> Vec<f32> { x.iter().map(|&v| bf16_factor(v)).collect() };
    match w.data() {
        WeightData::Bf16(data) if w.is_prepared() => {
            paired_product::<E>(cast_slice(data), cols, x, tokens, out)
        }
        // Unprepared bf16 weights (tests, one-off products) take the row-block kernel,
        // which applies the clamp per element.
        WeightData::Bf16(data) => product(E::kernel(), data, cols, &factors(), tokens, out),
        WeightData::F16(data) => many_token_product::<E, _>(data, cols, &factors(), tokens, out),
        WeightData::F32(data) => streamed_product::<E, _>(data, cols, &factors(), tokens, out),
        WeightData::Q8_0(data) => E::blocks(Blocks::of(data, &w), x, tokens, out),
        WeightData::Q5_0(data) => E::blocks(Blocks::of(data, &w), x, tokens, out),
        WeightData::Q4K(data) => E::blocks(Blocks::of(data, &w), x, tokens, out),
        WeightData::Q6K(data) => E::blocks(Blocks::of(data, &w), x, tokens, out),
    }
    Ok(())
}

/// A product over prepared bf16 weights: under [`Native`], the pair-lane kernel where this
/// CPU has it, for any number of tokens; the row-block kernel otherwise (same bits).
/// `x` holds the activations as given (not yet rounded).
fn paired_product<E: Evaluation>(
    w: &[u16],
    cols: usize,
    x: &[f32],
    tokens: usize,
    out: &mut [f32],
) {
    #[cfg(target_arch = "x86_64")]
    if E::TILED && pairs::supported() {
        pairs::matmul(w, cols, x, tokens, out);
        return;
    }
    let factors: Vec<f32> = x.iter().map(|&v| bf16_factor(v)).collect();
    let w: &[PreparedBf16] = cast_slice(w);
    product(E::kernel(), w, cols, &factors, tokens, out);
}

/// A product over weights that a model owns and streams once per decode step (f32, Q8_0,
/// Q5_0, Q4_K, Q6_K): under [`Native`], one token takes the one-token SIMD kernel
/// where this CPU has it; more tokens as [`many_token_product`].
fn streamed_product<E: Evaluation, W: WeightElement>(
    w: &[W],
    cols: usize,
    x: &[f32],
    tokens: usize,
    out: &mut [f32],
) {
    if E::TILED && tokens == 1 && tiled::supported() {
        one_token::matvec(w, cols, x, out);
    } else {
        many_token_product::<E, _>(w, cols, x, tokens, out);
    }
}

/// Under [`Native`], [`tiled::TILE_TOKENS`] or more tokens take the register-tiled kernel
/// where this CPU has its SIMD form; everything else the row-block kernel. Same bits either
/// way.
fn many_token_product<E: Evaluation, W: WeightElement>(
    w: &[W],
    cols: usize,
    x: &[f32],
    tokens: usize,
    out: &mut [f32],
) {
    if E::TILED && tokens >= tiled::TILE_TOKENS && tiled::supported() {
        tiled::matmul_tiled(w, cols, x, tokens, out);
    } else {
        product(E::kernel(), w, cols, x, tokens, out);
    }
}

/// Runs row blocks in parallel. A single token writes `out` directly; several tokens are
/// computed weight-row-major (each task owns a contiguous slice) and transposed after.
fn product<W: WeightElement>(
    kernel: RowKernel<W>,
    w: &[W],
    cols: usize,
    x: &[f32],
    tokens: usize,
    out: &mut [f32],
) {
    let rows = w.len() / cols;
    let block_task = |o: &mut [f32], block: &[W]| {
        let mut lanes = vec![[0.0f32; LANES]; o.len()];
        kernel(block, cols, x, tokens, &mut lanes);
        fold_lanes(&lanes, o);
    };
    if tokens == 1 {
        out.par_chunks_mut(ROW_BLOCK)
            .zip(w.par_chunks(ROW_BLOCK * cols))
            .for_each(|(o, block)| block_task(o, block));
        return;
    }
    let mut by_row = vec![0.0f32; rows * tokens];
    by_row
        .par_chunks_mut(ROW_BLOCK * tokens)
        .zip(w.par_chunks(ROW_BLOCK * cols))
        .for_each(|(o, block)| block_task(o, block));
    for (r, row_out) in by_row.chunks_exact(tokens).enumerate() {
        for (t, &v) in row_out.iter().enumerate() {
            out[t * rows + r] = v;
        }
    }
}

/// The tree and [`canonical`] for each set of lanes. Kept out of the SIMD kernels on
/// purpose: with the tree inlined after the lane loop, LLVM (depending on the build's
/// inlining) split the 32 loop accumulators into registers of the tree's 16/8/4/2/1
/// widths and the loop ran up to 2.5x slower; ending the loop in a plain store of the 32
/// lanes keeps them in whole vector registers.
#[inline(never)]
fn fold_lanes(lanes: &[[f32; LANES]], out: &mut [f32]) {
    for (o, l) in out.iter_mut().zip(lanes) {
        *o = canonical(fold_sum(*l));
    }
}

/// [`rows`] with the evaluation `A`, compiled for each SIMD level and picked at run time.
#[multiversion(targets(
    "x86_64+avx512f+avx512bw+avx512vl+avx2+fma+f16c",
    "x86_64+avx2+fma+f16c",
    "aarch64+neon"
))]
fn row_block<A: MulAdd, W: WeightElement>(
    block: &[W],
    cols: usize,
    x: &[f32],
    tokens: usize,
    lanes: &mut [[f32; LANES]],
) {
    rows::<A, W>(block, cols, x, tokens, lanes);
}

/// [`rows`] with FMA in the clones whose target has it and separate multiply and add in
/// the others: the same bits (the contract), fewer instructions.
#[multiversion(targets(
    "x86_64+avx512f+avx512bw+avx512vl+avx2+fma+f16c",
    "x86_64+avx2+fma+f16c",
    "aarch64+neon"
))]
fn row_block_native<W: WeightElement>(
    block: &[W],
    cols: usize,
    x: &[f32],
    tokens: usize,
    lanes: &mut [[f32; LANES]],
) {
    if target_cfg_f!(target_feature = "fma") {
        rows::<Fused, W>(block, cols, x, tokens, lanes);
    } else {
        rows::<Unfused, W>(block, cols, x, tokens, lanes);
    }
}

/// Fills `lanes[r * tokens + t]` for every row `r` of `block` and every token `t`, taking
/// the tokens in groups that share one pass over the weight row.
#[inline(always)]
fn rows<A: MulAdd, W: WeightElement>(
    block: &[W],
    cols: usize,
    x: &[f32],
    tokens: usize,
    lanes: &mut [[f32; LANES]],
) {
    for (row, row_lanes) in block.chunks_exact(cols).zip(lanes.chunks_exact_mut(tokens)) {
        let mut groups = row_lanes.chunks_exact_mut(TOKEN_GROUP);
        let mut t = 0;
        for group in &mut groups {
            let xg = &x[t * cols..(t + TOKEN_GROUP) * cols];
            lanes_of::<A, W, TOKEN_GROUP>(row, xg, group);
            t += TOKEN_GROUP;
        }
        for one in groups.into_remainder().chunks_exact_mut(1) {
            lanes_of::<A, W, 1>(row, &x[t * cols..(t + 1) * cols], one);
            t += 1;
        }
    }
}

/// The 32 lane accumulators of one weight row against the `T` activation rows packed in
/// `x`: element `i` enters lane `i % 32` in increasing `i` (a paired element its pair lane,
/// see [`accumulate_chunk`]).
///
/// The last partial chunk is padded with zero weights and zero activations and run as a
/// full one: a lane that gets no element then adds `+0.0`, which leaves it unchanged (a
/// lane is never `-0.0`), so the bits are those of the canonical order. Indexing the
/// accumulators with a run-time lane number instead would force them into memory.
#[inline(always)]
fn lanes_of<A: MulAdd, W: WeightElement, const T: usize>(
    row: &[W],
    x: &[f32],
    out: &mut [[f32; LANES]],
) {
    let cols = row.len();
    let mut acc = [[0.0f32; LANES]; T];
    let mut chunks = row.chunks_exact(LANES);
    for (c, w) in (&mut chunks).enumerate() {
        accumulate_chunk::<A, W, T>(&mut acc, w, &x[c * LANES..], cols);
    }
    let rest = chunks.remainder();
    if !rest.is_empty() {
        let full = cols - rest.len();
        let mut w_pad = [W::ZERO; LANES];
        w_pad[..rest.len()].copy_from_slice(rest);
        let mut x_pad = [[0.0f32; LANES]; T];
        for (t, xp) in x_pad.iter_mut().enumerate() {
            xp[..rest.len()].copy_from_slice(&x[t * cols + full..][..rest.len()]);
        }
        accumulate_chunk::<A, W, T>(&mut acc, &w_pad, x_pad.as_flattened(), LANES);
    }
    out.copy_from_slice(&acc);
}

/// Adds one chunk of 32 weights to the lanes of `T` tokens; token `t`'s 32 activations start
/// at `x[t * stride]`. Plain loops over fixed arrays: iterator adaptors such as
/// `array::from_fn`, or staging the widened weights in an array, made LLVM split the
/// accumulators across odd-sized registers (measured: up to 5x slower).
#[inline(always)]
fn accumulate_chunk<A: MulAdd, W: WeightElement, const T: usize>(
    acc: &mut [[f32; LANES]; T],
    w: &[W],
    x: &[f32],
    stride: usize,
) {
    let w = &w[..LANES];
    for (t, lanes) in acc.iter_mut().enumerate() {
        let xt = &x[t * stride..][..LANES];
        if W::PAIRED {
            // Pair lanes: lane j takes column 2j + 1, then 2j; lanes 16..32 keep +0.0.
            for j in 0..LANES / 2 {
                lanes[j] = W::accumulate::<A>(w[2 * j + 1].factor(), xt[2 * j + 1], lanes[j]);
                lanes[j] = W::accumulate::<A>(w[2 * j].factor(), xt[2 * j], lanes[j]);
            }
        } else {
            for j in 0..LANES {
                lanes[j] = W::accumulate::<A>(w[j].factor(), xt[j], lanes[j]);
            }
        }
    }
}
