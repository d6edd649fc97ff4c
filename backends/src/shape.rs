//! Shape checks a device backend runs on the host before it launches anything.
//!
//! The CPU backend gets these refusals from `fak-ops` itself; a device backend must refuse
//! the same inputs with the same [`OpsError`] (same op, same buffer name) before a kernel
//! can read out of bounds, so each check here mirrors, in order, the checks at the top of
//! the `fak-ops` function it names.

use fak_ops::{AttentionConfig, OpsError};

use crate::BackendError;

fn nonzero(op: &'static str, what: &'static str, n: usize) -> Result<(), OpsError> {
    if n == 0 {
        Err(OpsError::Empty { op, what })
    } else {
        Ok(())
    }
}

fn length(
    op: &'static str,
    what: &'static str,
    expected: usize,
    got: usize,
) -> Result<(), OpsError> {
    if expected == got {
        Ok(())
    } else {
        Err(OpsError::Length {
            op,
            what,
            expected,
            got,
        })
    }
}

fn whole_rows(
    op: &'static str,
    what: &'static str,
    len: usize,
    unit: usize,
) -> Result<usize, OpsError> {
    nonzero(op, what, len)?;
    if !len.is_multiple_of(unit) {
        return Err(OpsError::NotMultiple {
            op,
            what,
            len,
            unit,
        });
    }
    Ok(len / unit)
}

fn product(op: &'static str, what: &'static str, dims: &[usize]) -> Result<usize, OpsError> {
    dims.iter().try_fold(1usize, |acc, &d| {
        acc.checked_mul(d).ok_or(OpsError::TooLarge {
            op,
            what,
            got: d,
            max: usize::MAX / acc.max(1),
        })
    })
}

fn below(
    op: &'static str,
    what: &'static str,
    indices: &[u32],
    len: usize,
) -> Result<(), OpsError> {
    match indices.iter().find(|&&p| p as usize >= len) {
        Some(&p) => Err(OpsError::OutOfRange {
            op,
            what,
            index: p as usize,
            len,
        }),
        None => Ok(()),
    }
}

/// `fak_ops::embed_gather` over a `rows x dim` table.
pub fn embed(rows: usize, dim: usize, tokens: &[u32], out_len: usize) -> Result<(), OpsError> {
    const OP: &str = "embed_gather";
    nonzero(OP, "tokens", tokens.len())?;
    length(
        OP,
        "out",
        product(OP, "out", &[tokens.len(), dim])?,
        out_len,
    )?;
    below(OP, "token", tokens, rows)
}

/// `fak_ops::rms_norm`; returns the number of rows.
pub fn rms_norm(x_len: usize, dim: usize, eps: f32, out_len: usize) -> Result<usize, OpsError> {
    const OP: &str = "rms_norm";
    /// Rows longer than this would make the row length inexact as an f32.
    const MAX_DIM: usize = (1 << 24) - 1;
    nonzero(OP, "weight", dim)?;
    if dim > MAX_DIM {
        return Err(OpsError::TooLarge {
            op: OP,
            what: "row length",
            got: dim,
            max: MAX_DIM,
        });
    }
    let rows = whole_rows(OP, "x", x_len, dim)?;
    length(OP, "out", x_len, out_len)?;
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
    length(OP, "out", product(OP, "out", &[tokens, rows])?, out_len)?;
    Ok(tokens)
}

/// `fak_ops::add`.
pub fn add(x_len: usize, y_len: usize) -> Result<(), OpsError> {
    nonzero("add", "x", x_len)?;
    length("add", "y", x_len, y_len)
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
    nonzero(OP, "positions", positions.len())?;
    nonzero(OP, "n_heads", n_heads)?;
    let expected = product(
        OP,
        "x (positions x n_heads x head_dim)",
        &[positions.len(), n_heads, 2 * pairs],
    )?;
    length(OP, "x", expected, x_len)?;
    below(OP, "position", positions, max_positions)
}

/// `fak_ops::swiglu`.
pub fn swiglu(gate_len: usize, up_len: usize, out_len: usize) -> Result<(), OpsError> {
    nonzero("swiglu", "gate", gate_len)?;
    length("swiglu", "up", gate_len, up_len)?;
    length("swiglu", "out", gate_len, out_len)
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
    nonzero(OP, "n_heads", config.n_heads)?;
    nonzero(OP, "n_kv_heads", config.n_kv_heads)?;
    nonzero(OP, "head_dim", config.head_dim)?;
    if !config.n_heads.is_multiple_of(config.n_kv_heads) {
        return Err(OpsError::NotDivisible {
            op: OP,
            what: "n_heads by n_kv_heads",
            numerator: config.n_heads,
            denominator: config.n_kv_heads,
        });
    }
    if !config.scale.is_finite() {
        return Err(OpsError::InvalidParam {
            op: OP,
            param: "scale",
            value: config.scale as f64,
            reason: "must be finite",
        });
    }
    nonzero(OP, "positions", positions.len())?;
    let expected = product(
        OP,
        "q (positions x n_heads x head_dim)",
        &[positions.len(), config.n_heads, config.head_dim],
    )?;
    length(OP, "q", expected, q_len)?;
    length(OP, "out", q_len, out_len)
}
