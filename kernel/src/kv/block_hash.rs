//! The content address of a full KV block.

use sha2::{Digest, Sha256};

/// SHA-256 of (model fingerprint, parent block hash, first position, token ids). Two blocks
/// with equal hashes hold the same bytes: the same model saw the same tokens at the same
/// positions after the same prefix, and the forward pass is deterministic.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct BlockHash(pub [u8; 32]);

impl BlockHash {
    /// The hash of the block holding `tokens` from position `start`, after the block
    /// `parent` (`None` for the first block of a sequence).
    pub fn of(
        model: &[u8; 32],
        parent: Option<&BlockHash>,
        start: usize,
        tokens: &[u32],
    ) -> BlockHash {
        let mut h = Sha256::new();
        h.update(b"fak-kv-block/v1\0");
        h.update(model);
        match parent {
            Some(p) => {
                h.update([1]);
                h.update(p.0);
            }
            None => h.update([0]),
        }
        h.update((start as u64).to_le_bytes());
        h.update((tokens.len() as u64).to_le_bytes());
        for t in tokens {
            h.update(t.to_le_bytes());
        }
        BlockHash(h.finalize().into())
    }
}

impl std::fmt::Display for BlockHash {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&hex::encode(&self.0[..8]))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_input_changes_the_hash() {
        let m = [7u8; 32];
        let base = BlockHash::of(&m, None, 0, &[1, 2, 3]);
        assert_eq!(base, BlockHash::of(&m, None, 0, &[1, 2, 3]));
        assert_ne!(base, BlockHash::of(&[8u8; 32], None, 0, &[1, 2, 3]));
        assert_ne!(base, BlockHash::of(&m, Some(&base), 0, &[1, 2, 3]));
        assert_ne!(base, BlockHash::of(&m, None, 32, &[1, 2, 3]));
        assert_ne!(base, BlockHash::of(&m, None, 0, &[1, 2, 4]));
        assert_ne!(base, BlockHash::of(&m, None, 0, &[1, 2]));
    }
}
