//! Paged attention on the device against the CPU: GQA ratios 1, 2 and 7, head sizes below,
//! at and above one 32-lane chunk, contexts around the 32-key block, keys in scrambled
//! physical blocks, queries prefilled at once, in chunks, or one at a time, and sliding
//! windows (the attention sweeps of `fak_backends::parity`).

use fak_backends::parity::OpSweep;

use crate::common::{assert_mostly_finite, check, check_sweep, vulkan};

#[test]
fn attention_matches_cpu_for_gqa_ratios_head_sizes_and_contexts() {
    if vulkan().is_none() {
        return;
    }
    for case in OpSweep::Attention.cases().unwrap() {
        if let Some(out) = check(&case) {
            assert_mostly_finite(&case.what, &out);
        }
    }
}

#[test]
fn attention_prefilled_in_chunks_or_one_at_a_time_matches_cpu_prefill() {
    check_sweep(OpSweep::AttentionChunked);
}

#[test]
fn attention_with_head_dim_above_one_tile_matches_cpu() {
    check_sweep(OpSweep::AttentionWideHeads);
}

#[test]
fn sliding_window_attention_at_once_in_chunks_and_token_by_token_matches_cpu() {
    let Some(outputs) = check_sweep(OpSweep::AttentionWindowed) else {
        return;
    };
    assert_mostly_finite("windowed attention sweep", &outputs);
}
