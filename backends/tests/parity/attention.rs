//! Paged attention on the device against the CPU: GQA ratios 1, 2 and 7, head sizes below,
//! at and above one 32-lane chunk, contexts around the 32-key block, keys in scrambled
//! physical blocks, and queries prefilled at once, in chunks, or one at a time.

use fak_backends::{Backend, BackendError, BackendFn, KV_BLOCK_TOKENS, KvLayout};
use fak_ops::AttentionConfig;

use crate::common::{Rng, assert_mostly_finite, assert_same_bits, compare, vulkan};

#[derive(Clone)]
struct Attention {
    config: AttentionConfig,
    /// Physical block of each logical block.
    block_table: Vec<u32>,
    k: Vec<f32>,
    v: Vec<f32>,
    q: Vec<f32>,
    /// How the queries `0..tokens` are split into calls.
    chunks: Vec<usize>,
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
            // Each chunk's keys are stored, then its queries attend (causally, so a query
            // sees exactly the keys stored so far).
            let positions: Vec<u32> = (start as u32..(start + len) as u32).collect();
            let slots: Vec<u32> = positions
                .iter()
                .map(|&p| {
                    let p = p as usize;
                    (self.block_table[p / KV_BLOCK_TOKENS] as usize * KV_BLOCK_TOKENS
                        + p % KV_BLOCK_TOKENS) as u32
                })
                .collect();
            let k = b.upload(&self.k[start * kv_row..(start + len) * kv_row])?;
            let v = b.upload(&self.v[start * kv_row..(start + len) * kv_row])?;
            b.kv_store(&mut kv, &slots, &k, &v)?;
            let q = b.upload(&self.q[start * q_row..(start + len) * q_row])?;
            let mut o = b.zeros(len * q_row)?;
            b.attention(&c, &q, &positions, &kv, &self.block_table, &mut o)?;
            out.extend(b.download(&o)?);
            start += len;
        }
        Ok(out.iter().map(|v| v.to_bits()).collect())
    }
}

fn case(
    rng: &mut Rng,
    n_heads: usize,
    n_kv_heads: usize,
    head_dim: usize,
    tokens: usize,
) -> Attention {
    let blocks = tokens.div_ceil(KV_BLOCK_TOKENS);
    // Logical block i lives in physical block (blocks + 1 - i) of a pool with spares:
    // reversed, so no logical block sits where a contiguous cache would put it.
    let block_table: Vec<u32> = (0..blocks).map(|i| (blocks + 1 - i) as u32).collect();
    Attention {
        config: AttentionConfig {
            n_heads,
            n_kv_heads,
            head_dim,
            scale: 1.0 / (head_dim as f32).sqrt(),
        },
        block_table,
        // Edge values are rare in K and V (one NaN key poisons every later query of its
        // head group) and commoner in Q (a NaN there poisons one query head).
        k: rng.values_with_edges(tokens * n_kv_heads * head_dim, 3.0, 5000),
        v: rng.values_with_edges(tokens * n_kv_heads * head_dim, 3.0, 5000),
        q: rng.values_with_edges(tokens * n_heads * head_dim, 3.0, 300),
        chunks: vec![tokens],
    }
}

#[test]
fn attention_matches_cpu_for_gqa_ratios_head_sizes_and_contexts() {
    if vulkan().is_none() {
        return;
    }
    let mut rng = Rng::new(31);
    for (n_heads, n_kv_heads) in [(2, 2), (4, 2), (14, 2)] {
        for head_dim in [5, 32, 64] {
            for tokens in [1, 31, 33, 70] {
                let c = case(&mut rng, n_heads, n_kv_heads, head_dim, tokens);
                let what = format!(
                    "attention {n_heads}/{n_kv_heads} heads, dim {head_dim}, {tokens} tokens"
                );
                if let Some(out) = compare(&what, c) {
                    assert_mostly_finite(&what, &out);
                }
            }
        }
    }
}

#[test]
fn attention_prefilled_in_chunks_or_one_at_a_time_matches_cpu_prefill() {
    let Some(device) = vulkan() else { return };
    let mut rng = Rng::new(32);
    let whole = case(&mut rng, 14, 2, 64, 100);
    let reference = compare("attention prefill of 100 tokens", whole.clone()).unwrap();
    for chunks in [vec![31, 1, 40, 28], vec![1; 100]] {
        let split = Attention {
            chunks: chunks.clone(),
            ..whole.clone()
        };
        let got = split.run(device).unwrap();
        assert_same_bits(
            &format!("attention in {} chunks", chunks.len()),
            &reference,
            &got,
        );
    }
}

#[test]
fn attention_with_head_dim_above_one_tile_matches_cpu() {
    if vulkan().is_none() {
        return;
    }
    let mut rng = Rng::new(33);
    // 128 (Llama) and 256 (Gemma 3) values per head: several 32-wide value tiles.
    for head_dim in [128, 256] {
        compare(
            &format!("attention dim {head_dim}"),
            case(&mut rng, 4, 1, head_dim, 40),
        );
    }
}
