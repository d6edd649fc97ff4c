//! A session: a block list over the store's pool, the tokens it holds and their spans.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use fak_backends::{Backend, KV_BLOCK_TOKENS, KvRows};
use fak_models::{Activations, Logits, slot_of};

use super::cache_view::CacheView;
use super::{BlockHash, BlockPool, KvError, KvStore, Span, SpanId, SpanMeta, SpanTable};

/// Tokens per forward call when a long run is computed: bounds activation memory.
const PREFILL_CHUNK: usize = 512;

/// What an append or an excision cost: positions computed by the forward pass, and
/// positions of the resulting session taken as they were (kept, forked or adopted).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct EditStats {
    pub computed: usize,
    pub reused: usize,
}

/// One conversation's KV cache: what the model has read, where each part came from, and
/// the logits of its last position.
#[derive(Debug)]
pub struct Session<B: Backend> {
    pub(super) store: KvStore<B>,
    pub(super) tokens: Vec<u32>,
    /// Block `i` holds positions `i * KV_BLOCK_TOKENS ..`; one held reference each.
    pub(super) blocks: Vec<u32>,
    pub(super) spans: SpanTable,
    pub(super) logits: Option<Vec<f32>>,
    pub(super) last_edit: EditStats,
    readers: Arc<AtomicUsize>,
    activations: Activations<B>,
}

/// What an excision can restore: the session as it was, its blocks held once more.
struct Snapshot {
    tokens: Vec<u32>,
    blocks: Vec<u32>,
    spans: SpanTable,
    logits: Option<Vec<f32>>,
}

impl<B: Backend> Session<B> {
    pub(super) fn new(store: KvStore<B>) -> Self {
        Self::from_parts(store, Vec::new(), Vec::new(), SpanTable::default(), None)
    }

    /// A session over `blocks`, whose references the caller hands over.
    pub(super) fn from_parts(
        store: KvStore<B>,
        tokens: Vec<u32>,
        blocks: Vec<u32>,
        spans: SpanTable,
        logits: Option<Vec<f32>>,
    ) -> Self {
        Self {
            store,
            tokens,
            blocks,
            spans,
            logits,
            last_edit: EditStats::default(),
            readers: Arc::new(AtomicUsize::new(0)),
            activations: Activations::new(),
        }
    }

    /// Positions held.
    pub fn len(&self) -> usize {
        self.tokens.len()
    }

    pub fn is_empty(&self) -> bool {
        self.tokens.is_empty()
    }

    /// The token ids, position by position.
    pub fn tokens(&self) -> &[u32] {
        &self.tokens
    }

    pub fn spans(&self) -> &SpanTable {
        &self.spans
    }

    /// The logits of the last position (`None` for an empty session).
    pub fn logits(&self) -> Option<&[f32]> {
        self.logits.as_deref()
    }

    /// The physical blocks of the session, in position order.
    pub fn blocks(&self) -> &[u32] {
        &self.blocks
    }

    /// What the last append or excision computed and reused.
    pub fn last_edit(&self) -> EditStats {
        self.last_edit
    }

    pub fn store(&self) -> &KvStore<B> {
        &self.store
    }

    /// Appends `tokens` as one span described by `meta`.
    pub fn append(&mut self, tokens: &[u32], meta: SpanMeta) -> Result<SpanId, KvError> {
        let start = self.len();
        self.append_untagged(tokens)?;
        // Cannot fail: the range is new, non-empty and inside the tokens.
        self.spans.insert(start..self.len(), meta, &self.tokens)
    }

    /// Appends `tokens` outside any span (template glue, a generated token).
    pub fn append_untagged(&mut self, tokens: &[u32]) -> Result<(), KvError> {
        self.check_unread()?;
        self.check_tokens(tokens)?;
        let store = self.store.clone();
        let mut pool = store.pool();
        let (old_len, old_logits) = (self.len(), self.logits.clone());
        match self.extend(&mut pool, tokens) {
            Ok(stats) => {
                self.last_edit = stats;
                Ok(())
            }
            Err(e) => {
                // Rows written past the old length are ignored; blocks taken are given back.
                self.truncate(&mut pool, old_len);
                self.logits = old_logits;
                Err(e)
            }
        }
    }

    /// Names positions `range` (already appended, outside any span) as a span: a caller
    /// that tokenized a whole rendered prompt marks where the tool result landed.
    pub fn tag(
        &mut self,
        range: std::ops::Range<usize>,
        meta: SpanMeta,
    ) -> Result<SpanId, KvError> {
        self.spans.insert(range, meta, &self.tokens)
    }

    /// Marks span `id` quarantined: a verdict arrived against tokens already in the session
    /// (a secret found late, a revoked document). Nothing is recomputed; [`Self::excise`]
    /// is what takes the tokens out, and until then the span table says why they must go.
    pub fn quarantine(&mut self, id: SpanId) -> Result<&Span, KvError> {
        self.spans.quarantine(id)
    }

