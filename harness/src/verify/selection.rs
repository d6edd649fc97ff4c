//! Which backends a run covers: every one by default, the named ones (and the CPU, the
//! reference) otherwise; and which of them must be there.

use fak_backends::{AnyBackend, BackendKind};

/// A backend as the run found it.
#[derive(Debug)]
pub enum Availability {
    /// Opened (device 0): its gates run.
    Open(AnyBackend),
    /// Not asked for: `--backend` named others.
    NotSelected,
    /// Asked for but not there (not compiled in, or no device): `reason` is the probe's.
    /// When `required`, its gates fail; otherwise they are skipped.
    Missing { reason: String, required: bool },
}

/// Every backend family with what the run makes of it, in [`BackendKind::ALL`] order.
/// `named` are the `--backend` arguments (empty: all); `require_vulkan` makes Vulkan
/// required as if named (CI sets `FAK_REQUIRE_VULKAN`). A named backend is required.
pub fn choose(named: &[BackendKind], require_vulkan: bool) -> Vec<(BackendKind, Availability)> {
    BackendKind::ALL
        .into_iter()
        .map(|kind| {
            let required = named.contains(&kind) || (require_vulkan && kind == BackendKind::Vulkan);
            let selected = kind == BackendKind::Cpu || named.is_empty() || required;
            let availability = if !selected {
                Availability::NotSelected
            } else {
                match AnyBackend::open(kind, 0) {
                    Ok(backend) => Availability::Open(backend),
                    Err(e) => Availability::Missing {
                        reason: e.to_string(),
                        required,
                    },
                }
            };
            (kind, availability)
        })
        .collect()
}
