//! The paged KV pool's row operations: storing K and V token rows as bf16 into slots, and
//! copying whole slot rows (compaction after an excision, copy-on-write, dumps and loads).
//!
//! A slot row is `row_words` words of packed bf16 (`row_len` values, the last word's high
//! half zero when `row_len` is odd), so every row starts on a word and no two units ever
//! write halves of the same word.

use cubecl::prelude::*;

use super::grid::element_index;
use super::half_float::round_bf16;

/// For each entry `e`: K and V token row `tokens[e]` rounded to bf16 into slot `slots[e]`.
/// One unit per (entry, word). The host makes the slots distinct (the last write to a slot
/// wins, as on the CPU), so no two entries write the same word.
#[cube(launch)]
#[allow(clippy::too_many_arguments)]
pub fn kv_store(
    k: &Array<f32>,
    v: &Array<f32>,
    k_cache: &mut Array<u32>,
    v_cache: &mut Array<u32>,
    tokens: &Array<u32>,
    slots: &Array<u32>,
    entries: u32,
    row_len: u32,
    row_words: u32,
) {
    let i = element_index();
    let row_words = row_words as usize;
    if i < entries as usize * row_words {
        let entry = i / row_words;
        let word = i % row_words;
        let first = 2 * word;
        let src = tokens[entry] as usize * row_len as usize + first;
        let dst = slots[entry] as usize * row_words + word;
        let has_second = first + 1 < row_len as usize;
        k_cache[dst] = pack_pair(k, src, has_second);
        v_cache[dst] = pack_pair(v, src, has_second);
    }
}

/// `x[src]` and, when `has_second`, `x[src + 1]` rounded to bf16 and packed low, high.
#[cube]
fn pack_pair(x: &Array<f32>, src: usize, has_second: bool) -> u32 {
    let low = round_bf16(x[src]);
    let high = if has_second {
        round_bf16(x[src + 1])
    } else {
        0u32.runtime()
    };
    low | (high << 16)
}

/// Row `src_rows[r]` of `src` into row `dst_rows[r]` of `dst`, for `r < rows`; rows are
/// `row_words` words. Destination rows are distinct (the host resolves repeats).
#[cube(launch)]
pub fn copy_rows(
    src: &Array<u32>,
    src_rows: &Array<u32>,
    dst: &mut Array<u32>,
    dst_rows: &Array<u32>,
    rows: u32,
    row_words: u32,
) {
    let i = element_index();
    let row_words = row_words as usize;
    if i < rows as usize * row_words {
        let r = i / row_words;
        let word = i % row_words;
        let from = src_rows[r] as usize * row_words + word;
        let to = dst_rows[r] as usize * row_words + word;
        dst[to] = src[from];
    }
}