    /// A second session with the same tokens, spans and logits, sharing every block. Nothing
    /// is copied until one of them writes into a shared partial block.
    pub fn fork(&self) -> Session<B> {
        let mut pool = self.store.pool();
        for &b in &self.blocks {
            pool.retain(b);
        }
        drop(pool);
        let mut fork = Self::from_parts(
            self.store.clone(),
            self.tokens.clone(),
            self.blocks.clone(),
            self.spans.clone(),
            self.logits.clone(),
        );
        fork.last_edit = EditStats {
            computed: 0,
            reused: self.len(),
        };
        fork
    }

    /// Cuts span `id` out: the blocks before it stay, and every position after it is
    /// computed again where it now lies, so no row that attended to the span survives.
    /// The cost is the suffix after the span (at least one position, for the logits).
    pub fn excise(&mut self, id: SpanId) -> Result<EditStats, KvError> {
        self.check_unread()?;
        let range = self
            .spans
            .get(id)
            .ok_or(KvError::UnknownSpan(id))?
            .range
            .clone();
        let mut edited = self.tokens[..range.start].to_vec();
        edited.extend_from_slice(&self.tokens[range.end..]);
        let mut spans = self.spans.clone();
        spans.cut(id)?;
        let store = self.store.clone();
        let mut pool = store.pool();
        let snapshot = self.snapshot(&mut pool);
        match self.rebuild(&mut pool, &edited, range.start) {
            Ok(stats) => {
                self.spans = spans;
                release_all(&mut pool, &snapshot.blocks);
                self.last_edit = stats;
                Ok(stats)
            }
            Err(e) => {
                self.restore(&mut pool, snapshot);
                Err(e)
            }
        }
    }

    /// A read lease: the session's tokens and rows as they are now. While any lease lives
    /// the session refuses to change ([`KvError::InUse`]), so a reader never sees a span
    /// that was excised under it.
    pub fn lease(&self) -> ReadLease<B> {
        let mut pool = self.store.pool();
        for &b in &self.blocks {
            pool.retain(b);
        }
        self.readers.fetch_add(1, Ordering::SeqCst);
        ReadLease {
            store: self.store.clone(),
            tokens: self.tokens.clone(),
            blocks: self.blocks.clone(),
            readers: self.readers.clone(),
        }
    }

    /// Layer `layer`'s K and V rows of every position, as bf16 bits.
    pub fn kv_rows(&self, layer: usize) -> Result<KvRows, KvError> {
        read_rows(&self.store, &self.blocks, self.len(), layer)
    }

    fn check_unread(&self) -> Result<(), KvError> {
        match self.readers.load(Ordering::SeqCst) {
            0 => Ok(()),
            readers => Err(KvError::InUse { readers }),
        }
    }

    fn check_tokens(&self, tokens: &[u32]) -> Result<(), KvError> {
        let model = self.store.model();
        if tokens.is_empty() {
            return Err(KvError::EmptyAppend);
        }
        let vocab = model.config().vocab_size;
        if let Some(&id) = tokens.iter().find(|&&t| t as usize >= vocab) {
            return Err(KvError::TokenOutOfRange { id, vocab });
        }
        let requested = self.len() + tokens.len();
        if requested > model.context() {
            return Err(KvError::ContextExceeded {
                requested,
                context: model.context(),
            });
        }
        Ok(())
    }

    /// Makes the session hold `edited` (whose first `unchanged` tokens are the session's
    /// own): keeps the blocks before, computes the rest.
    fn rebuild(
        &mut self,
        pool: &mut BlockPool<B>,
        edited: &[u32],
        unchanged: usize,
    ) -> Result<EditStats, KvError> {
        // The last position is always computed: its logits are the session's.
        let keep = unchanged.min(edited.len().saturating_sub(1));
        self.truncate(pool, keep);
        if edited.len() == keep {
            self.logits = None;
            return Ok(EditStats::default());
        }
        self.extend(pool, &edited[keep..])
    }

