//! Criterion results as ledger entries: the medians `cargo bench` leaves under
//! target/criterion, read back instead of being copied by hand.

use std::path::{Path, PathBuf};

use serde::Deserialize;
use thiserror::Error;

#[derive(Debug, Error)]
pub enum CriterionError {
    #[error("cannot read {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path} is not a criterion result: {source}")]
    Parse {
        path: PathBuf,
        source: serde_json::Error,
    },
    #[error("no criterion results for group {group} under {dir}")]
    NoGroup { group: String, dir: PathBuf },
}

/// One benchmark's identity and its median time.
#[derive(Debug, Clone, PartialEq)]
pub struct BenchResult {
    pub group: String,
    pub function: String,
    /// The parameter (`896x896`), empty when the benchmark has none.
    pub value: String,
    pub median_ns: f64,
    /// Bytes one iteration processes, when the bench declares a byte throughput.
    pub bytes: Option<u64>,
}

impl BenchResult {
    /// The median rate in MiB/s, for a bench that declares its bytes per iteration.
    pub fn mib_per_s(&self) -> Option<f64> {
        self.bytes
            .map(|b| b as f64 / (1u64 << 20) as f64 / (self.median_ns * 1e-9))
    }
}

#[derive(Deserialize)]
struct Benchmark {
    group_id: String,
    function_id: Option<String>,
    value_str: Option<String>,
    /// Criterion's declared throughput (`{"Bytes": N}`, `{"Elements": N}`, ...); only a
    /// byte count becomes a published rate (element counts are op-specific, and the op
    /// benches publish their times).
    throughput: Option<serde_json::Value>,
}

#[derive(Deserialize)]
struct Estimates {
    median: Estimate,
}

#[derive(Deserialize)]
struct Estimate {
    point_estimate: f64,
}

/// Every benchmark of `group` under `dir` (target/criterion), sorted by id.
pub fn read_group(dir: &Path, group: &str) -> Result<Vec<BenchResult>, CriterionError> {
    let mut found = Vec::new();
    collect(&dir.join(group), &mut found)?;
    if found.is_empty() {
        return Err(CriterionError::NoGroup {
            group: group.to_string(),
            dir: dir.to_path_buf(),
        });
    }
    found.sort_by(|a: &BenchResult, b| (&a.function, &a.value).cmp(&(&b.function, &b.value)));
    Ok(found)
}

fn collect(dir: &Path, out: &mut Vec<BenchResult>) -> Result<(), CriterionError> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Ok(());
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if !path.is_dir() || path.file_name().is_some_and(|n| n == "report") {
            continue;
        }
        if path.file_name().is_some_and(|n| n == "new") {
            out.push(read_one(&path)?);
        } else {
            collect(&path, out)?;
        }
    }
    Ok(())
}

fn read_one(new: &Path) -> Result<BenchResult, CriterionError> {
    let bench: Benchmark = read_json(&new.join("benchmark.json"))?;
    let estimates: Estimates = read_json(&new.join("estimates.json"))?;
    Ok(BenchResult {
        group: bench.group_id,
        function: bench.function_id.unwrap_or_default(),
        value: bench.value_str.unwrap_or_default(),
        median_ns: estimates.median.point_estimate,
        bytes: bench
            .throughput
            .as_ref()
            .and_then(|t| t.get("Bytes"))
            .and_then(serde_json::Value::as_u64),
    })
}

fn read_json<T: for<'de> Deserialize<'de>>(path: &Path) -> Result<T, CriterionError> {
    let text = std::fs::read_to_string(path).map_err(|source| CriterionError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    serde_json::from_str(&text).map_err(|source| CriterionError::Parse {
        path: path.to_path_buf(),
        source,
    })
}

/// `text` as a ledger id segment: lowercase ASCII letters, digits, `_`, `.` and `-`.
pub fn id_segment(text: &str) -> String {
    text.chars()
        .map(|c| match c.to_ascii_lowercase() {
            c @ ('a'..='z' | '0'..='9' | '.' | '-') => c,
            _ => '_',
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(dir: &Path, group: &str, function: &str, value: &str, median: f64) {
        write_with(dir, group, function, value, median, r#"{"Elements":57344}"#);
    }

    fn write_with(
        dir: &Path,
        group: &str,
        function: &str,
        value: &str,
        median: f64,
        throughput: &str,
    ) {
        let new = dir.join(group).join(function).join(value).join("new");
        std::fs::create_dir_all(&new).unwrap();
        std::fs::write(
            new.join("benchmark.json"),
            format!(
                r#"{{"group_id":"{group}","function_id":"{function}","value_str":"{value}","throughput":{throughput}}}"#
            ),
        )
        .unwrap();
        std::fs::write(
            new.join("estimates.json"),
            format!(r#"{{"median":{{"point_estimate":{median}}},"mean":{{"point_estimate":1}}}}"#),
        )
        .unwrap();
    }

    #[test]
    fn reads_the_medians_of_a_group_and_names_a_missing_one() {
        let dir = tempfile::tempdir().unwrap();
        write(dir.path(), "rms_norm", "vulkan", "1x896", 2000.0);
        write(dir.path(), "rms_norm", "cpu", "1x896", 20.5);
        std::fs::create_dir_all(dir.path().join("rms_norm/report")).unwrap();
        let got = read_group(dir.path(), "rms_norm").unwrap();
        let pairs: Vec<(&str, f64)> = got
            .iter()
            .map(|r| (r.function.as_str(), r.median_ns))
            .collect();
        assert_eq!(pairs, vec![("cpu", 20.5), ("vulkan", 2000.0)]);
        assert!(matches!(
            read_group(dir.path(), "matmul"),
            Err(CriterionError::NoGroup { .. })
        ));
    }

    #[test]
    fn a_byte_throughput_becomes_a_rate_and_an_element_count_does_not() {
        let dir = tempfile::tempdir().unwrap();
        // 3 MiB in 1.5 ms is 2000 MiB/s.
        write_with(
            dir.path(),
            "admission",
            "corpus",
            "",
            1.5e6,
            r#"{"Bytes":3145728}"#,
        );
        write(dir.path(), "rms_norm", "cpu", "1x896", 20.5);
        let bytes = &read_group(dir.path(), "admission").unwrap()[0];
        assert_eq!(bytes.bytes, Some(3 << 20));
        assert!((bytes.mib_per_s().unwrap() - 2000.0).abs() < 1e-9);
        let elements = &read_group(dir.path(), "rms_norm").unwrap()[0];
        assert_eq!((elements.bytes, elements.mib_per_s()), (None, None));
    }

    #[test]
    fn id_segments_keep_only_ledger_characters() {
        assert_eq!(id_segment("896x896"), "896x896");
        assert_eq!(id_segment("p=512 KV"), "p_512_kv");
    }
}
