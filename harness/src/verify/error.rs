//! Why a gate could not run, or why verify could not start.

use std::path::PathBuf;

use fak_backends::BackendError;
use fak_backends::parity::ParityError;
use fak_kernel::kv::KvError;
use fak_models::ModelError;
use thiserror::Error;

use crate::on_backend::NotInThisBuild;

/// Why one gate could not run: reported in its row, as a failure.
#[derive(Debug, Error)]
pub enum GateError {
    #[error(transparent)]
    Kv(#[from] KvError),
    #[error(transparent)]
    Model(#[from] ModelError),
    #[error(transparent)]
    Backend(#[from] BackendError),
    #[error("{case}: {source}")]
    Case { case: String, source: ParityError },
    #[error("cannot make a temporary directory for the core dump: {0}")]
    TempDir(std::io::Error),
    #[error(transparent)]
    NotInThisBuild(#[from] NotInThisBuild),
}

/// Why verify could not run at all.
#[derive(Debug, Error)]
pub enum VerifyError {
    #[error(
        "no fixture models in {}: run from the repository root or pass --root \
         (the fixtures are committed under data/fixtures/models)",
        dir.display()
    )]
    NoFixtures { dir: PathBuf },
    #[error("cannot read the fixture directory {}: {source}", dir.display())]
    FixtureDir {
        dir: PathBuf,
        source: std::io::Error,
    },
}
