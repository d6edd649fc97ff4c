//! The determinism contract at model level: a sequence prefilled at once, in chunks, or one
//! token at a time gives the same logits and KV bytes, bit for bit; and the forward pass
//! reaches the cache only through the [`KvCache`] interface (a cache that scatters its
//! blocks gives the same bits).

mod common;

use fak_backends::{Backend, CpuBackend, KV_BLOCK_TOKENS, KvLayout, KvRows};
use fak_models::{
    Activations, GenerateOptions, KvCache, KvCacheError, KvLayer, Logits, Model, SamplingParams,
    SequenceKv,
};

use common::{FIXTURES, generated_tokens, load, reference};

/// Every layer's K and V rows of positions `0..len`, as bf16 bits.
fn kv_rows(model: &Model<CpuBackend>, kv: &SequenceKv<CpuBackend>) -> Vec<KvRows> {
    let slots = kv.slots(0..kv.len()).unwrap();
    (0..model.config().num_layers)
        .map(|layer| {
            model
                .backend()
                .kv_read(kv.pool(layer).unwrap(), &slots)
                .unwrap()
        })
        .collect()
}

/// All-position logits (as bits) and KV rows of `ids`, sent in pieces of `chunk_sizes`
/// (cycled).
fn run_in_chunks(
    model: &Model<CpuBackend>,
    ids: &[u32],
    chunk_sizes: &[usize],
) -> (Vec<u32>, Vec<KvRows>) {
    let mut kv = SequenceKv::new(&**model.backend(), model.config(), ids.len()).unwrap();
    let mut activations = Activations::new();
    let mut logits = Vec::new();
    let mut rest = ids;
    for &size in chunk_sizes.iter().cycle() {
        if rest.is_empty() {
            break;
        }
        let (chunk, tail) = rest.split_at(size.min(rest.len()));
        logits.extend(
            model
                .forward(&mut activations, &mut kv, chunk, Logits::All)
                .unwrap(),
        );
        rest = tail;
    }
    let bits = logits.iter().map(|v| v.to_bits()).collect();
    (bits, kv_rows(model, &kv))
}

#[test]
fn one_shot_chunked_and_token_by_token_prefill_give_identical_bits_on_every_fixture() {
    for name in FIXTURES {
        let model = load(name);
        let long = &reference(name).sequences[0];
        assert!(
            long.ids.len() > 3 * KV_BLOCK_TOKENS,
            "crosses several KV blocks"
        );
        let one_shot = run_in_chunks(&model, &long.ids, &[long.ids.len()]);
        let chunked = run_in_chunks(&model, &long.ids, &[7, 25, 1, 40]);
        let token_by_token = run_in_chunks(&model, &long.ids, &[1]);
        assert!(one_shot.0 == chunked.0, "{name}: chunked logits differ");
        assert!(one_shot.1 == chunked.1, "{name}: chunked KV differs");
        assert!(
            one_shot.0 == token_by_token.0,
            "{name}: token-by-token logits differ"
        );
        assert!(
            one_shot.1 == token_by_token.1,
            "{name}: token-by-token KV differs"
        );
    }
}

/// Asking for the last row's logits, or for none, gives that row's bits and stores the
/// same KV as asking for every row: the last layer carries on with the kept rows only, after
/// its keys and values are stored.
#[test]
fn last_row_or_no_logits_give_the_bits_and_kv_of_all_logits_on_every_fixture() {
    for name in FIXTURES {
        let model = load(name);
        let ids = &reference(name).sequences[0].ids;
        let vocab = model.config().vocab_size;
        let (all, all_kv) = run_in_chunks(&model, ids, &[ids.len()]);
        for logits in [Logits::Last, Logits::None] {
            let mut kv = SequenceKv::new(&**model.backend(), model.config(), ids.len()).unwrap();
            let rows = model
                .forward(&mut Activations::new(), &mut kv, ids, logits)
                .unwrap();
            let rows: Vec<u32> = rows.iter().map(|v| v.to_bits()).collect();
            let expected = match logits {
                Logits::Last => &all[all.len() - vocab..],
                _ => &[][..],
            };
            assert!(rows == expected, "{name} {logits:?}: logits differ");
            assert!(
                kv_rows(&model, &kv) == all_kv,
                "{name} {logits:?}: KV differs"
            );
        }
    }
}

