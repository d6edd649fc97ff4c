//! A [`Checkpoint`] over a GGUF file's tensors, under their Hugging Face names.
//!
//! Every tensor is a view of the mapped file like a safetensors one: F32, F16 and BF16
//! elements, and Q8_0, Q5_0, Q4_K and Q6_K blocks kept packed (products decode them in
//! registers into exactly GGML's values, ops/DETERMINISM.md §3a).

use fak_backends::WeightDtype;

use super::{Checkpoint, Entry};
use crate::ModelError;
use crate::gguf::{GgmlType, GgufError, GgufFile, TensorInfo};

impl Checkpoint {
    /// Every tensor of `file`, renamed by `hf_name` (`None`: the architecture has no such
    /// tensor, which is an error naming it).
    pub fn from_gguf(
        file: &GgufFile,
        hf_name: impl Fn(&str) -> Option<String>,
    ) -> Result<Self, ModelError> {
        let gguf_error = |source: GgufError| ModelError::Gguf {
            path: file.path().to_path_buf(),
            source,
        };
        let mut checkpoint = Self::empty();
        for info in file.tensors() {
            let name = hf_name(&info.name).ok_or_else(|| {
                gguf_error(GgufError::Shape {
                    tensor: info.name.clone(),
                    problem: "this architecture has no such tensor".to_owned(),
                })
            })?;
            let entry = entry(file, info).map_err(gguf_error)?;
            if checkpoint.tensors.insert(name.clone(), entry).is_some() {
                return Err(gguf_error(GgufError::Shape {
                    tensor: name,
                    problem: "two GGUF tensors map to this name".to_owned(),
                }));
            }
        }
        checkpoint.files.push(file.path().to_path_buf());
        Ok(checkpoint)
    }
}

fn entry(file: &GgufFile, info: &TensorInfo) -> Result<Entry, GgufError> {
    let bytes = file.bytes(&info.name)?;
    let stored = info.ggml_type.name().to_owned();
    let dtype = match info.ggml_type {
        GgmlType::F32 => WeightDtype::F32,
        GgmlType::F16 => WeightDtype::F16,
        GgmlType::Bf16 => WeightDtype::Bf16,
        GgmlType::Q8_0 => WeightDtype::Q8_0,
        GgmlType::Q5_0 => WeightDtype::Q5_0,
        GgmlType::Q4K => WeightDtype::Q4K,
        GgmlType::Q6K => WeightDtype::Q6K,
        other => {
            return Err(GgufError::Unsupported {
                tensor: info.name.clone(),
                ty: other.name(),
            });
        }
    };
    Ok(Entry {
        dtype: Some(dtype),
        shape: info.shape(),
        bytes,
        stored,
    })
}
