//! Paged attention as one case: keys stored into scrambled physical blocks, queries sent
//! at once or in chunks.

use fak_ops::AttentionConfig;

use super::{Rng, f32_bits};
use crate::{Backend, BackendError, BackendFn, KV_BLOCK_TOKENS, KvLayout};

/// Attention of `tokens` queries over their own keys, split into calls by `chunks`: each
/// chunk's keys are stored, then its queries attend (causally, so a query sees exactly
/// the keys stored so far). The output is every query's attention, as f32 bits.
#[derive(Debug, Clone)]
pub struct Attention {
    pub config: AttentionConfig,
    /// Physical block of each logical block.
    pub block_table: Vec<u32>,
    pub k: Vec<f32>,
    pub v: Vec<f32>,
    pub q: Vec<f32>,
    /// Tokens per call, summing to the token count.
    pub chunks: Vec<usize>,
}

impl Attention {
    /// `tokens` random queries, keys and values, sent as one call. Logical block `i` lives
    /// in physical block `blocks + 1 - i` of a pool with spares: reversed, so no logical
    /// block sits where a contiguous cache would put it.
    pub fn random(
        rng: &mut Rng,
        n_heads: usize,
        n_kv_heads: usize,
        head_dim: usize,
        tokens: usize,
    ) -> Self {
        let blocks = tokens.div_ceil(KV_BLOCK_TOKENS);
        let block_table = (0..blocks).map(|i| (blocks + 1 - i) as u32).collect();
        Self {
            config: AttentionConfig {
                n_heads,
                n_kv_heads,
                head_dim,
                scale: 1.0 / (head_dim as f32).sqrt(),
                window: None,
            },
            block_table,
            // Edge values are rare in K and V (one NaN key poisons every later query of
            // its head group) and commoner in Q (a NaN there poisons one query head).
            k: rng.values_with_edges(tokens * n_kv_heads * head_dim, 3.0, 5000),
            v: rng.values_with_edges(tokens * n_kv_heads * head_dim, 3.0, 5000),
            q: rng.values_with_edges(tokens * n_heads * head_dim, 3.0, 300),
            chunks: vec![tokens],
        }
    }

    /// The same case with a sliding window of `window` keys.
    pub fn windowed(&self, window: usize) -> Self {
        let mut case = self.clone();
        case.config.window = Some(window);
        case
    }

    /// The same case sent in `chunks` calls.
    pub fn in_chunks(&self, chunks: Vec<usize>) -> Self {
        Self {
            chunks,
            ..self.clone()
        }
    }
}

impl BackendFn for Attention {
    type Output = Result<Vec<u32>, BackendError>;
    fn run<B: Backend>(self, b: &B) -> Self::Output {
        let c = self.config;
        let layout = KvLayout {
            blocks: self.block_table.iter().max().map_or(1, |&m| m as usize + 1),
            n_kv_heads: c.n_kv_heads,
            head_dim: c.head_dim,
        };
        let kv_row = c.n_kv_heads * c.head_dim;
        let q_row = c.n_heads * c.head_dim;
        let mut kv = b.kv_alloc(layout)?;
        let mut out = Vec::new();
        let mut start = 0;
        for &len in &self.chunks {
            let end = start + len;
            let positions: Vec<u32> = (start as u32..end as u32).collect();
            let slots = (start..end)
                .map(|p| layout.slot_of(&self.block_table, p))
                .collect::<Result<Vec<_>, _>>()?;
            let k = b.upload(self.k.get(start * kv_row..end * kv_row).unwrap_or(&[]))?;
            let v = b.upload(self.v.get(start * kv_row..end * kv_row).unwrap_or(&[]))?;
            b.kv_store(&mut kv, &slots, &k, &v)?;
            let q = b.upload(self.q.get(start * q_row..end * q_row).unwrap_or(&[]))?;
            let mut o = b.zeros(len * q_row)?;
            b.attention(&c, &q, &positions, &kv, &self.block_table, &mut o)?;
            out.extend(b.download(&o)?);
            start = end;
        }
        Ok(f32_bits(&out))
    }
}
