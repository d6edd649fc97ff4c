//! How the reports print the refusal and quarantine codes a kernel counted.

use fak_kernel::CountersSnapshot;

/// `TRUST_VIOLATION x2, DEFAULT_DENY x1`, or `none`.
pub fn seen(counters: &CountersSnapshot) -> String {
    if counters.codes.is_empty() {
        return "none".to_string();
    }
    counters
        .codes
        .iter()
        .map(|(code, n)| format!("{code} x{n}"))
        .collect::<Vec<_>>()
        .join(", ")
}
