//! Core dumps of a session: written whole, checked whole before anything is loaded.
//!
//! Layout (integers little-endian):
//!
//! ```text
//! b"FAKKVDMP"  u32 format version  u64 header length  header (JSON)
//! body: for each layer, the K rows then the V rows of positions 0..len (bf16 bits)
//! SHA-256 of everything before it (32 bytes)
//! ```
//!
//! The header names the model fingerprint, the KV shape, the tokens, the span table and
//! the last logits (as f32 bits, so they come back exactly). Loading adopts any full block
//! the pool already holds for the same prefix and writes only the others; nothing is
//! computed.

use std::io::Write;
use std::path::Path;

use fak_backends::{Backend, KV_BLOCK_TOKENS, KvRows};
use fak_models::slot_of;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::{BlockHash, BlockPool, KvError, KvStore, Session, SpanTable};

const MAGIC: &[u8; 8] = b"FAKKVDMP";
/// The format this build writes and reads.
pub const DUMP_VERSION: u32 = 1;
const PREAMBLE: usize = MAGIC.len() + 4 + 8;
const CHECKSUM: usize = 32;

#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Header {
    /// Hex SHA-256 of the model ([`fak_models::Model::fingerprint`]).
    model: String,
    layers: usize,
    n_kv_heads: usize,
    head_dim: usize,
    block_tokens: usize,
    tokens: Vec<u32>,
    spans: SpanTable,
    logits_bits: Option<Vec<u32>>,
    /// The backend that wrote it (informational: KV bytes are the same on every backend).
    backend: String,
}

impl<B: Backend> Session<B> {
    /// Writes the session to `path` (atomically: a reader never sees half a dump). Returns
    /// the bytes written.
    pub fn dump(&self, path: &Path) -> Result<u64, KvError> {
        let model = self.store.model();
        let c = model.config();
        let header = Header {
            model: hex::encode(model.fingerprint()),
            layers: c.num_layers,
            n_kv_heads: c.num_kv_heads,
            head_dim: c.head_dim,
            block_tokens: KV_BLOCK_TOKENS,
            tokens: self.tokens.clone(),
            spans: self.spans.clone(),
            logits_bits: self
                .logits
                .as_ref()
                .map(|l| l.iter().map(|x| x.to_bits()).collect()),
            backend: model.backend().device().backend.to_string(),
        };
        let header = serde_json::to_vec(&header).map_err(|e| KvError::DumpCorrupt {
            path: path.to_owned(),
            reason: format!("cannot encode the header: {e}"),
        })?;
        let mut bytes = Vec::with_capacity(PREAMBLE + header.len() + CHECKSUM);
        bytes.extend_from_slice(MAGIC);
        bytes.extend_from_slice(&DUMP_VERSION.to_le_bytes());
        bytes.extend_from_slice(&(header.len() as u64).to_le_bytes());
        bytes.extend_from_slice(&header);
        for layer in 0..c.num_layers {
            let rows = self.kv_rows(layer)?;
            for half in [&rows.k, &rows.v] {
                bytes.extend(half.iter().flat_map(|x| x.to_le_bytes()));
            }
        }
        let sum = Sha256::digest(&bytes);
        bytes.extend_from_slice(&sum);
        write_atomically(path, &bytes)?;
        Ok(bytes.len() as u64)
    }
}

fn write_atomically(path: &Path, bytes: &[u8]) -> Result<(), KvError> {
    let io = |source| KvError::DumpIo {
        path: path.to_owned(),
        source,
    };
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    let mut file = tempfile::NamedTempFile::new_in(dir).map_err(io)?;
    file.write_all(bytes).map_err(io)?;
    file.as_file().sync_all().map_err(io)?;
    file.persist(path).map_err(|e| io(e.error))?;
    Ok(())
}

impl<B: Backend> KvStore<B> {
    /// A session from a dump of this model. A dump of another model or format version, or
    /// one whose bytes do not check out, is refused before the pool is touched.
    pub fn load(&self, path: &Path) -> Result<Session<B>, KvError> {
        let bytes = std::fs::read(path).map_err(|source| KvError::DumpIo {
            path: path.to_owned(),
            source,
        })?;
        let dump = Parsed::check(self, path, &bytes)?;
        let mut pool = self.pool();
        let blocks = place(self, &mut pool, &dump)?;
        drop(pool);
        let mut session = Session::from_parts(
            self.clone(),
            dump.header.tokens,
            blocks,
            dump.header.spans,
            dump.header
                .logits_bits
                .map(|b| b.into_iter().map(f32::from_bits).collect()),
        );
        session.last_edit.reused = session.len();
        Ok(session)
    }
}

/// A dump that passed every check, with its rows per layer.
struct Parsed {
    header: Header,
    layers: Vec<KvRows>,
}

