//! `bench/gateway/run.sh`: wrk against the mock upstream straight and through `fak serve`
//! in proxy mode. With RESULTS set the script leaves one JSON file a wrk run (written by
//! bench/gateway/chat.lua's `done`) and one for the server's resident set; this reads them.

use std::path::Path;

use serde::Deserialize;

use super::{DemoError, parse};

/// One wrk run.
#[derive(Debug, Clone, Copy, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WrkRun {
    pub p50_us: f64,
    pub p99_us: f64,
    pub requests: u64,
    pub duration_us: f64,
    /// Connect, read, write and timeout errors.
    pub socket_errors: u64,
    /// Answers with a status other than 2xx or 3xx.
    pub non_2xx: u64,
}

impl WrkRun {
    pub fn requests_per_s(&self) -> f64 {
        self.requests as f64 / (self.duration_us * 1e-6)
    }

    pub fn errors(&self) -> u64 {
        self.socket_errors + self.non_2xx
    }
}

/// The server's resident set around the soak, and the machine's load.
#[derive(Debug, Clone, Copy, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Machine {
    pub rss_before_kib: u64,
    pub rss_after_kib: u64,
    pub soak_s: u64,
    /// The 1-minute load average when the runs ended.
    pub load_average: f64,
}

/// Every run of one bench: one connection and 64 connections, straight and through fak,
/// then the soak through fak.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ProxyBench {
    pub direct_1: WrkRun,
    pub fak_1: WrkRun,
    pub direct_64: WrkRun,
    pub fak_64: WrkRun,
    pub soak: WrkRun,
    pub machine: Machine,
}

/// The files run.sh leaves under `dir`.
pub const FILES: [&str; 6] = [
    "direct1.json",
    "fak1.json",
    "direct64.json",
    "fak64.json",
    "soak.json",
    "machine.json",
];

pub fn read(dir: &Path) -> Result<ProxyBench, DemoError> {
    let text = |name: &str| {
        let path = dir.join(name);
        std::fs::read_to_string(&path).map_err(|source| DemoError::Read { path, source })
    };
    let wrk = |name: &str| -> Result<WrkRun, DemoError> { parse(&text(name)?, name) };
    Ok(ProxyBench {
        direct_1: wrk(FILES[0])?,
        fak_1: wrk(FILES[1])?,
        direct_64: wrk(FILES[2])?,
        fak_64: wrk(FILES[3])?,
        soak: wrk(FILES[4])?,
        machine: parse(&text(FILES[5])?, FILES[5])?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_results_directory_reads_back_and_a_missing_file_is_named() {
        let dir = tempfile::tempdir().unwrap();
        for name in &FILES[..5] {
            std::fs::write(
                dir.path().join(name),
                r#"{"p50_us": 163, "p99_us": 5770, "requests": 81000, "duration_us": 10000000, "socket_errors": 0, "non_2xx": 2}"#,
            )
            .unwrap();
        }
        let err = read(dir.path()).unwrap_err().to_string();
        assert!(err.contains("machine.json"), "{err}");
        std::fs::write(
            dir.path().join("machine.json"),
            r#"{"rss_before_kib": 23644, "rss_after_kib": 24020, "soak_s": 60, "load_average": 9.9}"#,
        )
        .unwrap();
        let bench = read(dir.path()).unwrap();
        assert_eq!(bench.fak_64.requests_per_s(), 8100.0);
        assert_eq!(bench.soak.errors(), 2);
        assert_eq!(bench.machine.rss_after_kib, 24020);
    }
}
