//! What the commands that measure on the in-kernel model share: loading it, and writing
//! their results as MEASURED ledger entries.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{Context, Result};
use fak_backends::CpuBackend;
use fak_harness::ledger::{Baseline, Entry, Param, Provenance};
use fak_harness::spread::Spread;
use fak_models::Model;

/// `given`, or the committed llama3 fixture under `root`, on the CPU backend for `context`
/// positions.
pub fn load_model(
    root: &Path,
    given: Option<&Path>,
    context: usize,
) -> Result<(PathBuf, Arc<Model<CpuBackend>>)> {
    let dir = given.map_or_else(
        || root.join("data/fixtures/models/llama3"),
        Path::to_path_buf,
    );
    let model = Model::load(Arc::new(CpuBackend::new()), &dir, Some(context.max(1)))
        .with_context(|| format!("cannot load the model in {}", dir.display()))?;
    Ok((dir, Arc::new(model)))
}

/// A MEASURED entry; the machine, date and commit are stamped by `harness ledger add`.
pub struct Measured<'a> {
    pub id: String,
    pub title: String,
    pub value: f64,
    pub unit: &'a str,
    pub baseline: Option<Baseline>,
    pub method: &'a str,
    pub command: &'a str,
    pub params: Vec<(&'a str, Param)>,
}

impl Measured<'_> {
    pub fn entry(self) -> Entry {
        Entry {
            id: self.id,
            title: self.title,
            value: self.value,
            unit: self.unit.to_string(),
            baseline: self.baseline,
            ratio: None,
            provenance: Provenance::Measured,
            method: Some(self.method.to_string()),
            command: self.command.to_string(),
            artifact: None,
            machine: None,
            date: None,
            commit: None,
            params: self
                .params
                .into_iter()
                .map(|(k, v)| (k.to_string(), v))
                .collect::<BTreeMap<_, _>>(),
            series: None,
        }
    }
}

/// Writes `entries` as a measurement file (`{"entries": [...]}`) for `harness ledger add`.
pub fn write_entries(out: &Path, entries: &[Entry]) -> Result<()> {
    let text = serde_json::to_string_pretty(&serde_json::json!({ "entries": entries }))?;
    std::fs::write(out, text + "\n").with_context(|| format!("cannot write {}", out.display()))?;
    eprintln!(
        "wrote {} ledger entries to {}",
        entries.len(),
        out.display()
    );
    Ok(())
}

/// The params that carry a repeated measurement's range beside its median (the value).
pub fn range_params(spread: &Spread, runs: usize) -> [(&'static str, Param); 3] {
    [
        ("runs", Param::Number(runs as f64)),
        ("min", Param::Number(spread.min)),
        ("max", Param::Number(spread.max)),
    ]
}

/// `given`, or the release build of fak under `root`.
pub fn fak_binary(root: &Path, given: Option<&Path>) -> PathBuf {
    given.map_or_else(|| root.join("target/release/fak"), Path::to_path_buf)
}
