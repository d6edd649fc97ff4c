//! `fak agent --offline --fused --revoke TOOL --json`: the late revocation's excision
//! against the cold rebuild that verifies it, over a few runs.

use serde::Deserialize;

use super::{DemoError, parse};
use crate::spread::Spread;

/// One run's revocation, as `fak agent ... --json` writes it under `fused.revocation`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct Revocation {
    pub tool: String,
    /// Tokens computed again after the span.
    pub recomputed: u64,
    /// Tokens kept before the span.
    pub kept: u64,
    /// Tokens the cold rebuild computes.
    pub cold_rebuild_tokens: u64,
    pub excise_ms: f64,
    pub cold_rebuild_and_compare_ms: f64,
    pub kv_values: u64,
    pub exact: bool,
}

#[derive(Deserialize)]
struct Output {
    fused: Option<Fused>,
}

#[derive(Deserialize)]
struct Fused {
    revocation: Option<Revocation>,
}

/// The revocation in one run's JSON output.
pub fn parse_run(stdout: &str) -> Result<Revocation, DemoError> {
    let out: Output = parse(stdout, "fak agent --json output")?;
    out.fused.and_then(|f| f.revocation).ok_or_else(|| {
        DemoError::Invalid(
            "fak agent printed no fused.revocation (was it run with --fused --revoke?)".to_string(),
        )
    })
}

/// What the runs publish: the token counts (the same in every run) and the two times.
#[derive(Debug, Clone, PartialEq)]
pub struct RevokeSummary {
    pub run: Revocation,
    pub excise_ms: Spread,
    pub cold_ms: Spread,
    pub runs: usize,
}

/// Summarises `runs`; refuses an inexact revocation (its times would time a bug) and runs
/// that disagree on what was computed.
pub fn summarise(runs: &[Revocation]) -> Result<RevokeSummary, DemoError> {
    let first = runs
        .first()
        .ok_or_else(|| DemoError::Invalid("no runs to summarise".to_string()))?;
    if let Some((i, _)) = runs.iter().enumerate().find(|(_, r)| !r.exact) {
        return Err(DemoError::Invalid(format!(
            "run {}: the excised cache differs from the cold rebuild; nothing is published",
            i + 1
        )));
    }
    let counts = |r: &Revocation| (r.recomputed, r.kept, r.cold_rebuild_tokens, r.kv_values);
    if let Some((i, r)) = runs
        .iter()
        .enumerate()
        .find(|(_, r)| counts(r) != counts(first))
    {
        return Err(DemoError::Invalid(format!(
            "run {} computed other counts than run 1 (recomputed, kept, cold rebuild, KV values: {:?} against {:?})",
            i + 1,
            counts(r),
            counts(first)
        )));
    }
    let spread = |f: fn(&Revocation) -> f64| Spread::of(runs.iter().map(f));
    Ok(RevokeSummary {
        run: first.clone(),
        excise_ms: spread(|r| r.excise_ms).expect("runs is not empty"),
        cold_ms: spread(|r| r.cold_rebuild_and_compare_ms).expect("runs is not empty"),
        runs: runs.len(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(excise_ms: f64, recomputed: u64, exact: bool) -> String {
        format!(
            r#"{{"task": "booking-evasive", "fused": {{"tokens": 1950, "revocation": {{"tool": "fetch_policy", "turn": 2, "recomputed": {recomputed}, "kept": 1638, "cold_rebuild_tokens": 1726, "excise_ms": {excise_ms}, "cold_rebuild_and_compare_ms": 900.5, "kv_values": 220928, "exact": {exact}}}}}}}"#
        )
    }

    #[test]
    fn runs_summarise_to_medians_with_the_counts_of_every_run() {
        let runs: Vec<Revocation> = [90.0, 80.0, 85.0]
            .iter()
            .map(|&ms| parse_run(&run(ms, 88, true)).unwrap())
            .collect();
        let s = summarise(&runs).unwrap();
        assert_eq!((s.excise_ms.median, s.excise_ms.min), (85.0, 80.0));
        assert_eq!((s.run.recomputed, s.run.cold_rebuild_tokens), (88, 1726));
        assert_eq!(s.runs, 3);
    }

    #[test]
    fn an_inexact_run_or_runs_that_disagree_publish_nothing() {
        let good = parse_run(&run(80.0, 88, true)).unwrap();
        let inexact = parse_run(&run(80.0, 88, false)).unwrap();
        let other = parse_run(&run(80.0, 89, true)).unwrap();
        let err = summarise(&[good.clone(), inexact]).unwrap_err().to_string();
        assert!(err.contains("run 2") && err.contains("differs"), "{err}");
        let err = summarise(&[good, other]).unwrap_err().to_string();
        assert!(err.contains("other counts"), "{err}");
        let err = parse_run(r#"{"fused": null}"#).unwrap_err().to_string();
        assert!(err.contains("--revoke"), "{err}");
    }
}
