//! GGUF files: llama.cpp's single-file checkpoint format (header, typed metadata, tensor
//! infos, aligned tensor data), memory-mapped, with exact dequantization of the tensor
//! types a Q4_K_M file holds (Gemma 3 270M's: F32, Q5_0, Q8_0, Q4_K, Q6_K).
//!
//! Shapes: GGUF lists dimensions fastest first (`ne[0]` is a row's length); [`TensorInfo`]
//! keeps that order in `dims` and gives the row-major shape of Hugging Face checkpoints in
//! [`TensorInfo::shape`].

mod chat;
mod config;
mod dequant;
mod ggml_type;
mod names;
mod reader;
mod test_model;
mod tokenizer;
mod value;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use fak_backends::{ByteSource, HostBytes};

use thiserror::Error;

pub use ggml_type::GgmlType;
pub use test_model::gemma3_for_tests;
pub use value::Value;

use crate::ModelError;
use crate::checkpoint::{Checkpoint, MappedFile, map_read_only};

/// What is wrong with a GGUF file (wrapped with its path in [`ModelError::Gguf`]).
#[derive(Debug, Error, PartialEq)]
pub enum GgufError {
    #[error("not a GGUF file (magic number {magic:#010x}, expected \"GGUF\")")]
    NotGguf { magic: u32 },
    #[error("GGUF version {0} is not supported (2 and 3 are)")]
    Version(u32),
    #[error("truncated: {what} needs {needed} bytes at offset {offset}, the file has {size}")]
    Truncated {
        what: String,
        offset: usize,
        needed: usize,
        size: usize,
    },
    #[error("malformed at offset {offset}: {problem}")]
    Malformed { offset: usize, problem: String },
    #[error("metadata {key}: {problem}")]
    Metadata { key: String, problem: String },
    #[error("tensor {tensor:?} has GGML type id {id}, which this reader does not know")]
    UnknownType { tensor: String, id: u32 },
    #[error("tensor {tensor:?}: {problem}")]
    Shape { tensor: String, problem: String },
    #[error(
        "tensor {tensor:?} is {ty}, which fak cannot dequantize (supported: F32, F16, BF16, Q5_0, Q8_0, Q4_K, Q6_K)"
    )]
    Unsupported { tensor: String, ty: &'static str },
    #[error("no tensor named {0:?}")]
    MissingTensor(String),
}

/// Where one tensor's data lies and how it is laid out.
#[derive(Debug, Clone, PartialEq)]
pub struct TensorInfo {
    pub name: String,
    /// Dimensions fastest first, as stored (`dims[0]` is the row length).
    pub dims: Vec<u64>,
    pub ggml_type: GgmlType,
    /// Offset from the start of the tensor data.
    pub offset: u64,
    /// Bytes of data.
    pub bytes: usize,
    /// Number of values.
    pub elements: usize,
}

impl TensorInfo {
    fn new(
        name: &str,
        dims: Vec<u64>,
        ggml_type: GgmlType,
        offset: u64,
    ) -> Result<Self, GgufError> {
        let shape_error = |problem: String| GgufError::Shape {
            tensor: name.to_string(),
            problem,
        };
        let elements = dims
            .iter()
            .try_fold(1u64, |n, &d| n.checked_mul(d))
            .and_then(|n| usize::try_from(n).ok())
            .ok_or_else(|| shape_error(format!("dimensions {dims:?} overflow")))?;
        let (block_values, block_bytes) = ggml_type.block();
        if !dims[0].is_multiple_of(block_values as u64) {
            return Err(shape_error(format!(
                "rows of {} values do not divide into {} blocks of {block_values}",
                dims[0],
                ggml_type.name()
            )));
        }
        Ok(Self {
            name: name.to_string(),
            dims,
            ggml_type,
            offset,
            bytes: elements / block_values * block_bytes,
            elements,
        })
    }

