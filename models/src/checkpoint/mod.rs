//! A checkpoint's safetensors files, memory-mapped: one `model.safetensors`, or the shards a
//! `model.safetensors.index.json` names.
//!
//! Tensors are handed out as [`HostBytes`] ranges of the maps, never copied, and taken by
//! their checkpoint names with the shape the config implies. What the config does not take
//! is an error too ([`Checkpoint::finish`]): weights left over mean config and weights
//! disagree.

mod from_gguf;
mod mmap;

pub(crate) use mmap::{MappedFile, map_read_only};

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use fak_backends::{ByteSource, HostBytes, HostMatrix, WeightDtype};
use safetensors::{Dtype, SafeTensors};
use serde::Deserialize;
use sha2::{Digest, Sha256};

use crate::{ModelError, json_file};

/// One tensor of the checkpoint.
#[derive(Debug, Clone)]
struct Entry {
    /// The dtype of `bytes`, what the loader hands out; `None` for a stored type no weight
    /// may have (named by `stored` when such a tensor is taken).
    dtype: Option<WeightDtype>,
    shape: Vec<usize>,
    /// The tensor's bytes as the file stores them (a quantized GGUF tensor's blocks): what
    /// the loader hands out and the fingerprint covers.
    bytes: HostBytes,
    /// The type's name as the file stores it.
    stored: String,
}

/// The tensors of a checkpoint by name, each a view of its memory-mapped file.
#[derive(Debug)]
pub struct Checkpoint {
    tensors: BTreeMap<String, Entry>,
    taken: BTreeSet<String>,
    files: Vec<PathBuf>,
}

/// `model.safetensors.index.json`: which shard holds each tensor.
#[derive(Debug, Deserialize)]
struct ShardIndex {
    weight_map: BTreeMap<String, String>,
}

impl Checkpoint {
    /// Maps `dir/model.safetensors`, or every shard `dir/model.safetensors.index.json` names;
    /// a GGUF file's tensors when `dir` is one ([`crate::gguf::GgufFile::checkpoint`]).
    pub fn open(dir: &Path) -> Result<Self, ModelError> {
        if crate::gguf::is_gguf(dir) {
            return crate::gguf::GgufFile::open(dir)?.checkpoint();
        }
        let single = dir.join("model.safetensors");
        let index_path = dir.join("model.safetensors.index.json");
        if single.exists() || !index_path.exists() {
            let mut checkpoint = Self::empty();
            checkpoint.add_file(&single, None)?;
            return Ok(checkpoint);
        }
        let index: ShardIndex = json_file::read(&index_path, "the shard index")?;
        let mut by_file: BTreeMap<&str, BTreeSet<&str>> = BTreeMap::new();
        for (tensor, file) in &index.weight_map {
            by_file.entry(file).or_default().insert(tensor);
        }
        let mut checkpoint = Self::empty();
        for (file, names) in by_file {
            if Path::new(file).components().count() != 1 {
                return Err(ModelError::Safetensors {
                    path: index_path,
                    reason: format!("shard {file:?} is not a file name inside the model directory"),
                });
            }
            checkpoint.add_file(&dir.join(file), Some(&names))?;
        }
        Ok(checkpoint)
    }

    fn empty() -> Self {
        Self {
            tensors: BTreeMap::new(),
            taken: BTreeSet::new(),
            files: Vec::new(),
        }
    }

    /// Adds the tensors of one file; with `expected`, exactly those the index assigns to it.
    fn add_file(
        &mut self,
        path: &Path,
        expected: Option<&BTreeSet<&str>>,
    ) -> Result<(), ModelError> {
        let map = map_read_only(path)?;
        let invalid = |reason: String| ModelError::Safetensors {
            path: path.to_owned(),
            reason,
        };
        let (header_len, metadata) =
            SafeTensors::read_metadata(&map).map_err(|e| invalid(e.to_string()))?;
        let data_start = 8 + header_len;
        let owner: Arc<dyn ByteSource> = map;
        for (name, info) in metadata.tensors() {
            if expected.is_some_and(|names| !names.contains(name.as_str())) {
                return Err(invalid(format!(
                    "holds tensor {name}, which the shard index assigns to another file"
                )));
            }
            let (start, end) = info.data_offsets;
            let bytes = HostBytes::new(owner.clone(), data_start + start..data_start + end)
                .map_err(|e| invalid(e.to_string()))?;
            let entry = Entry {
                dtype: weight_dtype(info.dtype),
                shape: info.shape.clone(),
                stored: format!("{:?}", info.dtype),
                bytes,
            };
            if self.tensors.insert(name.clone(), entry).is_some() {
                return Err(invalid(format!("tensor {name} is stored twice")));
            }
        }
        if let Some(missing) =
            expected.and_then(|names| names.iter().find(|n| !self.tensors.contains_key(**n)))
        {
            return Err(invalid(format!(
                "the shard index assigns tensor {missing} to this file, but it is not there"
            )));
        }
        self.files.push(path.to_owned());
        Ok(())
    }

