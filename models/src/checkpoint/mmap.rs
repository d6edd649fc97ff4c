//! The one place the crate maps a file into memory.

#![allow(unsafe_code)]

use std::fs::File;
use std::path::Path;
use std::sync::Arc;

use memmap2::Mmap;

use crate::ModelError;

/// `path`, memory-mapped read-only. Weights are computed from these pages directly, so a
/// checkpoint costs page cache, not a second copy in the heap.
pub(crate) fn map_read_only(path: &Path) -> Result<Arc<Mmap>, ModelError> {
    let file = File::open(path).map_err(|e| ModelError::io(path, "a weights file", e))?;
    // SAFETY: a mapping is only undefined behaviour if the file changes underneath it. The
    // map is read-only and fak never writes a checkpoint; a user who rewrites the file while
    // a model runs from it gets what every memory-mapping loader gives (llama.cpp,
    // safetensors), which the README states.
    let map = unsafe { Mmap::map(&file) }.map_err(|e| ModelError::io(path, "a weights file", e))?;
    Ok(Arc::new(map))
}
