//! Batch, chunk and thread invariance: the bits of an output never depend on which other
//! rows or queries share the call, how a prompt was chunked, or how many threads ran it.

mod common;

use common::{Gen, bits, random_chunks, to_bf16};
use fak_ops::{
    AttentionConfig, KvView, NormWeight, PreparedWeights, RmsNormParams, RopeLayout, RopeTable,
    WeightView, attention, inv_freq_from_base, matmul, matvec, rms_norm, rope_apply,
};
use half::bf16;
use proptest::prelude::*;

fn pool(threads: usize) -> rayon::ThreadPool {
    rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .expect("thread pool")
}

fn run_matmul(w: WeightView<'_>, x: &[f32]) -> Vec<f32> {
    let mut out = vec![0.0; x.len() / w.cols() * w.rows()];
    matmul(w, x, &mut out).expect("valid shapes");
    out
}

/// A prompt's worth of attention inputs: cache of `len` positions, one query per position.
struct Prompt {
    config: AttentionConfig,
    k: Vec<bf16>,
    v: Vec<bf16>,
    q: Vec<f32>,
}

impl Prompt {
    fn new(
        g: &mut Gen,
        len: usize,
        (n_heads, n_kv_heads, head_dim): (usize, usize, usize),
        window: Option<usize>,
    ) -> Self {
        let config = AttentionConfig {
            n_heads,
            n_kv_heads,
            head_dim,
            scale: 1.0 / (head_dim as f32).sqrt(),
            window,
        };
        Prompt {
            config,
            k: to_bf16(&g.vec(len * n_kv_heads * head_dim, 2.0)),
            v: to_bf16(&g.vec(len * n_kv_heads * head_dim, 2.0)),
            q: g.vec(len * n_heads * head_dim, 2.0),
        }
    }

    fn query_len(&self) -> usize {
        self.config.n_heads * self.config.head_dim
    }

    fn kv_len(&self) -> usize {
        self.config.n_kv_heads * self.config.head_dim
    }

    /// Attention for the queries at `range`, seeing only the cache filled so far
    /// (`0..range.end`), as an incremental prefill would.
    fn attend(&self, range: std::ops::Range<usize>) -> Vec<f32> {
        let positions: Vec<u32> = range.clone().map(|p| p as u32).collect();
        let q = &self.q[range.start * self.query_len()..range.end * self.query_len()];
        let kv = KvView {
            k: &self.k[..range.end * self.kv_len()],
            v: &self.v[..range.end * self.kv_len()],
        };
        let mut out = vec![0.0; q.len()];
        attention(&self.config, q, &positions, kv, &mut out).expect("valid shapes");
        out
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]

    #[test]
    fn matmul_rows_equal_matvec_of_each_token_in_any_chunking(
        seed in any::<u64>(), rows in 1usize..70, cols in 1usize..200, tokens in 1usize..12,
    ) {
        let mut g = Gen::new(seed);
        let w = to_bf16(&g.vec(rows * cols, 0.3));
        let view = WeightView::bf16(&w, rows, cols).unwrap();
        let x = g.vec(tokens * cols, 3.0);
        let whole = run_matmul(view, &x);
        for t in 0..tokens {
            let mut one = vec![0.0; rows];
            matvec(view, &x[t * cols..(t + 1) * cols], &mut one).unwrap();
            prop_assert_eq!(bits(&one), bits(&whole[t * rows..(t + 1) * rows]));
        }
        let mut chunked = Vec::new();
        for range in random_chunks(&mut g, tokens, 5) {
            chunked.extend(run_matmul(view, &x[range.start * cols..range.end * cols]));
        }
        prop_assert_eq!(bits(&chunked), bits(&whole));
    }

    #[test]
    fn prepared_weights_give_the_bits_of_the_raw_weights(
        seed in any::<u64>(), rows in 1usize..40, cols in 1usize..150, tokens in 1usize..6,
    ) {
        // Arbitrary bit patterns: tiny, huge, infinite and NaN weights all take the clamp.
        let mut g = Gen::new(seed);
        let w: Vec<bf16> = (0..rows * cols).map(|_| bf16::from_bits(g.next_u64() as u16)).collect();
        let x = g.vec(tokens * cols, 3.0);
        let raw = run_matmul(WeightView::bf16(&w, rows, cols).unwrap(), &x);
        let prepared = PreparedWeights::bf16(w, rows, cols).unwrap();
        prop_assert!(prepared.view().is_prepared());
        prop_assert_eq!(bits(&run_matmul(prepared.view(), &x)), bits(&raw));
    }

