//! Flood detection: results that are mostly the same bytes over and over.
//!
//! A flood spends the model's context window on nothing (or buries one instruction in
//! noise). The measure: split the result into aligned 32-byte blocks and count the
//! distinct ones. Prose, code, tables and base64 images are almost all distinct; a
//! repeated line or phrase gives a handful of distinct blocks however long it runs.

use std::collections::HashSet;

/// Block size for the distinctness count, in bytes.
const BLOCK_BYTES: usize = 32;
/// Results shorter than this many blocks (8 KiB) are never a flood.
const MIN_BLOCKS: usize = 256;
/// Fewer distinct blocks than this fraction of all blocks is a flood.
const MAX_REPEAT_FRACTION_DISTINCT: f64 = 0.10;

/// Why a result is a flood, or None.
pub fn flood(bytes: &[u8]) -> Option<String> {
    let blocks = bytes.len() / BLOCK_BYTES;
    if blocks < MIN_BLOCKS {
        return None;
    }
    let distinct: HashSet<&[u8]> = bytes.chunks_exact(BLOCK_BYTES).collect();
    let fraction = distinct.len() as f64 / blocks as f64;
    (fraction < MAX_REPEAT_FRACTION_DISTINCT).then(|| {
        format!(
            "result repeats itself: {} of {blocks} 32-byte blocks distinct",
            distinct.len()
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repeated_line_is_a_flood() {
        let text = "buy now! ".repeat(2000);
        assert!(flood(text.as_bytes()).is_some());
    }

    #[test]
    fn short_repetition_is_not_a_flood() {
        assert!(flood("ok\n".repeat(100).as_bytes()).is_none());
    }

    #[test]
    fn varied_records_are_not_a_flood() {
        let text: String = (0..2000)
            .map(|i| format!("{{\"id\": {i}, \"name\": \"user{i}\", \"active\": true}}\n"))
            .collect();
        assert!(flood(text.as_bytes()).is_none());
    }
}
