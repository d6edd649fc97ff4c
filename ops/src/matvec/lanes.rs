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

/// One 64-byte line of a group's stored quants.
#[derive(Clone, Copy, Pod, Zeroable)]
#[repr(C, align(64))]
pub(super) struct Line(pub(super) [u8; 4 * SLOTS]);

/// A group's quants as the kernel's eight registers: register `t` is `self[t]`, lane `c`
/// its bytes `4c..4c+4`.
pub(super) type Registers = [[u8; 4 * SLOTS]; 8];

/// How a group's eight registers of quants are stored, by how many bits they hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Encoding {
    /// Eight lines, one a register (Q8_0's 8 bits, Q6_K's 6).
    Bytes,
    /// Four lines: register `2k` in the low nibbles of line `k`, `2k + 1` in the high ones
    /// (Q4_K's 4 bits).
    Nibbles,
    /// [`Encoding::Nibbles`] of the low four bits, then a line of eight little-endian
    /// 64-bit words, bit `i` of word `t` the fifth bit of register `t`'s byte `i` (Q5_0).
    NibblesAndFifthBits,
}

impl Encoding {
    fn of(kind: u8) -> Self {
        match kind {
            Q4K => Encoding::Nibbles,
            super::blocks::Q5_0 => Encoding::NibblesAndFifthBits,
            _ => Encoding::Bytes,
        }
    }

    /// Lines a group takes.
    pub(super) fn lines(self) -> usize {
        match self {
            Encoding::Bytes => 8,
            Encoding::Nibbles => 4,
            Encoding::NibblesAndFifthBits => 5,
        }
    }

    /// `registers` into `lines` (`self.lines()` of them).
    fn encode(self, registers: &Registers, lines: &mut [Line]) {
        match self {
            Encoding::Bytes => {
                for (line, register) in lines.iter_mut().zip(registers) {
                    line.0 = *register;
                }
            }
            Encoding::Nibbles | Encoding::NibblesAndFifthBits => {
                for (k, line) in lines[..4].iter_mut().enumerate() {
                    let (low, high) = (&registers[2 * k], &registers[2 * k + 1]);
                    for (i, byte) in line.0.iter_mut().enumerate() {
                        *byte = (low[i] & 0x0F) | ((high[i] & 0x0F) << 4);
                    }
                }
                if self == Encoding::NibblesAndFifthBits {
                    for (t, register) in registers.iter().enumerate() {
                        let bits = register
                            .iter()
                            .enumerate()
                            .fold(0u64, |w, (i, &u)| w | (u64::from(u >> 4) << i));
                        lines[4].0[8 * t..8 * t + 8].copy_from_slice(&bits.to_le_bytes());
                    }
                }
            }
        }
    }
}

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

#[cfg_attr(not(target_arch = "x86_64"), allow(dead_code))]
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
    encoding: Encoding,
    /// Each row's own groups, row by row, then the packed tails: `encoding.lines()` lines
    /// a group.
    quants: Vec<Line>,
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
            .field("encoding", &self.encoding)
            .field("groups", &self.d.len())
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
        let encoding = Encoding::of(B::KIND);
        let mut quants = vec![Line::zeroed(); groups * encoding.lines()];
        let mut d = vec![[0u16; SLOTS]; groups];
        quants
            .par_chunks_mut(encoding.lines())
            .zip(d.par_iter_mut())
            .enumerate()
            .for_each(|(g, (lines, d))| {
                let mut registers: Registers = [[0; 4 * SLOTS]; 8];
                for (c, d) in d.iter_mut().enumerate() {
                    let Some((row, chunk)) = source(g, c) else {
                        continue;
                    };
                    let chunk = int_chunk(row, chunk);
                    for (i, &u) in chunk.u.iter().enumerate() {
                        registers[i / 4][4 * c + i % 4] = u;
                    }
                    *d = f16_bits(chunk.scales.d);
                }
                encoding.encode(&registers, lines);
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
            encoding,
            rows,
            cols,
            shape,
            quants,
            d,
            ints,
        }
    }
}

/// What the kernel reads, which exists only on x86-64 (elsewhere nothing is laid out).
#[cfg_attr(not(target_arch = "x86_64"), allow(dead_code))]
impl PreparedBlocks {
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
    pub(super) fn streams(&self) -> (&[Line], &[[u16; SLOTS]], &[LaneInts]) {
        (&self.quants, &self.d, &self.ints)
    }

    pub(super) fn encoding(&self) -> Encoding {
        self.encoding
    }

    /// Group `g`'s stored quants, [`PreparedBlocks::encoding`]'s lines.
    pub(super) fn quants(&self, g: usize) -> &[Line] {
        let n = self.encoding.lines();
        &self.quants[g * n..][..n]
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
