//! `harness verify`: every parity gate of the determinism contract, one row per gate and
//! backend, with max|Δ| and a verdict.
//!
//! - op gates: each op sweep and math function of `fak_backends::parity` on every
//!   non-CPU backend against the CPU reference (the same cases the parity tests assert);
//! - KV gates: the kernel's KV cache object on every backend (the CPU included) on the
//!   llama3 fixture, each edit (excise at the start, across a block boundary, at the end,
//!   twice; fork and append; chunked and token-by-token prefill; dump, load, continue)
//!   against a cold or uninterrupted run on the same backend;
//! - model gates: every fixture architecture's logits and KV on each non-CPU backend
//!   against the CPU.
//!
//! Exactness is the contract, so PASS means max|Δ| = 0 with every bit equal. A backend
//! that is missing gets its gates SKIPPED with the probe's reason, or FAILED when it was
//! required.

mod error;
mod gate;
mod kv_gates;
mod model_gates;
mod op_gates;
mod row;
mod selection;
mod table;

use std::path::Path;

use fak_backends::{AnyBackend, BackendKind};

pub use error::{GateError, VerifyError};
pub use gate::{Gate, KvGate, Measured};
pub use kv_gates::KV_FIXTURE;
pub use row::{Row, Verdict};
pub use selection::{Availability, choose};
pub use table::render;

use crate::on_backend::on_backend;
use kv_gates::KvRun;
use model_gates::ModelRun;

/// Where the fixture models live, under the repository root.
pub const FIXTURES_PATH: &str = "data/fixtures/models";

/// The fixture models under `dir`: every directory holding a config.json, by name.
pub fn fixtures(dir: &Path) -> Result<Vec<String>, VerifyError> {
    let entries = std::fs::read_dir(dir).map_err(|source| {
        if source.kind() == std::io::ErrorKind::NotFound {
            VerifyError::NoFixtures {
                dir: dir.to_owned(),
            }
        } else {
            VerifyError::FixtureDir {
                dir: dir.to_owned(),
                source,
            }
        }
    })?;
    let mut names: Vec<String> = entries
        .filter_map(Result::ok)
        .filter(|e| e.path().join("config.json").is_file())
        .filter_map(|e| e.file_name().into_string().ok())
        .collect();
    if names.is_empty() {
        return Err(VerifyError::NoFixtures {
            dir: dir.to_owned(),
        });
    }
    names.sort();
    Ok(names)
}

/// Every gate of every backend in `backends`, in order. `progress` hears each gate as it
/// starts ("vulkan: op matmul bf16"), for a long run's stderr.
pub fn run(
    backends: &[(BackendKind, Availability)],
    fixture_dir: &Path,
    progress: &mut dyn FnMut(&str),
) -> Result<Vec<Row>, VerifyError> {
    let names = fixtures(fixture_dir)?;
    let mut rows = Vec::new();
    for (kind, availability) in backends {
        let kind = *kind;
        for gate in Gate::all_for(kind, &names) {
            rows.push(match availability {
                Availability::Open(backend) => {
                    progress(&format!("{kind}: {}", gate.name()));
                    run_gate(&gate, backend, fixture_dir)
                }
                Availability::NotSelected => Row::skipped(
                    &gate,
                    kind,
                    format!("not selected (run it with --backend {kind})"),
                ),
                Availability::Missing {
                    reason,
                    required: false,
                } => Row::skipped(&gate, kind, reason.clone()),
                Availability::Missing {
                    reason,
                    required: true,
                } => Row::failed(&gate, kind, format!("required but unavailable: {reason}")),
            });
        }
    }
    Ok(rows)
}

fn run_gate(gate: &Gate, backend: &AnyBackend, fixture_dir: &Path) -> Row {
    let measured = match gate {
        Gate::Op(sweep) => op_gates::op_sweep(*sweep, backend).map(Measured::of),
        Gate::Math(f) => op_gates::math(*f, backend).map(Measured::of),
        Gate::Kv(g) => on_backend(
            backend,
            KvRun {
                gate: *g,
                dir: &fixture_dir.join(KV_FIXTURE),
            },
        ),
        Gate::Model(name) => on_backend(
            backend,
            ModelRun {
                dir: &fixture_dir.join(name),
            },
        )
        .map(Measured::of),
    };
    match measured {
        Ok(m) => Row::measured(gate, backend.kind(), m.comparison, m.problem),
        Err(e) => Row::failed(gate, backend.kind(), e.to_string()),
    }
}
