//! Quantized weights laid out once, at load, in the form the VNNI kernel ([`super::vnni`])
//! multiplies: no product has to unpack and transpose blocks any more.
//!
//! The kernel gives each 32-weight chunk one 32-bit lane, chunk `b` of a row in lane
//! `b % 16` (DETERMINISM.md §3b), so it reads 16 chunks at a time as a *group*: eight
//! 64-byte registers, register `t` holding bytes `4t..4t+4` of the chunk in each lane. A
//! group's record is those 512 quant bytes (§3b's unsigned `u`), the 16 chunks' f16 `d`,
//! and for the K types their integer scales, minimums and `dmin`.
//!
//! A row of `c` chunks is `c / 16` full groups and a tail of `c % 16` chunks. Where the
//! tail divides 16 (Gemma's 640 columns leave 4), the tails of `16 / tail` consecutive
//! rows share one group, row `j`'s chunk `i` in lane `j * tail + i`: a padded tail would
//! cost a whole group's bytes and arithmetic for a quarter of its lanes. Only the integer
//! sums change place; the kernel moves each row's accumulators into those lanes and back,
//! so every f32 product and add stays where §3b puts it.

use std::fmt;

use bytemuck::{Pod, Zeroable};
use half::f16;
use rayon::prelude::*;

use super::blocks::{BLOCK_LANES, Q4K, Q6K, Storage};
use crate::quantized::{IntChunk, QUANT_BLOCK};
use crate::weights::{WeightData, WeightView};

/// Chunks a group holds: one a lane.
pub(super) const SLOTS: usize = BLOCK_LANES;

/// A group's quants: register `t` is `self.0[t]`, lane `c` its bytes `4c..4c+4`.
#[derive(Clone, Copy, Pod, Zeroable)]
#[repr(C, align(64))]
pub(super) struct LaneQuants(pub(super) [[u8; 4 * SLOTS]; 8]);

/// A K-type group's integer scales (`a` for each 16-weight half), minimums `m` and f16
/// `dmin` bits, lane by lane; what Q8_0 and Q5_0 do not have.
#[derive(Clone, Copy, Pod, Zeroable)]
#[repr(C)]
pub(super) struct LaneInts {
    pub(super) a: [[i8; SLOTS]; 2],
    pub(super) m: [i8; SLOTS],
    pub(super) dmin: [u16; SLOTS],
}

/// How a row's chunks fall into groups.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Shape {
    /// Full groups a row.
    pub(super) full: usize,
    /// Chunks past the full groups (0 to 15).
    pub(super) tail: usize,
    /// Rows whose tails share a group (1: each row's tail is a group of its own).
    pub(super) pack: usize,
}

impl Shape {
    fn new(chunks: usize) -> Self {
        let (full, tail) = (chunks / SLOTS, chunks % SLOTS);
        let pack = if tail > 0 && SLOTS.is_multiple_of(tail) {
            SLOTS / tail
        } else {
            1
        };
        Shape { full, tail, pack }
    }

    /// Groups each row owns: its full groups, and its tail unless that is packed.
    pub(super) fn own(&self) -> usize {
        self.full + usize::from(self.tail > 0 && self.pack == 1)
    }

    /// Activation groups a token needs: the full groups, then the tail's chunks in the
    /// lanes of the tail group ([`Shape::tail_lane`]).
    pub(super) fn token_groups(&self) -> usize {
        self.full + usize::from(self.tail > 0)
    }

    /// The lane of tail chunk `i` of the `j`th row of a pack (of the only row when tails
    /// are not packed).
    pub(super) fn tail_lane(&self, j: usize, i: usize) -> usize {
        j * self.tail + i
    }
}

/// A Q8_0, Q5_0, Q4_K or Q6_K matrix in the VNNI kernel's layout, made once (at load)
/// from the blocks as stored. Attach it with [`WeightView::with_prepared_blocks`]; products
/// over that view skip the unpacking and give the same bits.
pub struct PreparedBlocks {
    kind: u8,
    rows: usize,
    cols: usize,
    shape: Shape,
    /// Each row's own groups, row by row, then the packed tails.
    quants: Vec<LaneQuants>,
    d: Vec<[u16; SLOTS]>,
    /// Empty for Q8_0 and Q5_0.
    ints: Vec<LaneInts>,
}

impl fmt::Debug for PreparedBlocks {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PreparedBlocks")
            .field("rows", &self.rows)
            .field("cols", &self.cols)
            .field("shape", &self.shape)
            .field("groups", &self.quants.len())
            .finish()
    }
}

impl PreparedBlocks {
    /// `w` laid out for this CPU's VNNI kernel; `None` for a matrix that is not quantized or
    /// a CPU without AVX-512 VNNI, whose kernels read the blocks as stored.
    pub fn new(w: WeightView<'_>) -> Option<Self> {
        if !super::vnni_supported() {
            return None;
        }
        Some(match w.data() {
            WeightData::Q8_0(b) => Self::lay_out(b, w.rows(), w.cols()),
            WeightData::Q5_0(b) => Self::lay_out(b, w.rows(), w.cols()),
            WeightData::Q4K(b) => Self::lay_out(b, w.rows(), w.cols()),
            WeightData::Q6K(b) => Self::lay_out(b, w.rows(), w.cols()),
            WeightData::Bf16(_) | WeightData::F16(_) | WeightData::F32(_) => return None,
        })
    }