    /// The safetensors files this checkpoint maps.
    pub fn files(&self) -> &[PathBuf] {
        &self.files
    }

    /// Every tensor name, sorted.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.tensors.keys().map(String::as_str)
    }

    /// Bytes of tensor data over all files, as stored (a quantized tensor's blocks).
    pub fn weight_bytes(&self) -> usize {
        self.tensors
            .values()
            .map(|e| e.bytes.as_slice().len())
            .sum()
    }

    /// Bytes of tensor `name`'s data as stored, if the checkpoint has it.
    pub fn tensor_bytes(&self, name: &str) -> Option<usize> {
        self.tensors.get(name).map(|e| e.bytes.as_slice().len())
    }

    /// Releases the bytes of every tensor in a packed (GGML block) type
    /// ([`HostBytes::release`]): a mapped file's pages leave the process until read again.
    pub fn release_packed(&self) {
        for entry in self.tensors.values() {
            if entry.dtype.is_some_and(WeightDtype::is_packed) {
                entry.bytes.release();
            }
        }
    }

    /// SHA-256 over every tensor's name, stored type, shape and stored bytes, in name order:
    /// two checkpoints share a fingerprint only when they hold the same weights, however they
    /// are split into shards.
    pub fn fingerprint(&self) -> [u8; 32] {
        let mut h = Sha256::new();
        for (name, entry) in &self.tensors {
            h.update((name.len() as u64).to_le_bytes());
            h.update(name.as_bytes());
            h.update(entry.stored.as_bytes());
            h.update((entry.shape.len() as u64).to_le_bytes());
            for &d in &entry.shape {
                h.update((d as u64).to_le_bytes());
            }
            let bytes = entry.bytes.as_slice();
            h.update((bytes.len() as u64).to_le_bytes());
            h.update(bytes);
        }
        h.finalize().into()
    }

    /// Whether the checkpoint has a tensor of this name.
    pub fn contains(&self, name: &str) -> bool {
        self.tensors.contains_key(name)
    }

    /// The tensor `name` with exactly `shape`, as stored (bf16, f16, f32, or GGUF's packed
    /// Q8_0 / Q5_0).
    fn take(
        &mut self,
        name: &str,
        shape: &[usize],
    ) -> Result<(WeightDtype, HostBytes), ModelError> {
        let entry = self
            .tensors
            .get(name)
            .ok_or_else(|| ModelError::MissingTensor {
                name: name.to_owned(),
            })?;
        if entry.shape != shape {
            return Err(ModelError::TensorShape {
                name: name.to_owned(),
                expected: shape.to_vec(),
                found: entry.shape.clone(),
            });
        }
        let dtype = entry.dtype.ok_or_else(|| ModelError::TensorDtype {
            name: name.to_owned(),
            found: entry.stored.clone(),
        })?;
        self.taken.insert(name.to_owned());
        Ok((dtype, entry.bytes.clone()))
    }

    /// The `rows x cols` matrix `name`, viewing the mapped bytes.
    pub fn matrix(
        &mut self,
        name: &str,
        rows: usize,
        cols: usize,
    ) -> Result<HostMatrix, ModelError> {
        let (dtype, bytes) = self.take(name, &[rows, cols])?;
        Ok(HostMatrix::new(bytes, dtype, rows, cols)?)
    }

    /// The vector `name` of `len` values, widened to f32 (norm weights and biases).
    pub fn vector(&mut self, name: &str, len: usize) -> Result<Vec<f32>, ModelError> {
        let (dtype, bytes) = self.take(name, &[len])?;
        Ok(HostMatrix::new(bytes, dtype, 1, len)?.to_f32())
    }

    /// Fails when a tensor was not taken, other than those `ignorable` accepts (a saved
    /// `lm_head.weight` of a tied model, RoPE buffers of old checkpoints).
    pub fn finish(&self, ignorable: impl Fn(&str) -> bool) -> Result<(), ModelError> {
        let mut unused = self
            .tensors
            .keys()
            .filter(|n| !self.taken.contains(*n) && !ignorable(n));
        match unused.next() {
            None => Ok(()),
            Some(first) => Err(ModelError::UnusedTensors {
                count: 1 + unused.count(),
                first: first.clone(),
            }),
        }
    }
}

/// The weight dtype of a safetensors dtype, if weights may have it.
fn weight_dtype(dtype: Dtype) -> Option<WeightDtype> {
    match dtype {
        Dtype::BF16 => Some(WeightDtype::Bf16),
        Dtype::F16 => Some(WeightDtype::F16),
        Dtype::F32 => Some(WeightDtype::F32),
        _ => None,
    }
}