    /// Adds `tokens` after the session's positions: full blocks the pool already holds for
    /// this exact prefix are adopted, the rest is computed. Not undone on failure: the
    /// callers roll back.
    fn extend(&mut self, pool: &mut BlockPool<B>, tokens: &[u32]) -> Result<EditStats, KvError> {
        let model = self.store.model().clone();
        let fingerprint = model.fingerprint();
        let mut rest = tokens;
        // Adopt whole blocks, but never the one holding the last token: its logits are
        // needed, and only the forward pass makes them.
        while self.len().is_multiple_of(KV_BLOCK_TOKENS) && rest.len() > KV_BLOCK_TOKENS {
            let parent = self.blocks.last().and_then(|&b| pool.hash(b));
            let hash = BlockHash::of(
                &fingerprint,
                parent.as_ref(),
                self.len(),
                &rest[..KV_BLOCK_TOKENS],
            );
            let Some(block) = pool.adopt(&hash) else {
                break;
            };
            self.blocks.push(block);
            self.tokens.extend_from_slice(&rest[..KV_BLOCK_TOKENS]);
            rest = &rest[KV_BLOCK_TOKENS..];
        }
        let chunks = rest.len().div_ceil(PREFILL_CHUNK);
        for (i, chunk) in rest.chunks(PREFILL_CHUNK).enumerate() {
            let rows = if i + 1 == chunks {
                Logits::Last
            } else {
                Logits::None
            };
            let start = self.len();
            let mut view = CacheView::new(pool, &mut self.blocks, start);
            let result = model.forward(&mut self.activations, &mut view, chunk, rows);
            let refusal = view.refusal.take();
            let logits = result.map_err(|e| refusal.unwrap_or(e.into()))?;
            self.tokens.extend_from_slice(chunk);
            if rows == Logits::Last {
                self.logits = Some(logits);
            }
            self.seal_full_blocks(pool, &fingerprint, start);
        }
        Ok(EditStats {
            computed: rest.len(),
            reused: self.len() - rest.len(),
        })
    }

    /// Names the blocks filled since position `from` by their content.
    fn seal_full_blocks(&mut self, pool: &mut BlockPool<B>, fingerprint: &[u8; 32], from: usize) {
        for i in from / KV_BLOCK_TOKENS..self.len() / KV_BLOCK_TOKENS {
            if pool.hash(self.blocks[i]).is_some() {
                continue;
            }
            let parent = i.checked_sub(1).and_then(|p| pool.hash(self.blocks[p]));
            let start = i * KV_BLOCK_TOKENS;
            let hash = BlockHash::of(
                fingerprint,
                parent.as_ref(),
                start,
                &self.tokens[start..start + KV_BLOCK_TOKENS],
            );
            self.blocks[i] = pool.seal(self.blocks[i], hash);
        }
    }

    /// Keeps the first `len` positions and gives back the blocks after them (spans are the
    /// caller's to fix). Rows of the
    /// tail block past `len` stay as they are; they are outside the session and the next
    /// write replaces them (in a private copy if the block is shared or sealed).
    fn truncate(&mut self, pool: &mut BlockPool<B>, len: usize) {
        let keep = len.div_ceil(KV_BLOCK_TOKENS);
        for b in self.blocks.drain(keep.min(self.blocks.len())..) {
            pool.release(b);
        }
        self.tokens.truncate(len);
    }

    fn snapshot(&self, pool: &mut BlockPool<B>) -> Snapshot {
        for &b in &self.blocks {
            pool.retain(b);
        }
        Snapshot {
            tokens: self.tokens.clone(),
            blocks: self.blocks.clone(),
            spans: self.spans.clone(),
            logits: self.logits.clone(),
        }
    }

    fn restore(&mut self, pool: &mut BlockPool<B>, snapshot: Snapshot) {
        release_all(pool, &self.blocks);
        self.tokens = snapshot.tokens;
        self.blocks = snapshot.blocks;
        self.spans = snapshot.spans;
        self.logits = snapshot.logits;
    }
}

impl<B: Backend> Drop for Session<B> {
    fn drop(&mut self) {
        release_all(&mut self.store.pool(), &self.blocks);
    }
}

fn release_all<B: Backend>(pool: &mut BlockPool<B>, blocks: &[u32]) {
    for &b in blocks {
        pool.release(b);
    }
}

/// The rows of positions `0..len` of a block list, for one layer.
pub(super) fn read_rows<B: Backend>(
    store: &KvStore<B>,
    blocks: &[u32],
    len: usize,
    layer: usize,
) -> Result<KvRows, KvError> {
    let pool = store.pool();
    if layer >= pool.layer_count() {
        return Err(KvError::NoSuchLayer {
            layer,
            layers: pool.layer_count(),
        });
    }
    let slots: Vec<u32> = (0..len).map(|p| slot_of(blocks, p)).collect();
    Ok(store.model().backend().kv_read(pool.layer(layer), &slots)?)
}

/// A frozen view of a session: its tokens and rows as they were when leased. The session
/// cannot change while the lease lives.
#[derive(Debug)]
pub struct ReadLease<B: Backend> {
    store: KvStore<B>,
    tokens: Vec<u32>,
    blocks: Vec<u32>,
    readers: Arc<AtomicUsize>,
}

impl<B: Backend> ReadLease<B> {
    pub fn tokens(&self) -> &[u32] {
        &self.tokens
    }

    /// Layer `layer`'s K and V rows of every leased position.
    pub fn kv_rows(&self, layer: usize) -> Result<KvRows, KvError> {
        read_rows(&self.store, &self.blocks, self.tokens.len(), layer)
    }
}

impl<B: Backend> Drop for ReadLease<B> {
    fn drop(&mut self) {
        release_all(&mut self.store.pool(), &self.blocks);
        self.readers.fetch_sub(1, Ordering::SeqCst);
    }
}
