//! Which model directory a model command runs on.

use std::path::{Path, PathBuf};

use anyhow::{Result, bail};

/// `given`, or the committed llama3 fixture when no model is named; checked for a
/// config.json and resolved to an absolute path so reports name it plainly.
pub fn model_dir(given: Option<&Path>) -> Result<PathBuf> {
    let dir = match given {
        Some(dir) => dir.to_path_buf(),
        None => Path::new(env!("CARGO_MANIFEST_DIR")).join("../data/fixtures/models/llama3"),
    };
    if !dir.join("config.json").is_file() {
        bail!(
            "no model at {} (config.json missing); give --model DIR",
            dir.display()
        );
    }
    Ok(dir.canonicalize().unwrap_or(dir))
}
