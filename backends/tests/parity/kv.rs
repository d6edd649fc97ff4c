//! The KV pool's row operations on the device against the CPU: bf16 stores (odd row
//! lengths, repeated slots), compaction moves with chains and swaps, dumps and loads.

use fak_backends::KV_BLOCK_TOKENS;
use fak_backends::parity::OpSweep;

use crate::common::check_sweep;

#[test]
fn kv_store_copy_read_and_write_match_cpu() {
    // The sweep's slots (up to 95 in a 3-block pool) assume 32-token blocks.
    assert_eq!(KV_BLOCK_TOKENS, 32);
    check_sweep(OpSweep::KvRows);
}
