//! The CPU backend through the `Backend` interface: paged KV addressing gives the bits of the
//! contiguous reference, and the KV row operations move exactly the rows they name.

use fak_backends::{Backend, CpuBackend, KV_BLOCK_TOKENS, KvLayout, KvRows};
use fak_ops::{AttentionConfig, KvView};
use half::bf16;

fn values(n: usize, seed: u32) -> Vec<f32> {
    // A fixed pseudo-random sequence in [-2, 2): enough variety for attention scores.
    (0..n)
        .map(|i| {
            let x = (i as u32)
                .wrapping_mul(2_654_435_761)
                .wrapping_add(seed.wrapping_mul(40_503));
            (x >> 8) as f32 / (1u32 << 24) as f32 * 4.0 - 2.0
        })
        .collect()
}

const CONFIG: AttentionConfig = AttentionConfig {
    n_heads: 4,
    n_kv_heads: 2,
    head_dim: 8,
    scale: 0.353_553_4,
    window: None,
};

fn layout(blocks: usize) -> KvLayout {
    KvLayout {
        blocks,
        n_kv_heads: CONFIG.n_kv_heads,
        head_dim: CONFIG.head_dim,
    }
}

/// `config`'s attention at `positions` through the CPU backend's paged pool (logical blocks
/// 0, 1, 2 in physical blocks 3, 0, 2 of a 4-block pool), and `fak_ops::attention` over
/// the same keys as one contiguous cache from position 0, as f32 bits.
fn paged_and_contiguous(config: &AttentionConfig, positions: &[u32]) -> (Vec<u32>, Vec<u32>) {
    let cpu = CpuBackend::new();
    let tokens = 2 * KV_BLOCK_TOKENS + 5;
    let row = config.n_kv_heads * config.head_dim;
    let k = values(tokens * row, 1);
    let v = values(tokens * row, 2);
    let block_table = [3u32, 0, 2];
    let slots: Vec<u32> = (0..tokens)
        .map(|p| {
            block_table[p / KV_BLOCK_TOKENS] * KV_BLOCK_TOKENS as u32 + (p % KV_BLOCK_TOKENS) as u32
        })
        .collect();
    let mut kv = cpu.kv_alloc(layout(4)).unwrap();
    cpu.kv_store(
        &mut kv,
        &slots,
        &cpu.upload(&k).unwrap(),
        &cpu.upload(&v).unwrap(),
    )
    .unwrap();

    let q = values(positions.len() * config.n_heads * config.head_dim, 3);
    let mut out = cpu.zeros(q.len()).unwrap();
    cpu.attention(
        config,
        &cpu.upload(&q).unwrap(),
        positions,
        &kv,
        &block_table,
        &mut out,
    )
    .unwrap();

    let kb: Vec<bf16> = k
        .iter()
        .map(|&x| bf16::from_bits(fak_ops::round_bf16(x)))
        .collect();
    let vb: Vec<bf16> = v
        .iter()
        .map(|&x| bf16::from_bits(fak_ops::round_bf16(x)))
        .collect();
    let mut expected = vec![0.0; q.len()];
    fak_ops::attention(
        config,
        &q,
        positions,
        KvView { k: &kb, v: &vb },
        &mut expected,
    )
    .unwrap();
    let bits = |x: &[f32]| x.iter().map(|v| v.to_bits()).collect::<Vec<_>>();
    (bits(&out.0), bits(&expected))
}

#[test]
fn paged_attention_through_a_scrambled_block_table_equals_contiguous_reference() {
    let (paged, contiguous) = paged_and_contiguous(&CONFIG, &[0, 31, 32, 68]);
    assert_eq!(paged, contiguous);
}