    #[test]
    fn attention_prefill_equals_random_chunks_and_token_by_token(
        seed in any::<u64>(), len in 1usize..140, gqa in 0usize..3,
        window in proptest::option::of(1usize..100),
    ) {
        let mut g = Gen::new(seed);
        let (n_heads, n_kv_heads) = [(4, 4), (4, 2), (6, 1)][gqa];
        let prompt = Prompt::new(&mut g, len, (n_heads, n_kv_heads, 8), window);
        let at_once = prompt.attend(0..len);
        let mut chunked = Vec::new();
        for range in random_chunks(&mut g, len, 40) {
            chunked.extend(prompt.attend(range));
        }
        prop_assert_eq!(bits(&chunked), bits(&at_once));
        let one_by_one: Vec<f32> = (0..len).flat_map(|p| prompt.attend(p..p + 1)).collect();
        prop_assert_eq!(bits(&one_by_one), bits(&at_once));
    }

    #[test]
    fn windowed_attention_ignores_every_key_and_value_before_the_window(
        seed in any::<u64>(), len in 2usize..140, window in 1usize..100,
    ) {
        // Each query alone, so the cache before its window can be replaced with arbitrary
        // bits (NaN and infinities included) without touching what it sees.
        let mut g = Gen::new(seed);
        let mut prompt = Prompt::new(&mut g, len, (4, 2, 8), Some(window));
        let p = g.below(len);
        let before = prompt.attend(p..p + 1);
        let hidden = (p + 1).saturating_sub(window) * prompt.kv_len();
        let noise: Vec<bf16> = (0..2 * hidden).map(|_| bf16::from_bits(g.next_u64() as u16)).collect();
        prompt.k[..hidden].copy_from_slice(&noise[..hidden]);
        prompt.v[..hidden].copy_from_slice(&noise[hidden..]);
        prop_assert_eq!(bits(&prompt.attend(p..p + 1)), bits(&before));
    }

    #[test]
    fn a_window_at_least_the_context_gives_the_bits_of_no_window(
        seed in any::<u64>(), len in 1usize..100, extra in 0usize..40,
    ) {
        let mut g = Gen::new(seed);
        let mut prompt = Prompt::new(&mut g, len, (4, 2, 8), None);
        let unwindowed = prompt.attend(0..len);
        prompt.config.window = Some(len + extra);
        prop_assert_eq!(bits(&prompt.attend(0..len)), bits(&unwindowed));
    }

    #[test]
    fn rms_norm_and_rope_rows_do_not_depend_on_their_batch(seed in any::<u64>(), tokens in 1usize..10) {
        let mut g = Gen::new(seed);
        let (n_heads, head_dim) = (3, 16);
        let dim = n_heads * head_dim;
        let x = g.vec(tokens * dim, 5.0);
        let w = g.vec(dim, 1.0);
        let params = RmsNormParams { eps: 1.0e-6, weight: NormWeight::Scale };
        let mut whole = vec![0.0; x.len()];
        rms_norm(&x, &w, params, &mut whole).unwrap();
        let table = RopeTable::new(&inv_freq_from_base(1.0e6, head_dim).unwrap(), 64).unwrap();
        let positions: Vec<u32> = (0..tokens as u32).map(|t| 3 * t + 1).collect();
        rope_apply(&table, RopeLayout::RotateHalf, &positions, &mut whole, n_heads).unwrap();
        for t in 0..tokens {
            let mut one = vec![0.0; dim];
            rms_norm(&x[t * dim..(t + 1) * dim], &w, params, &mut one).unwrap();
            rope_apply(&table, RopeLayout::RotateHalf, &positions[t..t + 1], &mut one, n_heads).unwrap();
            prop_assert_eq!(bits(&one), bits(&whole[t * dim..(t + 1) * dim]));
        }
    }
}

#[test]
fn matmul_and_matvec_give_the_same_bits_on_one_and_two_threads() {
    let mut g = Gen::new(11);
    let (rows, cols, tokens) = (300, 257, 5);
    let w = to_bf16(&g.vec(rows * cols, 0.2));
    let wf = g.vec(rows * cols, 0.2);
    let x = g.vec(tokens * cols, 2.0);
    for view in [
        WeightView::bf16(&w, rows, cols).unwrap(),
        WeightView::f32(&wf, rows, cols).unwrap(),
    ] {
        let one = pool(1).install(|| run_matmul(view, &x));
        let two = pool(2).install(|| run_matmul(view, &x));
        assert_eq!(bits(&one), bits(&two));
        let single = |threads: usize| {
            pool(threads).install(|| {
                let mut out = vec![0.0; rows];
                matvec(view, &x[..cols], &mut out).unwrap();
                out
            })
        };
        assert_eq!(bits(&single(1)), bits(&single(2)));
    }
}

#[test]
fn attention_gives_the_same_bits_on_one_and_two_threads() {
    let mut g = Gen::new(12);
    for window in [None, Some(40)] {
        let prompt = Prompt::new(&mut g, 90, (8, 2, 32), window);
        let one = pool(1).install(|| prompt.attend(0..90));
        let two = pool(2).install(|| prompt.attend(0..90));
        assert_eq!(bits(&one), bits(&two), "window {window:?}");
    }
}
