//! The facts `harness ledger add/update` writes onto every entry so nobody types them:
//! today's date, the commit, and (when the measurement did not name one) this machine.

use std::path::Path;
use std::process::Command;

/// Date, commit and machine for entries written now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stamp {
    /// UTC date, YYYY-MM-DD.
    pub date: String,
    /// `git rev-parse HEAD` of the repository.
    pub commit: String,
    /// A one-line description of this machine.
    pub machine: String,
}

#[derive(Debug, thiserror::Error)]
pub enum StampError {
    #[error("cannot run git to read the commit in {root}: {source}")]
    GitSpawn {
        root: String,
        source: std::io::Error,
    },
    #[error("`git rev-parse HEAD` failed in {root}: {stderr}")]
    GitFailed { root: String, stderr: String },
}

impl Stamp {
    /// Reads the commit of the repository at `root`, today's UTC date and this machine.
    pub fn here(root: &Path) -> Result<Self, StampError> {
        let root_text = root.display().to_string();
        let output = Command::new("git")
            .arg("-C")
            .arg(root)
            .args(["rev-parse", "HEAD"])
            .output()
            .map_err(|source| StampError::GitSpawn {
                root: root_text.clone(),
                source,
            })?;
        if !output.status.success() {
            return Err(StampError::GitFailed {
                root: root_text,
                stderr: String::from_utf8_lossy(&output.stderr).trim().to_string(),
            });
        }
        Ok(Stamp {
            date: jiff::Timestamp::now().strftime("%Y-%m-%d").to_string(),
            commit: String::from_utf8_lossy(&output.stdout).trim().to_string(),
            machine: describe_machine(),
        })
    }
}

/// "Linux x86_64, 2 CPUs (AMD EPYC 7B13), 24 GiB": enough to tell two machines apart in
/// the authority table. Parts that cannot be read are left out rather than guessed.
pub fn describe_machine() -> String {
    let mut text = format!("{} {}", std::env::consts::OS, std::env::consts::ARCH);
    if let Ok(cpus) = std::thread::available_parallelism() {
        text.push_str(&format!(", {cpus} CPUs"));
    }
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    if let Some(model) = cpuinfo
        .lines()
        .find_map(|line| line.strip_prefix("model name"))
        .and_then(|rest| rest.split_once(':'))
    {
        text.push_str(&format!(" ({})", model.1.trim()));
    }
    let meminfo = std::fs::read_to_string("/proc/meminfo").unwrap_or_default();
    let total_kib = meminfo
        .lines()
        .find_map(|line| line.strip_prefix("MemTotal:"))
        .and_then(|rest| {
            rest.trim()
                .trim_end_matches("kB")
                .trim()
                .parse::<u64>()
                .ok()
        });
    if let Some(kib) = total_kib {
        const KIB_PER_GIB: u64 = 1024 * 1024;
        text.push_str(&format!(", {} GiB", kib.div_ceil(KIB_PER_GIB)));
    }
    text
}