#[test]
fn windowed_attention_gathering_only_the_window_blocks_equals_the_whole_cache() {
    // Every query's window starts in block 1 or 2, so the backend gathers from there on
    // and shifts positions by whole blocks; the bits must be those of the whole cache.
    for window in [1, 5, 20, 32, 36] {
        let config = AttentionConfig {
            window: Some(window),
            ..CONFIG
        };
        let (paged, contiguous) = paged_and_contiguous(&config, &[68, 66, 67]);
        assert_eq!(paged, contiguous, "window {window}");
    }
}

#[test]
fn kv_copy_read_and_write_move_exactly_the_named_rows() {
    let cpu = CpuBackend::new();
    let row = CONFIG.n_kv_heads * CONFIG.head_dim;
    let mut kv = cpu.kv_alloc(layout(2)).unwrap();
    let k = values(3 * row, 4);
    let v = values(3 * row, 5);
    cpu.kv_store(
        &mut kv,
        &[0, 1, 2],
        &cpu.upload(&k).unwrap(),
        &cpu.upload(&v).unwrap(),
    )
    .unwrap();
    let before = cpu.kv_read(&kv, &[0, 1, 2]).unwrap();

    cpu.kv_copy(&mut kv, &[(2, 40), (0, 41)]).unwrap();
    let moved = cpu.kv_read(&kv, &[40, 41]).unwrap();
    assert_eq!(moved.k[..row], before.k[2 * row..]);
    assert_eq!(moved.k[row..], before.k[..row]);
    assert_eq!(moved.v[..row], before.v[2 * row..]);

    let mut other = cpu.kv_alloc(layout(2)).unwrap();
    cpu.kv_write(&mut other, &[5, 6, 7], &before).unwrap();
    assert_eq!(cpu.kv_read(&other, &[5, 6, 7]).unwrap(), before);
}

#[test]
fn kv_slots_and_block_tables_outside_the_pool_are_errors() {
    let cpu = CpuBackend::new();
    let mut kv = cpu.kv_alloc(layout(1)).unwrap();
    let outside = KV_BLOCK_TOKENS as u32;
    assert!(cpu.kv_copy(&mut kv, &[(0, outside)]).is_err());
    assert!(cpu.kv_read(&kv, &[outside]).is_err());
    let rows = KvRows {
        k: vec![0; 3],
        v: vec![0; 3],
    };
    assert!(cpu.kv_write(&mut kv, &[0], &rows).is_err());

    let q = cpu.zeros(CONFIG.n_heads * CONFIG.head_dim).unwrap();
    let mut out = cpu.zeros(q.0.len()).unwrap();
    // Position 40 needs a second block the table does not have.
    let err = cpu
        .attention(&CONFIG, &q, &[40], &kv, &[0], &mut out)
        .unwrap_err()
        .to_string();
    assert!(err.contains("block table has 1"), "{err}");
}

#[test]
fn a_refused_kv_call_changes_no_row() {
    let cpu = CpuBackend::new();
    let row = CONFIG.n_kv_heads * CONFIG.head_dim;
    let mut kv = cpu.kv_alloc(layout(1)).unwrap();
    let k = values(2 * row, 6);
    cpu.kv_store(
        &mut kv,
        &[0, 1],
        &cpu.upload(&k).unwrap(),
        &cpu.upload(&k).unwrap(),
    )
    .unwrap();
    let before = cpu.kv_read(&kv, &[0, 1, 2]).unwrap();
    let outside = KV_BLOCK_TOKENS as u32;
    // The bad slot comes last: nothing before it may have been applied either.
    assert!(cpu.kv_copy(&mut kv, &[(0, 2), (1, outside)]).is_err());
    let zeros = cpu.zeros(2 * row).unwrap();
    assert!(
        cpu.kv_store(&mut kv, &[1, outside], &zeros, &zeros)
            .is_err()
    );
    let rows = KvRows {
        k: vec![7; 2 * row],
        v: vec![7; 2 * row],
    };
    assert!(cpu.kv_write(&mut kv, &[0, outside], &rows).is_err());
    assert_eq!(cpu.kv_read(&kv, &[0, 1, 2]).unwrap(), before);
}
