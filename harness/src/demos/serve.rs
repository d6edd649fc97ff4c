//! `gateway/examples/in_kernel_demo.sh`: `fak serve` running the test model in-kernel, four
//! requests (a warm-up, a conversation, the same again, a second one sharing its system
//! prompt), each request's usage and wall time, over a few runs.

use serde::Deserialize;

use super::{DemoError, parse};
use crate::spread::Spread;

/// One request, as the demo writes it (one JSON object a line) when DEMO_JSON names a file.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Request {
    /// warm_up, first, repeat or second: the request's place in the demo.
    pub request: String,
    pub question: String,
    pub prompt_tokens: u64,
    pub cached_tokens: u64,
    pub completion_tokens: u64,
    pub finish_reason: String,
    /// curl's time_total.
    pub ms: f64,
}

/// One run's requests, in order.
pub fn parse_run(lines: &str) -> Result<Vec<Request>, DemoError> {
    let requests: Vec<Request> = lines
        .lines()
        .filter(|l| !l.trim().is_empty())
        .enumerate()
        .map(|(i, l)| parse(l, &format!("line {} of the demo's DEMO_JSON file", i + 1)))
        .collect::<Result<_, _>>()?;
    if requests.is_empty() {
        return Err(DemoError::Invalid(
            "the demo wrote no requests to its DEMO_JSON file".to_string(),
        ));
    }
    Ok(requests)
}

/// One request over every run: its usage (the same in every run) and its wall times.
#[derive(Debug, Clone, PartialEq)]
pub struct RequestSummary {
    pub request: Request,
    pub ms: Spread,
}

/// Per request, over `runs`; refuses runs whose requests or token counts differ (the
/// counts are deterministic, so a difference means the runs did not do the same work).
pub fn summarise(runs: &[Vec<Request>]) -> Result<Vec<RequestSummary>, DemoError> {
    let first = runs
        .first()
        .ok_or_else(|| DemoError::Invalid("no runs to summarise".to_string()))?;
    let usage = |r: &Request| {
        (
            r.request.clone(),
            r.prompt_tokens,
            r.cached_tokens,
            r.completion_tokens,
        )
    };
    for (i, run) in runs.iter().enumerate() {
        let same =
            run.len() == first.len() && run.iter().zip(first).all(|(a, b)| usage(a) == usage(b));
        if !same {
            return Err(DemoError::Invalid(format!(
                "run {} made other requests or used other token counts than run 1",
                i + 1
            )));
        }
    }
    Ok(first
        .iter()
        .enumerate()
        .map(|(k, request)| RequestSummary {
            request: request.clone(),
            ms: Spread::of(runs.iter().map(|run| run[k].ms)).expect("runs is not empty"),
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(request: &str, cached: u64, ms: f64) -> String {
        format!(
            r#"{{"request": "{request}", "question": "Can I cancel?", "prompt_tokens": 167, "cached_tokens": {cached}, "completion_tokens": 24, "finish_reason": "length", "ms": {ms}}}"#
        )
    }

    #[test]
    fn each_request_gets_the_median_of_its_runs() {
        let runs: Vec<Vec<Request>> = [(30.0, 10.0), (39.0, 13.0), (31.0, 11.0)]
            .iter()
            .map(|&(a, b)| {
                parse_run(&format!(
                    "{}\n{}\n",
                    line("first", 0, a),
                    line("repeat", 160, b)
                ))
                .unwrap()
            })
            .collect();
        let s = summarise(&runs).unwrap();
        assert_eq!(s.len(), 2);
        assert_eq!((s[0].ms.median, s[0].ms.max), (31.0, 39.0));
        assert_eq!((s[1].request.cached_tokens, s[1].ms.min), (160, 10.0));
    }

    #[test]
    fn runs_with_other_counts_and_unknown_fields_are_refused() {
        let a = parse_run(&line("repeat", 160, 10.0)).unwrap();
        let b = parse_run(&line("repeat", 128, 10.0)).unwrap();
        let err = summarise(&[a, b]).unwrap_err().to_string();
        assert!(err.contains("run 2"), "{err}");
        let err = parse_run(r#"{"request": "first", "extra": 1}"#)
            .unwrap_err()
            .to_string();
        assert!(err.contains("line 1"), "{err}");
        assert!(parse_run("\n").is_err());
    }
}
