//! GGML's quantized weights on the device, as integer chunks (DETERMINISM.md §3b): the
//! words one 32-weight chunk is uploaded as, written on the host from
//! `fak_ops::QuantBlock::int_chunk` and read here by the matrix product and by the
//! embedding gather, which rebuilds `fak_ops::QuantBlock::chunk`'s values from them (§3a).
//!
//! A chunk is `chunk_words(has_min)` consecutive 32-bit words:
//!
//! | word | holds |
//! |---|---|
//! | 0..8 | the 32 unsigned quants: `u[4k + j]` is byte `j` of word `k` |
//! | 8 | the f32 bits of `d` |
//! | 9 | bytes `a + 128`, `a' + 128` (the two integer scales), `beta`, `m` (0 without one) |
//! | 10 | the f32 bits of `dmin`; Q4_K only |
//!
//! Bytes count from a word's low end.
//!
//! The scales are stored offset by 128 so that Q6_K's signed ones fit a byte and every
//! field unpacks the same way, by a shift, a mask and a subtraction, with no sign
//! extension. A row is its chunks in order; the chunks of Q4_K and Q6_K
//! super-blocks follow one another, so a row of `cols` weights is `cols / 32` chunks
//! whatever its block type.

use cubecl::prelude::*;
use fak_ops::{IntChunk, QUANT_BLOCK};

/// Words of a chunk's quants.
pub const QUANT_WORDS: usize = QUANT_BLOCK / 4;
/// The word of `d`'s bits.
const D_WORD: usize = QUANT_WORDS;
/// The word of the integer scales, `beta` and `m`.
const INT_WORD: usize = QUANT_WORDS + 1;
/// The word of `dmin`'s bits, in chunks with a minimum.
const DMIN_WORD: usize = QUANT_WORDS + 2;
/// What a stored scale is offset by.
const SCALE_OFFSET: i32 = 128;

/// Words per chunk: with a minimum (Q4_K) one more, for `dmin`.
pub const fn chunk_words(has_min: bool) -> usize {
    if has_min { DMIN_WORD + 1 } else { DMIN_WORD }
}

/// Appends `c` to `out` in the layout above.
pub fn push_chunk_words(c: &IntChunk, out: &mut Vec<u32>) {
    let s = &c.scales;
    out.extend(
        c.u.as_chunks::<4>()
            .0
            .iter()
            .map(|b| u32::from_le_bytes(*b)),
    );
    out.push(s.d.to_bits());
    let m = s.min.map_or(0, |(m, _)| m);
    out.push(
        byte(s.a[0] + SCALE_OFFSET)
            | byte(s.a[1] + SCALE_OFFSET) << 8
            | byte(s.beta) << 16
            | byte(m) << 24,
    );
    if let Some((_, dmin)) = s.min {
        out.push(dmin.to_bits());
    }
}

/// `v` as one byte of a header word. Every field of an `IntChunk` fits one (§3b's table);
/// a value that does not is a broken invariant of `fak_ops`, not an input error.
fn byte(v: i32) -> u32 {
    u32::from(u8::try_from(v).expect("an IntChunk field fits a byte"))
}

/// Byte `index` (0 at the low end) of `word`, as an integer.
#[cube]
pub fn byte_at(word: u32, index: u32) -> i32 {
    i32::cast_from((word >> (8 * index)) & 0xFFu32)
}

/// Quants `4k .. 4k + 4` of the chunk at `base`, packed.
#[cube]
pub fn quant_word(w: &Array<u32>, base: usize, k: usize) -> u32 {
    w[base + k]
}

/// `d` of the chunk whose words start at `base`.
#[cube]
pub fn chunk_d(w: &Array<u32>, base: usize) -> f32 {
    f32::reinterpret(w[base + D_WORD])
}

/// `dmin` of the chunk at `base` (chunks with a minimum only).
#[cube]
pub fn chunk_dmin(w: &Array<u32>, base: usize) -> f32 {
    f32::reinterpret(w[base + DMIN_WORD])
}

/// The integer scale of half `h` (0 or 1) of the chunk at `base`.
#[cube]
pub fn chunk_scale(w: &Array<u32>, base: usize, h: u32) -> i32 {
    byte_at(w[base + INT_WORD], h) - SCALE_OFFSET
}

/// `beta` of the chunk at `base`.
#[cube]
pub fn chunk_beta(w: &Array<u32>, base: usize) -> i32 {
    byte_at(w[base + INT_WORD], 2u32)
}

/// `m` of the chunk at `base` (0 without a minimum).
#[cube]
pub fn chunk_min(w: &Array<u32>, base: usize) -> i32 {
    byte_at(w[base + INT_WORD], 3u32)
}

/// Element `index` of a matrix of integer chunks, as `fak_ops::QuantBlock::chunk` computes
/// it: `(d * a) * (u - beta)`, minus `dmin * m` with a minimum. The same f32 operations in
/// the same grouping: every product is exact, so only the grouping could change a zero's
/// sign (`(d * a) * 0.0` takes the sign of `a`; `d * f32(a * 0)` would not).
#[cube]
pub fn chunk_value(w: &Array<u32>, index: usize, #[comptime] has_min: bool) -> f32 {
    let base = (index / QUANT_BLOCK) * comptime!(chunk_words(has_min));
    let i = index % QUANT_BLOCK;
    let scale = chunk_scale(w, base, u32::cast_from(i / 16));
    let u = byte_at(quant_word(w, base, i / 4), u32::cast_from(i % 4));
    let value =
        (chunk_d(w, base) * f32::cast_from(scale)) * f32::cast_from(u - chunk_beta(w, base));
    if has_min {
        value - chunk_dmin(w, base) * f32::cast_from(chunk_min(w, base))
    } else {
        value
    }
}
