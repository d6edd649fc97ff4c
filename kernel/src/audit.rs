//! The audit journal: one JSON line per decision, admission, vDSO answer and page-in,
//! hash-chained and written durably before the kernel acts on it.
//!
//! Each line holds digests and sizes, never raw arguments or results. Its `hash` is the
//! sha256 of the line's other fields as compact JSON in their fixed order (`seq` first,
//! `prev` last; `prev` is the hash of the line before, 64 zeros for the first line). Changing any field
//! of any line, deleting a line or swapping two breaks the chain at that line. Cutting
//! lines off the end leaves a shorter valid chain: compare the head against one recorded
//! elsewhere (`fak audit verify --head`) to catch that.

use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use serde::{Deserialize, Serialize};

use crate::canonical::sha256_hex;

/// `prev` of the first line.
pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// What a journal line records.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EventKind {
    #[default]
    Decision,
    Admission,
    VdsoHit,
    PageIn,
}

/// One journal line. A caller fills in the event's fields; [`Journal::append`] sets
/// `seq`, `prev` and `hash`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuditRecord {
    pub seq: u64,
    pub ts_ms: u64,
    pub trace: String,
    pub event: EventKind,
    pub tool: String,
    /// ALLOW, TRANSFORM, HOLD, DENY for decisions; ADMIT, PAGE_OUT, QUARANTINE for
    /// admissions; SERVED for vDSO answers.
    pub outcome: String,
    pub code: Option<String>,
    pub args_sha256: Option<String>,
    pub args_bytes: Option<u64>,
    pub result_sha256: Option<String>,
    pub result_bytes: Option<u64>,
    pub policy_epoch: u64,
    pub world_epoch: u64,
    pub prev: String,
    /// Left out of the serialization while empty, which is how the hashed body is made.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub hash: String,
}

impl AuditRecord {
    /// The hash this record should carry: sha256 of its fields except `hash`, as compact
    /// JSON in declaration order (serializing a struct fixes the order, so the same record
    /// always gives the same bytes).
    pub fn compute_hash(&self) -> String {
        let body = AuditRecord {
            hash: String::new(),
            ..self.clone()
        };
        // Plain strings, integers and a unit enum always serialize.
        sha256_hex(serde_json::to_string(&body).unwrap_or_default().as_bytes())
    }
}

#[derive(Debug, thiserror::Error)]
pub enum AuditError {
    #[error("audit journal {path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("audit journal {path} is broken, refusing to append: {error}")]
    Broken { path: PathBuf, error: VerifyError },
    #[error("audit journal lock poisoned")]
    Poisoned,
}

#[derive(Debug)]
enum Sink {
    File {
        file: File,
        path: PathBuf,
    },
    Memory(Vec<u8>),
    /// Chains and counts but stores nothing: for a kernel run without a journal file.
    Discard,
}

#[derive(Debug)]
struct Inner {
    sink: Sink,
    next_seq: u64,
    head: String,
}

/// An append-only, hash-chained journal. Appends are serialized by a lock.
#[derive(Debug)]
pub struct Journal {
    inner: Mutex<Inner>,
}