#[test]
fn generation_does_not_depend_on_the_prefill_chunk_size() {
    let model = load("llama3");
    let prompt = &reference("llama3").greedy.prompts[0];
    let run = |prefill_chunk| {
        let options = GenerateOptions {
            max_tokens: 16,
            prefill_chunk,
            ..GenerateOptions::default()
        };
        generated_tokens(&model, &prompt.ids, &options)
    };
    assert_eq!(run(1), run(512));
    assert_eq!(run(3), run(512));
}

#[test]
fn seeded_sampling_repeats_for_a_seed_and_differs_across_seeds() {
    let model = load("qwen2");
    let prompt = &reference("qwen2").greedy.prompts[0];
    let run = |seed| {
        let options = GenerateOptions {
            max_tokens: 24,
            sampling: SamplingParams {
                temperature: 1.5,
                top_k: 0,
                top_p: 1.0,
            },
            seed,
            ..GenerateOptions::default()
        };
        generated_tokens(&model, &prompt.ids, &options)
    };
    assert_eq!(run(7), run(7));
    assert_ne!(run(7), run(8), "24 draws at temperature 1.5 from two seeds");
}

/// A cache that scatters a sequence's blocks over a larger pool in reverse order, as a
/// shared block pool would: the forward pass must find every position through the table.
#[derive(Debug)]
struct ScatteredKv {
    pools: Vec<<CpuBackend as Backend>::Kv>,
    blocks: usize,
    block_table: Vec<u32>,
    slots: Vec<u32>,
    len: usize,
}

impl ScatteredKv {
    fn new(backend: &CpuBackend, model: &Model<CpuBackend>, blocks: usize) -> Self {
        let c = model.config();
        let layout = KvLayout {
            blocks,
            n_kv_heads: c.num_kv_heads,
            head_dim: c.head_dim,
        };
        Self {
            pools: (0..c.num_layers)
                .map(|_| backend.kv_alloc(layout).unwrap())
                .collect(),
            blocks,
            block_table: Vec::new(),
            slots: Vec::new(),
            len: 0,
        }
    }
}

impl KvCache<CpuBackend> for ScatteredKv {
    fn len(&self) -> usize {
        self.len
    }

    fn reserve(&mut self, _: &CpuBackend, tokens: &[u32]) -> Result<(), KvCacheError> {
        let end = self.len + tokens.len();
        while self.block_table.len() < end.div_ceil(KV_BLOCK_TOKENS) {
            // Blocks from the top of the pool down, skipping every other one.
            let next = self.blocks - 1 - 2 * self.block_table.len();
            self.block_table.push(next as u32);
        }
        self.slots = (self.len..end)
            .map(|p| {
                self.block_table[p / KV_BLOCK_TOKENS] * KV_BLOCK_TOKENS as u32
                    + (p % KV_BLOCK_TOKENS) as u32
            })
            .collect();
        Ok(())
    }

    fn layer(&mut self, layer: usize) -> Result<KvLayer<'_, CpuBackend>, KvCacheError> {
        let blocks = (self.len + self.slots.len()).div_ceil(KV_BLOCK_TOKENS);
        Ok(KvLayer {
            pool: &mut self.pools[layer],
            block_table: &self.block_table[..blocks],
            slots: &self.slots,
        })
    }

    fn commit(&mut self) -> Result<(), KvCacheError> {
        self.len += self.slots.len();
        self.slots.clear();
        Ok(())
    }
}

#[test]
fn a_cache_that_scatters_its_blocks_gives_the_same_logits_and_kv_as_a_contiguous_one() {
    let model = load("mistral");
    let ids = &reference("mistral").sequences[0].ids;
    let backend = CpuBackend::new();
    let (want_logits, want_kv) = run_in_chunks(&model, ids, &[10, 33]);

    let mut kv = ScatteredKv::new(&backend, &model, 16);
    let mut activations = Activations::new();
    let mut logits = Vec::new();
    for chunk in ids.chunks(33) {
        logits.extend(
            model
                .forward(&mut activations, &mut kv, chunk, Logits::All)
                .unwrap(),
        );
    }
    let bits: Vec<u32> = logits.iter().map(|v| v.to_bits()).collect();
    assert!(bits == want_logits);
    assert_eq!(kv.block_table, [15, 13, 11, 9]);
    let slots: Vec<u32> = (0..ids.len())
        .map(|p| {
            kv.block_table[p / KV_BLOCK_TOKENS] * KV_BLOCK_TOKENS as u32
                + (p % KV_BLOCK_TOKENS) as u32
        })
        .collect();
    for (layer, want) in want_kv.iter().enumerate() {
        assert_eq!(&backend.kv_read(&kv.pools[layer], &slots).unwrap(), want);
    }
}
