//! A [`Checkpoint`] over a GGUF file's tensors, under their Hugging Face names.
//!
//! F32, F16 and BF16 tensors are views of the mapped file like safetensors ones, and so are
//! Q8_0 and Q5_0 tensors: their blocks stay packed, and products decode them in registers.
//! The other quantized types are dequantized once here, exactly as GGML does
//! (ops/DETERMINISM.md §3a), into f32 buffers the checkpoint owns; the fingerprint still
//! covers the stored blocks.

use std::sync::Arc;

use fak_backends::{HostBytes, WeightDtype};
use rayon::prelude::*;

use super::{Checkpoint, Entry};
use crate::ModelError;
use crate::gguf::{GgmlType, GgufError, GgufFile, TensorInfo};

/// Dequantized values, handed out as bytes.
struct F32Buffer(Vec<f32>);

impl AsRef<[u8]> for F32Buffer {
    fn as_ref(&self) -> &[u8] {
        bytemuck::cast_slice(&self.0)
    }
}

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
        let infos: Vec<(&TensorInfo, String)> = file
            .tensors()
            .map(|info| {
                hf_name(&info.name).map(|hf| (info, hf)).ok_or_else(|| {
                    gguf_error(GgufError::Shape {
                        tensor: info.name.clone(),
                        problem: "this architecture has no such tensor".to_owned(),
                    })
                })
            })
            .collect::<Result<_, _>>()?;
        // Dequantizing is the slow part of loading a quantized file: one tensor per task.
        let entries: Vec<(String, Entry)> = infos
            .into_par_iter()
            .map(|(info, hf)| Ok((hf, entry(file, info).map_err(gguf_error)?)))
            .collect::<Result<_, ModelError>>()?;
        let mut checkpoint = Self::empty();
        for (name, entry) in entries {
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
    let raw = file.bytes(&info.name)?;
    let stored = info.ggml_type.name().to_owned();
    let (dtype, bytes) = match info.ggml_type {
        GgmlType::F32 => (WeightDtype::F32, raw.clone()),
        GgmlType::F16 => (WeightDtype::F16, raw.clone()),
        GgmlType::Bf16 => (WeightDtype::Bf16, raw.clone()),
        GgmlType::Q8_0 => (WeightDtype::Q8_0, raw.clone()),
        GgmlType::Q5_0 => (WeightDtype::Q5_0, raw.clone()),
        _ => {
            let values = file.dequantize(&info.name)?;
            let len = values.len() * 4;
            let owner: Arc<dyn AsRef<[u8]> + Send + Sync> = Arc::new(F32Buffer(values));
            let bytes = HostBytes::new(owner, 0..len).expect("the range is the whole buffer");
            (WeightDtype::F32, bytes)
        }
    };
    Ok(Entry {
        dtype: Some(dtype),
        shape: info.shape(),
        bytes,
        stored,
        raw,
    })
}
