//! The gate on the wire: the kernel between the client and the model source.
//!
//! Going up, every tool result in the request's transcript is screened by admission and a
//! quarantined one is replaced by its stub before the source sees it ([`transcript`]).
//! Coming down, every tool call the model proposes is repaired and decided before the
//! client sees it: a refused call is removed and replaced by a notice the client can
//! read, and the `fak` extension object lists each decision and code ([`adjudicate`],
//! [`completion`] for whole responses, [`stream`] for SSE, where tool-call deltas are
//! held back until the call is decided and text streams through).

pub mod adjudicate;
pub mod completion;
pub mod report;
pub mod stream;
pub mod transcript;

/// A kernel under the built-in starter policy, rooted at the current directory, as
/// `fak serve` builds it when given no policy.
#[cfg(test)]
pub(crate) fn starter_kernel() -> std::sync::Arc<fak_kernel::Kernel> {
    let base = std::env::current_dir().expect("the test has a current directory");
    let policy = fak_kernel::Policy::builtin_default(&base);
    std::sync::Arc::new(fak_kernel::Kernel::builder(policy).build())
}