    /// Row-major shape, slowest first: `[rows, cols]` for a matrix, as in safetensors.
    pub fn shape(&self) -> Vec<usize> {
        self.dims.iter().rev().map(|&d| d as usize).collect()
    }
}

/// An opened GGUF file: its metadata and tensor table, its bytes mapped.
#[derive(Debug)]
pub struct GgufFile {
    path: PathBuf,
    map: Arc<MappedFile>,
    version: u32,
    metadata: BTreeMap<String, Value>,
    tensors: BTreeMap<String, TensorInfo>,
    data_start: usize,
}

impl GgufFile {
    /// Maps and parses `path`; every tensor's data is checked to lie inside the file.
    pub fn open(path: &Path) -> Result<Self, ModelError> {
        let map = map_read_only(path)?;
        let parsed = reader::parse(&map).map_err(|source| ModelError::Gguf {
            path: path.to_path_buf(),
            source,
        })?;
        Ok(Self {
            path: path.to_path_buf(),
            map,
            version: parsed.version,
            metadata: parsed.metadata,
            tensors: parsed.tensors,
            data_start: parsed.data_start,
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn version(&self) -> u32 {
        self.version
    }

    pub fn metadata(&self) -> &BTreeMap<String, Value> {
        &self.metadata
    }

    /// An error about metadata `key` of this file.
    pub fn metadata_error(&self, key: &str, problem: impl Into<String>) -> ModelError {
        ModelError::Gguf {
            path: self.path.clone(),
            source: GgufError::Metadata {
                key: key.to_owned(),
                problem: problem.into(),
            },
        }
    }

    pub fn get(&self, key: &str) -> Option<&Value> {
        self.metadata.get(key)
    }

    /// Every tensor, by name.
    pub fn tensors(&self) -> impl Iterator<Item = &TensorInfo> {
        self.tensors.values()
    }

    pub fn tensor(&self, name: &str) -> Result<&TensorInfo, GgufError> {
        self.tensors
            .get(name)
            .ok_or_else(|| GgufError::MissingTensor(name.to_string()))
    }

    /// The stored bytes of tensor `name`.
    pub fn data(&self, name: &str) -> Result<&[u8], GgufError> {
        let info = self.tensor(name)?;
        let start = self.data_start + info.offset as usize;
        // In bounds: checked for every tensor when the file was opened.
        Ok(&self.map[start..start + info.bytes])
    }

    /// The stored bytes of tensor `name`, as a view that keeps the map alive.
    pub fn bytes(&self, name: &str) -> Result<HostBytes, GgufError> {
        let info = self.tensor(name)?;
        let start = self.data_start + info.offset as usize;
        let owner: Arc<dyn ByteSource> = self.map.clone();
        // In bounds: checked for every tensor when the file was opened.
        Ok(HostBytes::new(owner, start..start + info.bytes).expect("checked at open"))
    }

    /// The weights under their Hugging Face names, for the architecture the metadata names
    /// (read [`crate::ModelConfig::from_gguf`] first: it refuses the others).
    pub fn checkpoint(&self) -> Result<Checkpoint, ModelError> {
        Checkpoint::from_gguf(self, names::gemma3_hf_name)
    }

    /// Tensor `name` as f32 values in stored order, each computed exactly as GGML's
    /// reference dequantization does.
    pub fn dequantize(&self, name: &str) -> Result<Vec<f32>, GgufError> {
        let info = self.tensor(name)?;
        let mut out = Vec::with_capacity(info.elements);
        dequant::dequantize(name, info.ggml_type, self.data(name)?, &mut out)?;
        Ok(out)
    }
}

/// Whether `path` is a GGUF file (by its first four bytes): a model path may name either a
/// Hugging Face directory or a `.gguf` file.
pub fn is_gguf(path: &Path) -> bool {
    use std::io::Read;
    let mut magic = [0u8; 4];
    path.is_file()
        && std::fs::File::open(path)
            .and_then(|mut f| f.read_exact(&mut magic))
            .is_ok()
        && u32::from_le_bytes(magic) == reader::MAGIC
}
