//! Products over packed quantized weights (Q8_0, Q5_0, Q4_K, Q6_K), DETERMINISM.md §3b: the
//! activations become two int8 limbs per value with a power-of-two scale per 32
//! ([`crate::int8`]), each 32-weight chunk's integer sums against its activation block are
//! exact, and block `b` adds the exact products of its scales with the 13-bit pieces of
//! those sums (the two limbs' combined, where the type combines them) to lane `b % 16`.
//!
//! Integer sums have no order, so a kernel may compute them however it likes; only the f32
//! products per block follow the lanes. [`reference`] spells the order out plainly and is
//! what every other kernel here is held to.

use multiversion::multiversion;
use multiversion::target::match_target;
use rayon::prelude::*;

use super::lanes::PreparedBlocks;
#[cfg(target_arch = "x86_64")]
use super::{lanes::Shape, vnni::GroupActs};
use crate::arith::{Fused, MulAdd};
use crate::canonical::canonical;
use crate::int8::{Int8Rows, LOW_LIMB_SHIFT, quantize_rows};
use crate::quantized::{
    BlockQ4K, BlockQ5_0, BlockQ6K, BlockQ8_0, IntChunk, QUANT_BLOCK, QuantBlock,
};
use crate::reduce::{LANES, fold_sum};
use crate::weights::WeightView;

/// The lanes blocks go to: block `b` to lane `b % 16`; lanes 16..32 stay +0.0.
pub(crate) const BLOCK_LANES: usize = 16;

/// Weight rows per rayon task.
const TASK_ROWS: usize = 16;

/// Weight rows per rayon task of the VNNI kernel: few enough that a 256-row projection
/// still splits four ways; a multiple of the 16 rows the kernel takes at once.
#[cfg(target_arch = "x86_64")]
const VNNI_TASK_ROWS: usize = 64;

/// The four storages, as the SIMD kernel's compile-time switch.
pub(super) const Q8_0: u8 = 0;
pub(super) const Q5_0: u8 = 1;
pub(super) const Q4K: u8 = 2;
pub(super) const Q6K: u8 = 3;

/// A quantized block type and which of the four storages it is.
pub(super) trait Storage: QuantBlock {
    const KIND: u8;
    /// The offset `beta` of its unsigned quants (§3b's table).
    const BETA: i32;
}
impl Storage for BlockQ8_0 {
    const KIND: u8 = Q8_0;
    const BETA: i32 = 128;
}
impl Storage for BlockQ5_0 {
    const KIND: u8 = Q5_0;
    const BETA: i32 = 16;
}
impl Storage for BlockQ4K {
    const KIND: u8 = Q4K;
    const BETA: i32 = 0;
}
impl Storage for BlockQ6K {
    const KIND: u8 = Q6K;
    const BETA: i32 = 32;
}

/// A quantized matrix as the products take it: its blocks, row by row, and their layout for
/// the VNNI kernel when the view carried one.
#[derive(Clone, Copy)]
pub(super) struct Blocks<'a, B> {
    pub(super) blocks: &'a [B],
    pub(super) prepared: Option<&'a PreparedBlocks>,
    pub(super) cols: usize,
}

impl<'a, B> Blocks<'a, B> {
    /// `blocks`, the data of `view`.
    pub(super) fn of(blocks: &'a [B], view: &WeightView<'a>) -> Self {
        Blocks {
            blocks,
            prepared: view.prepared_blocks(),
            cols: view.cols(),
        }
    }
}