impl Journal {
    /// Opens a journal file, creating it if needed. An existing file is verified first and
    /// the chain continues from its last line; a broken file is an error.
    pub fn open(path: &Path) -> Result<Journal, AuditError> {
        let io = |source| AuditError::Io {
            path: path.to_path_buf(),
            source,
        };
        let (next_seq, head) = match File::open(path) {
            Ok(f) => {
                let summary = verify(BufReader::new(f), None).map_err(|error| match error {
                    VerifyError::Io(source) => io(source),
                    error => AuditError::Broken {
                        path: path.to_path_buf(),
                        error,
                    },
                })?;
                (summary.lines, summary.head)
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => (0, GENESIS.to_string()),
            Err(e) => return Err(io(e)),
        };
        let file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .map_err(io)?;
        Ok(Journal::with_sink(
            Sink::File {
                file,
                path: path.to_path_buf(),
            },
            next_seq,
            head,
        ))
    }

    /// A journal kept in memory (readable with [`Journal::memory_text`]).
    pub fn memory() -> Journal {
        Journal::with_sink(Sink::Memory(Vec::new()), 0, GENESIS.to_string())
    }

    /// A journal that keeps only its head hash and line count.
    pub fn discard() -> Journal {
        Journal::with_sink(Sink::Discard, 0, GENESIS.to_string())
    }

    fn with_sink(sink: Sink, next_seq: u64, head: String) -> Journal {
        Journal {
            inner: Mutex::new(Inner {
                sink,
                next_seq,
                head,
            }),
        }
    }

    /// Appends one line and makes it durable (fsync for a file) before returning.
    pub fn append(&self, mut record: AuditRecord) -> Result<AuditRecord, AuditError> {
        let mut inner = self.inner.lock().map_err(|_| AuditError::Poisoned)?;
        record.seq = inner.next_seq;
        record.prev = inner.head.clone();
        record.hash = String::new();
        record.hash = record.compute_hash();
        let mut line = serde_json::to_string(&record).unwrap_or_default();
        line.push('\n');
        match &mut inner.sink {
            Sink::File { file, path } => {
                let io = |source| AuditError::Io {
                    path: path.clone(),
                    source,
                };
                file.write_all(line.as_bytes()).map_err(io)?;
                file.sync_data().map_err(io)?;
            }
            Sink::Memory(buf) => buf.extend_from_slice(line.as_bytes()),
            Sink::Discard => {}
        }
        inner.next_seq += 1;
        inner.head = record.hash.clone();
        Ok(record)
    }

    /// The hash of the last line (GENESIS when empty).
    pub fn head(&self) -> String {
        self.inner
            .lock()
            .map(|i| i.head.clone())
            .unwrap_or_default()
    }

    /// Lines written so far (including those found when the file was opened).
    pub fn len(&self) -> u64 {
        self.inner.lock().map(|i| i.next_seq).unwrap_or(0)
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The journal's file, if it has one.
    pub fn path(&self) -> Option<PathBuf> {
        let inner = self.inner.lock().ok()?;
        match &inner.sink {
            Sink::File { path, .. } => Some(path.clone()),
            _ => None,
        }
    }

    /// The text of an in-memory journal.
    pub fn memory_text(&self) -> Option<String> {
        let inner = self.inner.lock().ok()?;
        match &inner.sink {
            Sink::Memory(buf) => Some(String::from_utf8_lossy(buf).into_owned()),
            _ => None,
        }
    }
}

/// A journal that verified: how many lines and the last hash.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VerifySummary {
    pub lines: u64,
    pub head: String,
}

/// Where and why verification failed. Lines are numbered from 1.
#[derive(Debug, thiserror::Error)]
pub enum VerifyError {
    #[error("line {line}: {reason}")]
    Broken { line: u64, reason: String },
    #[error("head is {found}, expected {expected} (lines were cut off the end)")]
    Head { found: String, expected: String },
    #[error("reading the journal: {0}")]
    Io(#[from] std::io::Error),
}

/// Verifies a journal; `expect_head` also checks the last hash against a known one.
pub fn verify(
    reader: impl BufRead,
    expect_head: Option<&str>,
) -> Result<VerifySummary, VerifyError> {
    let mut prev = GENESIS.to_string();
    let mut count: u64 = 0;
    for (i, line) in reader.lines().enumerate() {
        let line = line?;
        let number = i as u64 + 1;
        let broken = |reason: String| VerifyError::Broken {
            line: number,
            reason,
        };
        let record: AuditRecord = serde_json::from_str(&line)
            .map_err(|e| broken(format!("not a journal record: {e}")))?;
        if record.seq != count {
            return Err(broken(format!("seq is {}, expected {count}", record.seq)));
        }
        if record.prev != prev {
            return Err(broken(
                "prev does not match the hash of the line before".to_string(),
            ));
        }
        if record.compute_hash() != record.hash {
            return Err(broken(
                "hash does not match the line's contents".to_string(),
            ));
        }
        prev = record.hash;
        count += 1;
    }
    if let Some(expected) = expect_head
        && expected != prev
    {
        return Err(VerifyError::Head {
            found: prev,
            expected: expected.to_string(),
        });
    }
    Ok(VerifySummary {
        lines: count,
        head: prev,
    })
}