impl Parsed {
    fn check<B: Backend>(store: &KvStore<B>, path: &Path, bytes: &[u8]) -> Result<Self, KvError> {
        let corrupt = |reason: String| KvError::DumpCorrupt {
            path: path.to_owned(),
            reason,
        };
        if bytes.len() < PREAMBLE + CHECKSUM || &bytes[..MAGIC.len()] != MAGIC {
            return Err(corrupt("not a fak KV dump (no FAKKVDMP magic)".into()));
        }
        let version = u32::from_le_bytes(bytes[8..12].try_into().unwrap_or_default());
        if version != DUMP_VERSION {
            return Err(KvError::DumpVersion {
                path: path.to_owned(),
                found: version,
                supported: DUMP_VERSION,
            });
        }
        let (content, sum) = bytes.split_at(bytes.len() - CHECKSUM);
        if Sha256::digest(content).as_slice() != sum {
            return Err(corrupt("the checksum does not match its contents".into()));
        }
        let header_len = u64::from_le_bytes(bytes[12..20].try_into().unwrap_or_default());
        let body_start = usize::try_from(header_len)
            .ok()
            .and_then(|l| l.checked_add(PREAMBLE))
            .filter(|&end| end <= content.len())
            .ok_or_else(|| corrupt(format!("a header of {header_len} bytes overruns the file")))?;
        let header: Header = serde_json::from_slice(&content[PREAMBLE..body_start])
            .map_err(|e| corrupt(format!("header: {e}")))?;

        let model = store.model();
        let c = model.config();
        let loaded = hex::encode(model.fingerprint());
        if header.model != loaded {
            return Err(KvError::DumpWrongModel {
                path: path.to_owned(),
                dump: header.model,
                loaded,
            });
        }
        let shape = (
            header.layers,
            header.n_kv_heads,
            header.head_dim,
            header.block_tokens,
        );
        if shape != (c.num_layers, c.num_kv_heads, c.head_dim, KV_BLOCK_TOKENS) {
            return Err(corrupt(format!(
                "KV shape {shape:?} (layers, kv heads, head dim, block tokens) is not the model's"
            )));
        }
        let len = header.tokens.len();
        if len > model.context() {
            return Err(corrupt(format!(
                "{len} positions exceed the {} the model was loaded for",
                model.context()
            )));
        }
        if let Some(t) = header.tokens.iter().find(|&&t| t as usize >= c.vocab_size) {
            return Err(corrupt(format!("token {t} is outside the vocabulary")));
        }
        header.spans.check(&header.tokens).map_err(corrupt)?;
        let logits = header.logits_bits.as_ref().map_or(0, Vec::len);
        if logits != if len == 0 { 0 } else { c.vocab_size } {
            return Err(corrupt(format!(
                "{logits} logits for a vocabulary of {}",
                c.vocab_size
            )));
        }

        let values = len * c.kv_dim();
        let body = &content[body_start..];
        if body.len() != header.layers * values * 2 * 2 {
            return Err(corrupt(format!(
                "the body holds {} bytes; {len} positions need {}",
                body.len(),
                header.layers * values * 4
            )));
        }
        let words: Vec<u16> = body
            .chunks_exact(2)
            .map(|b| u16::from_le_bytes([b[0], b[1]]))
            .collect();
        let layers = words
            .chunks_exact(2 * values.max(1))
            .take(header.layers)
            .map(|l| KvRows {
                k: l[..values].to_vec(),
                v: l[values..2 * values].to_vec(),
            })
            .collect();
        Ok(Self { header, layers })
    }
}

/// The blocks of a checked dump, adopted from the pool or written; all or nothing.
fn place<B: Backend>(
    store: &KvStore<B>,
    pool: &mut BlockPool<B>,
    dump: &Parsed,
) -> Result<Vec<u32>, KvError> {
    let model = store.model();
    let fingerprint = model.fingerprint();
    let tokens = &dump.header.tokens;
    let mut blocks = Vec::new();
    let mut written = Vec::new();
    let result = (|| {
        let mut parent: Option<BlockHash> = None;
        for (i, chunk) in tokens.chunks(KV_BLOCK_TOKENS).enumerate() {
            let start = i * KV_BLOCK_TOKENS;
            let full = chunk.len() == KV_BLOCK_TOKENS;
            let hash = full.then(|| BlockHash::of(&fingerprint, parent.as_ref(), start, chunk));
            match hash.and_then(|h| pool.adopt(&h)) {
                Some(b) => blocks.push(b),
                None => {
                    let b = pool.alloc()?;
                    blocks.push(b);
                    written.push((i, hash));
                }
            }
            parent = hash;
        }
        write_rows(&**model.backend(), pool, dump, &blocks, &written)?;
        Ok(())
    })();
    if let Err(e) = result {
        for &b in &blocks {
            pool.release(b);
        }
        return Err(e);
    }
    for (i, hash) in written {
        if let Some(h) = hash {
            blocks[i] = pool.seal(blocks[i], h);
        }
    }
    Ok(blocks)
}

/// Writes the dump's rows into the blocks it did not find in the pool.
fn write_rows<B: Backend>(
    backend: &B,
    pool: &mut BlockPool<B>,
    dump: &Parsed,
    blocks: &[u32],
    written: &[(usize, Option<BlockHash>)],
) -> Result<(), KvError> {
    let len = dump.header.tokens.len();
    let n = pool.layout().row_len();
    let positions: Vec<usize> = written
        .iter()
        .flat_map(|&(i, _)| i * KV_BLOCK_TOKENS..((i + 1) * KV_BLOCK_TOKENS).min(len))
        .collect();
    let slots: Vec<u32> = positions.iter().map(|&p| slot_of(blocks, p)).collect();
    for (layer, rows) in dump.layers.iter().enumerate() {
        let pick = |half: &[u16]| -> Vec<u16> {
            positions
                .iter()
                .flat_map(|&p| half[p * n..(p + 1) * n].iter().copied())
                .collect()
        };
        let rows = KvRows {
            k: pick(&rows.k),
            v: pick(&rows.v),
        };
        backend.kv_write(&mut pool.layers_mut()[layer], &slots, &rows)?;
    }
    Ok(())
}