/// The product with the fastest kernel this CPU has: [`super::vnni`] where it has
/// AVX-512 VNNI, over `w.prepared` (or the blocks laid out for it here when the view came
/// without), [`product`] otherwise. Same bits.
pub(super) fn native<B: Storage>(w: Blocks<'_, B>, x: &[f32], tokens: usize, out: &mut [f32]) {
    let Blocks {
        blocks,
        prepared,
        cols,
    } = w;
    #[cfg(target_arch = "x86_64")]
    if super::vnni::supported() {
        let laid_out;
        let p = match prepared {
            Some(p) => p,
            None => {
                laid_out = PreparedBlocks::lay_out(blocks, out.len() / tokens, cols);
                &laid_out
            }
        };
        // This thread's buffers from its last call: every element is written again, so
        // nothing is zeroed (the memsets of fresh buffers were about 4% of a prefill).
        let (mut acts, mut by_task) = VNNI_BUFFERS.take();
        let per_token = p.shape().token_groups();
        acts.resize(tokens * per_token, bytemuck::Zeroable::zeroed());
        acts.par_chunks_exact_mut(per_token)
            .zip(x.par_chunks_exact(cols))
            .for_each(|(token, x)| vnni_lay_out::<B>(x, p.shape(), token));
        if tokens == 1 {
            out.par_chunks_mut(VNNI_TASK_ROWS)
                .enumerate()
                .for_each(|(i, o)| vnni_rows::<B>(p, i * VNNI_TASK_ROWS, &acts, o.len(), o));
        } else {
            // Each task writes its rows token by token; the runs are copied into place after,
            // token by token in parallel (on one thread the copy was 3% of a prefill).
            by_task.resize(out.len(), 0.0);
            by_task
                .par_chunks_mut(tokens * VNNI_TASK_ROWS)
                .enumerate()
                .for_each(|(i, o)| {
                    vnni_rows::<B>(p, i * VNNI_TASK_ROWS, &acts, o.len() / tokens, o);
                });
            let rows = out.len() / tokens;
            out.par_chunks_mut(rows).enumerate().for_each(|(t, out)| {
                let runs = by_task.chunks(tokens * VNNI_TASK_ROWS);
                for (o, task) in out.chunks_mut(VNNI_TASK_ROWS).zip(runs) {
                    o.copy_from_slice(&task[t * o.len()..][..o.len()]);
                }
            });
        }
        VNNI_BUFFERS.set((acts, by_task));
        return;
    }
    let _ = prepared;
    product::<Fused, B>(blocks, cols, x, tokens, out);
}

#[cfg(target_arch = "x86_64")]
thread_local! {
    /// The buffers of this thread's last VNNI product: its activation groups and its
    /// outputs task by task. They stay as large as the largest product this thread ran.
    static VNNI_BUFFERS: std::cell::Cell<(Vec<GroupActs>, Vec<f32>)> =
        const { std::cell::Cell::new((Vec::new(), Vec::new())) };
}

/// One token's activations `x` quantized into its groups `token`
/// ([`super::vnni::lay_out_token`]).
#[cfg(target_arch = "x86_64")]
#[multiversion(targets("x86_64+avx512f+avx512bw+avx512vl+avx512vnni+avx512dq"))]
fn vnni_lay_out<B: Storage>(x: &[f32], shape: Shape, token: &mut [GroupActs]) {
    match_target! {
        "x86_64+avx512f+avx512bw+avx512vl+avx512vnni+avx512dq" => {
            super::vnni::lay_out_token::<B>(x, shape, token);
        }
        _ => {
            let _ = (x, shape, token);
            unreachable!("called only where vnni::supported() holds")
        }
    }
}

/// Rows `first..first + n` of `p` against every token, row `first + r` of token `t` into
/// `out[t * n + r]`, sixteen rows at a time.
#[cfg(target_arch = "x86_64")]
#[multiversion(targets("x86_64+avx512f+avx512bw+avx512vl+avx512vnni+avx512dq"))]
fn vnni_rows<B: Storage>(
    p: &PreparedBlocks,
    first: usize,
    acts: &[GroupActs],
    n: usize,
    out: &mut [f32],
) {
    match_target! {
        "x86_64+avx512f+avx512bw+avx512vl+avx512vnni+avx512dq" => {
            use super::pairs::FOLDED;
            for at in (0..n).step_by(FOLDED) {
                let rows = FOLDED.min(n - at);
                super::vnni::rows::<B>(p, first + at, rows, acts, n, &mut out[at..]);
            }
        }
        _ => {
            let _ = (p, first, acts, n, out);
            unreachable!("called only where vnni::supported() holds")
        }
    }
}

/// `out[t * rows + r]` = row `r` of `w` against token `t` of `x` (`tokens x cols`), under
/// the evaluation `A` (fused or not: the bits are the same).
pub(super) fn product<A: MulAdd, B: QuantBlock>(
    w: &[B],
    cols: usize,
    x: &[f32],
    tokens: usize,
    out: &mut [f32],
) {
    let acts = quantize_rows(x);
    let units = cols / (QUANT_BLOCK * B::CHUNKS);
    let mut by_row = vec![0.0f32; out.len()];
    by_row
        .par_chunks_mut(tokens)
        .zip(w.par_chunks(units))
        .with_min_len(TASK_ROWS)
        .for_each(|(o, row)| {
            let chunks: Vec<IntChunk> = row
                .iter()
                .flat_map(|b| (0..B::CHUNKS).map(|j| b.int_chunk(j)))
                .collect();
            for (t, o) in o.iter_mut().enumerate() {
                *o = reference::<A>(&chunks, B::COMBINED_LIMBS, &acts, t);
            }
        });
    scatter(&by_row, tokens, out);
}