    /// Bytes held: what the layout costs in memory beside the stored blocks.
    pub fn bytes(&self) -> usize {
        size_of_val(self.quants.as_slice())
            + size_of_val(self.d.as_slice())
            + size_of_val(self.ints.as_slice())
    }

    /// Whether this is the layout of a `rows x cols` matrix of `w`'s block type.
    pub(crate) fn fits(&self, w: &WeightView<'_>) -> bool {
        let kind = match w.data() {
            WeightData::Q8_0(_) => super::blocks::Q8_0,
            WeightData::Q5_0(_) => super::blocks::Q5_0,
            WeightData::Q4K(_) => Q4K,
            WeightData::Q6K(_) => Q6K,
            WeightData::Bf16(_) | WeightData::F16(_) | WeightData::F32(_) => return false,
        };
        (self.kind, self.rows, self.cols) == (kind, w.rows(), w.cols())
    }

    /// `rows x cols` weights in blocks of `B`, laid out (rows in parallel).
    pub(super) fn lay_out<B: Storage>(blocks: &[B], rows: usize, cols: usize) -> Self {
        let chunks = cols / QUANT_BLOCK;
        let shape = Shape::new(chunks);
        let own = shape.own();
        let packs = if shape.pack > 1 {
            rows.div_ceil(shape.pack)
        } else {
            0
        };
        let groups = rows * own + packs;
        // Group `g`'s slot `c` holds chunk `chunk` of row `row`, or nothing.
        let source = |g: usize, c: usize| -> Option<(usize, usize)> {
            let (row, chunk) = if g < rows * own {
                (g / own, (g % own) * SLOTS + c)
            } else {
                let (j, i) = (c / shape.tail, c % shape.tail);
                ((g - rows * own) * shape.pack + j, shape.full * SLOTS + i)
            };
            (row < rows && chunk < chunks).then_some((row, chunk))
        };
        let int_chunk = |row: usize, chunk: usize| -> IntChunk {
            let b = row * chunks + chunk;
            blocks[b / B::CHUNKS].int_chunk(b % B::CHUNKS)
        };
        let mut quants = vec![LaneQuants::zeroed(); groups];
        let mut d = vec![[0u16; SLOTS]; groups];
        quants
            .par_iter_mut()
            .zip(d.par_iter_mut())
            .enumerate()
            .for_each(|(g, (quants, d))| {
                for (c, d) in d.iter_mut().enumerate() {
                    let Some((row, chunk)) = source(g, c) else {
                        continue;
                    };
                    let chunk = int_chunk(row, chunk);
                    for (i, &u) in chunk.u.iter().enumerate() {
                        quants.0[i / 4][4 * c + i % 4] = u;
                    }
                    *d = f16_bits(chunk.scales.d);
                }
            });
        let mut ints = Vec::new();
        if B::KIND == Q4K || B::KIND == Q6K {
            ints = vec![LaneInts::zeroed(); groups];
            ints.par_iter_mut().enumerate().for_each(|(g, ints)| {
                for c in 0..SLOTS {
                    let Some((row, chunk)) = source(g, c) else {
                        continue;
                    };
                    let b = row * chunks + chunk;
                    let s = blocks[b / B::CHUNKS].int_scales(b % B::CHUNKS);
                    // Q4_K's scales and minimums are 6-bit, Q6_K's scales are i8.
                    ints.a[0][c] = small(s.a[0]);
                    ints.a[1][c] = small(s.a[1]);
                    if let Some((m, dmin)) = s.min {
                        ints.m[c] = small(m);
                        ints.dmin[c] = f16_bits(dmin);
                    }
                }
            });
        }
        PreparedBlocks {
            kind: B::KIND,
            rows,
            cols,
            shape,
            quants,
            d,
            ints,
        }
    }

    pub(super) fn kind(&self) -> u8 {
        self.kind
    }

    pub(super) fn shape(&self) -> Shape {
        self.shape
    }

    /// Group `g` of row `row` (`g < shape().own()`).
    pub(super) fn own_group(&self, row: usize, g: usize) -> usize {
        row * self.shape.own() + g
    }

    /// The group holding the tails of pack `p` (rows `p * pack..`).
    pub(super) fn tail_group(&self, p: usize) -> usize {
        self.rows * self.shape.own() + p
    }

    /// The three arrays groups are read from, for prefetching.
    pub(super) fn streams(&self) -> (&[LaneQuants], &[[u16; SLOTS]], &[LaneInts]) {
        (&self.quants, &self.d, &self.ints)
    }

    pub(super) fn quants(&self, g: usize) -> &LaneQuants {
        &self.quants[g]
    }

    pub(super) fn d(&self, g: usize) -> &[u16; SLOTS] {
        &self.d[g]
    }

    /// Group `g`'s integer scales (K types only).
    pub(super) fn ints(&self, g: usize) -> &LaneInts {
        &self.ints[g]
    }
}

/// The f16 bits of a scale that was widened from f16 (exactly; NaN stays NaN).
fn f16_bits(v: f32) -> u16 {
    f16::from_f32(v).to_bits()
}

/// A 6-bit scale or minimum, or a Q6_K i8 scale: always within i8.
fn small(v: i32) -> i8 {
    i8::try_from(v).expect("block scales are 6-bit or i8")
}
