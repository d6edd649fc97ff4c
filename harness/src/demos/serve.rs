//! `gateway/examples/in_kernel_demo.sh`: `fak serve` running the test model in-kernel, four
//! requests (a warm-up, a conversation, the same again, a second one sharing its system
//! prompt), each request's usage and wall time and the server's resident set after
//! start-up, over a few runs.

use serde::Deserialize;

use super::{DemoError, parse};
use crate::spread::Spread;

/// One request, as the demo writes it when DEMO_JSON names a file.
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

/// A line of the demo's DEMO_JSON file.
#[derive(Deserialize)]
#[serde(untagged)]
enum Line {
    Request(Request),
    Server(Server),
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Server {
    rss_after_start_kib: u64,
}

/// One run of the demo.
#[derive(Debug, Clone, PartialEq)]
pub struct DemoRun {
    pub rss_after_start_kib: u64,
    /// In the order they were sent.
    pub requests: Vec<Request>,
}

/// One run's DEMO_JSON file: the server's line, then one line a request.
pub fn parse_run(lines: &str) -> Result<DemoRun, DemoError> {
    let mut rss = None;
    let mut requests = Vec::new();
    for (i, l) in lines
        .lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
    {
        let what = format!("line {} of the demo's DEMO_JSON file", i + 1);
        match parse(l, &what)? {
            Line::Request(r) => requests.push(r),
            Line::Server(s) => rss = Some(s.rss_after_start_kib),
        }
    }
    let rss_after_start_kib = rss.ok_or_else(|| {
        DemoError::Invalid("the demo wrote no resident set to its DEMO_JSON file".to_string())
    })?;
    if requests.is_empty() {
        return Err(DemoError::Invalid(
            "the demo wrote no requests to its DEMO_JSON file".to_string(),
        ));
    }
    Ok(DemoRun {
        rss_after_start_kib,
        requests,
    })
}

/// One request over every run: its usage (the same in every run) and its wall times.
#[derive(Debug, Clone, PartialEq)]
pub struct RequestSummary {
    pub request: Request,
    pub ms: Spread,
}

/// Every run of the demo, summarised.
#[derive(Debug, Clone, PartialEq)]
pub struct DemoSummary {
    pub rss_after_start_kib: Spread,
    pub requests: Vec<RequestSummary>,
}

/// Per request, over `runs`; refuses runs whose requests or token counts differ (the
/// counts are deterministic, so a difference means the runs did not do the same work).
pub fn summarise(runs: &[DemoRun]) -> Result<DemoSummary, DemoError> {
    let first = &runs
        .first()
        .ok_or_else(|| DemoError::Invalid("no runs to summarise".to_string()))?
        .requests;
    let usage = |r: &Request| {
        (
            r.request.clone(),
            r.prompt_tokens,
            r.cached_tokens,
            r.completion_tokens,
        )
    };
    for (i, run) in runs.iter().enumerate() {
        let same = run.requests.len() == first.len()
            && run
                .requests
                .iter()
                .zip(first)
                .all(|(a, b)| usage(a) == usage(b));
        if !same {
            return Err(DemoError::Invalid(format!(
                "run {} made other requests or used other token counts than run 1",
                i + 1
            )));
        }
    }
    let spread = |values: Vec<f64>| Spread::of(values).expect("runs is not empty");
    Ok(DemoSummary {
        rss_after_start_kib: spread(runs.iter().map(|r| r.rss_after_start_kib as f64).collect()),
        requests: first
            .iter()
            .enumerate()
            .map(|(k, request)| RequestSummary {
                request: request.clone(),
                ms: spread(runs.iter().map(|run| run.requests[k].ms).collect()),
            })
            .collect(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(request: &str, cached: u64, ms: f64) -> String {
        format!(
            r#"{{"request": "{request}", "question": "Can I cancel?", "prompt_tokens": 167, "cached_tokens": {cached}, "completion_tokens": 24, "finish_reason": "length", "ms": {ms}}}"#
        )
    }

    fn run(rss: u64, requests: &[String]) -> String {
        format!(
            "{{\"rss_after_start_kib\": {rss}}}\n{}\n",
            requests.join("\n")
        )
    }

    #[test]
    fn each_request_gets_the_median_of_its_runs() {
        let runs: Vec<DemoRun> = [
            (30.0, 10.0, 18000),
            (39.0, 13.0, 18100),
            (31.0, 11.0, 17900),
        ]
        .iter()
        .map(|&(a, b, rss)| {
            parse_run(&run(rss, &[line("first", 0, a), line("repeat", 160, b)])).unwrap()
        })
        .collect();
        let s = summarise(&runs).unwrap();
        assert_eq!(s.requests.len(), 2);
        assert_eq!(
            (s.requests[0].ms.median, s.requests[0].ms.max),
            (31.0, 39.0)
        );
        assert_eq!(
            (s.requests[1].request.cached_tokens, s.requests[1].ms.min),
            (160, 10.0)
        );
        assert_eq!(s.rss_after_start_kib.median, 18000.0);
    }

    #[test]
    fn runs_with_other_counts_unknown_fields_or_missing_lines_are_refused() {
        let a = parse_run(&run(1, &[line("repeat", 160, 10.0)])).unwrap();
        let b = parse_run(&run(1, &[line("repeat", 128, 10.0)])).unwrap();
        let err = summarise(&[a, b]).unwrap_err().to_string();
        assert!(err.contains("run 2"), "{err}");
        let err = parse_run(r#"{"request": "first", "extra": 1}"#)
            .unwrap_err()
            .to_string();
        assert!(err.contains("line 1"), "{err}");
        let err = parse_run(&line("first", 0, 1.0)).unwrap_err().to_string();
        assert!(err.contains("resident set"), "{err}");
        let err = parse_run(&run(1, &[])).unwrap_err().to_string();
        assert!(err.contains("no requests"), "{err}");
    }
}
