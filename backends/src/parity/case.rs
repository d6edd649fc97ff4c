//! A parity case: what the CPU reference runs, what the device runs, and the comparison of
//! their outputs.

use thiserror::Error;

use super::compare_bits;
use super::{Attention, BitComparison, Elementwise, Embed, KvRowOps, Matmul, RmsNorm, Rope};
use crate::{Backend, BackendError, BackendFn, CpuBackend};

/// Which side of a comparison could not run.
#[derive(Debug, Error)]
pub enum ParityError {
    #[error("the CPU reference refused the case: {0}")]
    Reference(BackendError),
    #[error("the backend under test failed: {0}")]
    Candidate(BackendError),
}

/// A case's outcome: the reference output (f32 bits) and how the backend's output compares.
#[derive(Debug, Clone)]
pub struct CaseOutcome {
    pub reference: Vec<u32>,
    pub comparison: BitComparison,
}

/// `reference` run on the CPU and `candidate` on the backend under test, compared bit for
/// bit. Usually both are the same case; they differ where the device is held to the
/// CPU's one-shot result from another call pattern (chunks against one call).
#[derive(Debug, Clone)]
pub struct ParityCase<F> {
    pub what: String,
    pub reference: F,
    pub candidate: F,
}

impl<F: Clone> ParityCase<F> {
    /// The same case on both sides.
    pub fn same(what: impl Into<String>, case: F) -> Self {
        Self {
            what: what.into(),
            reference: case.clone(),
            candidate: case,
        }
    }
}

impl<F> BackendFn for &ParityCase<F>
where
    F: BackendFn<Output = Result<Vec<u32>, BackendError>> + Clone,
{
    type Output = Result<CaseOutcome, ParityError>;
    fn run<B: Backend>(self, backend: &B) -> Self::Output {
        let reference = self
            .reference
            .clone()
            .run(&CpuBackend::new())
            .map_err(ParityError::Reference)?;
        let got = self
            .candidate
            .clone()
            .run(backend)
            .map_err(ParityError::Candidate)?;
        Ok(CaseOutcome {
            comparison: compare_bits(&reference, &got),
            reference,
        })
    }
}

/// Any of the op cases, so one sweep can hold several kinds.
#[derive(Debug, Clone)]
pub enum OpCase {
    Matmul(Matmul),
    Embed(Embed),
    RmsNorm(RmsNorm),
    Elementwise(Elementwise),
    Rope(Rope),
    KvRows(KvRowOps),
    Attention(Attention),
}

impl BackendFn for OpCase {
    type Output = Result<Vec<u32>, BackendError>;
    fn run<B: Backend>(self, b: &B) -> Self::Output {
        match self {
            Self::Matmul(c) => c.run(b),
            Self::Embed(c) => c.run(b),
            Self::RmsNorm(c) => c.run(b),
            Self::Elementwise(c) => c.run(b),
            Self::Rope(c) => c.run(b),
            Self::KvRows(c) => c.run(b),
            Self::Attention(c) => c.run(b),
        }
    }
}
