//! The page store: large benign results kept outside the model's context, addressed by
//! the sha256 of their bytes.
//!
//! A page is written once and never changes; reading it back checks the digest, so a
//! page altered on disk is refused instead of served.

use std::collections::HashMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::RwLock;

use crate::canonical::sha256_hex;

#[derive(Debug, thiserror::Error)]
pub enum PageError {
    #[error("page {0} is not in the store")]
    Missing(String),
    #[error("page {0} does not match its digest")]
    Corrupt(String),
    #[error("\"{0}\" is not a sha256 digest")]
    BadDigest(String),
    #[error("page store I/O at {path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

/// Content-addressed bytes.
pub trait PageStore: Send + Sync + std::fmt::Debug {
    /// Stores `bytes`; returns their lower-case hex sha256.
    fn put(&self, bytes: &[u8]) -> Result<String, PageError>;
    /// The bytes stored under `digest`, verified against it.
    fn get(&self, digest: &str) -> Result<Vec<u8>, PageError>;
}

fn check_digest(digest: &str) -> Result<(), PageError> {
    if digest.len() == 64
        && digest
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    {
        Ok(())
    } else {
        Err(PageError::BadDigest(digest.to_string()))
    }
}

fn verified(digest: &str, bytes: Vec<u8>) -> Result<Vec<u8>, PageError> {
    if sha256_hex(&bytes) == digest {
        Ok(bytes)
    } else {
        Err(PageError::Corrupt(digest.to_string()))
    }
}

/// Pages in memory, for tests and short-lived kernels.
#[derive(Debug, Default)]
pub struct MemoryPageStore {
    pages: RwLock<HashMap<String, Vec<u8>>>,
}

impl PageStore for MemoryPageStore {
    fn put(&self, bytes: &[u8]) -> Result<String, PageError> {
        let digest = sha256_hex(bytes);
        let mut pages = self.pages.write().unwrap_or_else(|e| e.into_inner());
        pages
            .entry(digest.clone())
            .or_insert_with(|| bytes.to_vec());
        Ok(digest)
    }

    fn get(&self, digest: &str) -> Result<Vec<u8>, PageError> {
        check_digest(digest)?;
        let pages = self.pages.read().unwrap_or_else(|e| e.into_inner());
        let bytes = pages
            .get(digest)
            .cloned()
            .ok_or_else(|| PageError::Missing(digest.to_string()))?;
        verified(digest, bytes)
    }
}

/// Pages as files named by their digest in one directory.
#[derive(Debug)]
pub struct DirPageStore {
    dir: PathBuf,
}

impl DirPageStore {
    /// Opens (creating if needed) a page directory.
    pub fn open(dir: &Path) -> Result<DirPageStore, PageError> {
        std::fs::create_dir_all(dir).map_err(|source| PageError::Io {
            path: dir.to_path_buf(),
            source,
        })?;
        Ok(DirPageStore {
            dir: dir.to_path_buf(),
        })
    }
}

impl PageStore for DirPageStore {
    fn put(&self, bytes: &[u8]) -> Result<String, PageError> {
        let digest = sha256_hex(bytes);
        let path = self.dir.join(&digest);
        if path.exists() {
            return Ok(digest);
        }
        let io = |source| PageError::Io {
            path: path.clone(),
            source,
        };
        // Written to a temporary name and renamed, so a crash never leaves a short page
        // under a digest name.
        let mut tmp = tempfile::NamedTempFile::new_in(&self.dir).map_err(io)?;
        tmp.write_all(bytes).map_err(io)?;
        tmp.as_file().sync_data().map_err(io)?;
        tmp.persist(&path).map_err(|e| io(e.error))?;
        Ok(digest)
    }

    fn get(&self, digest: &str) -> Result<Vec<u8>, PageError> {
        check_digest(digest)?;
        let path = self.dir.join(digest);
        let bytes = std::fs::read(&path).map_err(|source| {
            if source.kind() == std::io::ErrorKind::NotFound {
                PageError::Missing(digest.to_string())
            } else {
                PageError::Io { path, source }
            }
        })?;
        verified(digest, bytes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn memory_store_round_trips_by_digest() {
        let s = MemoryPageStore::default();
        let d = s.put(b"hello").unwrap();
        assert_eq!(d, sha256_hex(b"hello"));
        assert_eq!(s.get(&d).unwrap(), b"hello");
        assert!(matches!(
            s.get(&sha256_hex(b"other")),
            Err(PageError::Missing(_))
        ));
        assert!(matches!(
            s.get("../etc/passwd"),
            Err(PageError::BadDigest(_))
        ));
    }

    #[test]
    fn dir_store_refuses_a_page_altered_on_disk() {
        let dir = tempfile::tempdir().unwrap();
        let s = DirPageStore::open(dir.path()).unwrap();
        let d = s.put(b"benign page").unwrap();
        assert_eq!(s.get(&d).unwrap(), b"benign page");
        std::fs::write(dir.path().join(&d), b"altered").unwrap();
        assert!(matches!(s.get(&d), Err(PageError::Corrupt(_))));
    }
}
