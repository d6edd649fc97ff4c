//! Shape checks a device backend runs on the host before it launches anything.
//!
//! The CPU backend gets these refusals from `fak-ops` itself; a device backend must refuse
//! the same inputs with the same [`OpsError`] (same op, same buffer name) before a kernel
//! can read out of bounds, so each check here mirrors, in order, the checks at the top of
//! the `fak-ops` function it names.

use fak_ops::checks::{check_len, check_nonzero, check_positions, shape_product, whole_rows};
use fak_ops::{AttentionConfig, OpsError};

use crate::BackendError;

/// `fak_ops::embed_gather` over a `rows x dim` table.
pub fn embed(rows: usize, dim: usize, tokens: &[u32], out_len: usize) -> Result<(), OpsError> {
    const OP: &str = "embed_gather";
    check_nonzero(OP, "tokens", tokens.len())?;
    check_len(
        OP,
        "out",
        shape_product(OP, "out", &[tokens.len(), dim])?,
        out_len,
    )?;
    check_positions(OP, "token", tokens, rows)
}

/// `fak_ops::rms_norm`; returns the number of rows.
pub fn rms_norm(x_len: usize, dim: usize, eps: f32, out_len: usize) -> Result<usize, OpsError> {
    const OP: &str = "rms_norm";
    /// Rows longer than this would make the row length inexact as an f32.
    const MAX_DIM: usize = (1 << 24) - 1;
    check_nonzero(OP, "weight", dim)?;
    if dim > MAX_DIM {
        return Err(OpsError::TooLarge {
            op: OP,
            what: "row length",
            got: dim,
            max: MAX_DIM,
        });
    }
    let rows = whole_rows(OP, "x", x_len, dim)?;
    check_len(OP, "out", x_len, out_len)?;
    if !(eps >= 0.0 && eps.is_finite()) {
        return Err(OpsError::InvalidParam {
            op: OP,
            param: "eps",
            value: eps as f64,
            reason: "must be finite and >= 0",
        });
    }
    Ok(rows)
}

/// `fak_ops::matmul` of a `rows x cols` matrix; returns the number of tokens.
pub fn matmul(rows: usize, cols: usize, x_len: usize, out_len: usize) -> Result<usize, OpsError> {
    const OP: &str = "matmul";
    let tokens = whole_rows(OP, "x", x_len, cols)?;
    check_len(
        OP,
        "out",
        shape_product(OP, "out", &[tokens, rows])?,
        out_len,
    )?;
    Ok(tokens)
}

/// `fak_ops::add`.
pub fn add(x_len: usize, y_len: usize) -> Result<(), OpsError> {
    check_nonzero("add", "x", x_len)?;
    check_len("add", "y", x_len, y_len)
}

/// The CPU backend's `add_bias`: `x` must be whole rows of the bias.
pub fn add_bias(x_len: usize, bias_len: usize) -> Result<(), BackendError> {
    if bias_len == 0 || !x_len.is_multiple_of(bias_len) {
        return Err(BackendError::Shape(format!(
            "add_bias: {x_len} values are not whole rows of the bias length {bias_len}"
        )));
    }
    Ok(add(x_len, x_len)?)
}

/// `fak_ops::rope_apply` with a table of `pairs` pairs and `max_positions` positions.
pub fn rope(
    pairs: usize,
    max_positions: usize,
    positions: &[u32],
    x_len: usize,
    n_heads: usize,
) -> Result<(), OpsError> {
    const OP: &str = "rope_apply";
    check_nonzero(OP, "positions", positions.len())?;
    check_nonzero(OP, "n_heads", n_heads)?;
    let expected = shape_product(
        OP,
        "x (positions x n_heads x head_dim)",
        &[positions.len(), n_heads, 2 * pairs],
    )?;
    check_len(OP, "x", expected, x_len)?;
    check_positions(OP, "position", positions, max_positions)
}

/// `fak_ops::attention` for queries at `positions` over a cache holding positions
/// `0..=max(positions)`.
pub fn attention(
    config: &AttentionConfig,
    q_len: usize,
    positions: &[u32],
    out_len: usize,
) -> Result<(), OpsError> {
    const OP: &str = "attention";
    config.validate()?;
    check_nonzero(OP, "positions", positions.len())?;
    let expected = shape_product(
        OP,
        "q (positions x n_heads x head_dim)",
        &[positions.len(), config.n_heads, config.head_dim],
    )?;
    check_len(OP, "q", expected, q_len)?;
    check_len(OP, "out", q_len, out_len)
}