/// `by_row[r * tokens + t]` into `out[t * rows + r]`.
pub(super) fn scatter(by_row: &[f32], tokens: usize, out: &mut [f32]) {
    let rows = by_row.len() / tokens;
    for (r, row_out) in by_row.chunks_exact(tokens).enumerate() {
        for (t, &v) in row_out.iter().enumerate() {
            out[t * rows + r] = v;
        }
    }
}

/// The exact integer sums of chunk `c` against one limb `q` of its activation block:
/// `I = sum_i a_i * (u_i - beta) * q_i` and, for Q4_K, `M = m * sum_i q_i` (§3b).
pub(crate) fn chunk_sums(c: &IntChunk, q: &[i8]) -> (i32, i32) {
    let s = &c.scales;
    let mut int = 0i32;
    for (i, &q) in q.iter().enumerate() {
        int += s.a[i / 16] * (i32::from(c.u[i]) - s.beta) * i32::from(q);
    }
    let min = s
        .min
        .map_or(0, |(m, _)| m * q.iter().map(|&q| i32::from(q)).sum::<i32>());
    (int, min)
}

/// One output: the row's `chunks` (each `combined` or not, [`QuantBlock::COMBINED_LIMBS`])
/// against token `t` of `acts`, in the documented order.
pub(crate) fn reference<A: MulAdd>(
    chunks: &[IntChunk],
    combined: bool,
    acts: &Int8Rows,
    t: usize,
) -> f32 {
    let cols = chunks.len() * QUANT_BLOCK;
    let high = &acts.high[t * cols..][..cols];
    let low = &acts.low[t * cols..][..cols];
    let scales = &acts.scales[t * chunks.len()..][..chunks.len()];
    let mut acc = [0.0f32; LANES];
    for (b, (c, (&s, (high, low)))) in chunks
        .iter()
        .zip(
            scales.iter().zip(
                high.chunks_exact(QUANT_BLOCK)
                    .zip(low.chunks_exact(QUANT_BLOCK)),
            ),
        )
        .enumerate()
    {
        let (int_high, min_high) = chunk_sums(c, high);
        let (int_low, min_low) = chunk_sums(c, low);
        let lane = &mut acc[b % BLOCK_LANES];
        let f = c.scales.d * s;
        if combined {
            *lane = add_scaled::<A>(f * LOW_UNIT, combine_limbs(int_high, int_low), *lane);
        } else {
            *lane = add_scaled::<A>(f, int_high, *lane);
            *lane = add_scaled::<A>(f * LOW_UNIT, int_low, *lane);
        }
        if let Some((_, dmin)) = c.scales.min {
            let g = -(dmin * s) * LOW_UNIT;
            *lane = add_scaled::<A>(g, combine_limbs(min_high, min_low), *lane);
        }
    }
    canonical(fold_sum(acc))
}

/// The weight of a low limb against a high one: 2^-8.
pub(super) const LOW_UNIT: f32 = f32::from_bits(((127 - LOW_LIMB_SHIFT) as u32) << 23);

/// `lo = n & PIECE_MASK` and `hi = n - lo` cut an integer within 2^26 in magnitude into two
/// pieces of at most 13 significant bits each: times a scale of at most 11 (an f16's), each
/// product fits an f32's 24 exactly.
pub(super) const PIECE_MASK: i32 = (1 << 13) - 1;

/// The integer sums of a chunk against its two limbs as one: `256 * high + low` (§3b).
#[inline(always)]
pub(crate) fn combine_limbs(high: i32, low: i32) -> i32 {
    (high << LOW_LIMB_SHIFT) + low
}

/// `acc` plus `f * n`, as the exact products `f * hi` then `f * lo` (`n = hi + lo`,
/// `lo = n & PIECE_MASK`).
#[inline(always)]
pub(crate) fn add_scaled<A: MulAdd>(f: f32, n: i32, acc: f32) -> f32 {
    let lo = n & PIECE_MASK;
    let hi = n - lo;
    A::mul_add(f, lo as f32, A::mul_add(f, hi as f32, acc))
}
