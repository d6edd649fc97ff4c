//! `/metrics`: request counts, verdicts and latency histograms in the Prometheus text
//! format.

use prometheus::{
    Encoder, HistogramOpts, HistogramVec, IntCounter, IntCounterVec, IntGauge, Opts, Registry,
    TextEncoder,
};

use crate::gate::report::Mark;

/// Routes that get their own label; anything else is counted as `other`, which keeps the
/// label set bounded whatever paths clients try.
const ROUTES: [&str; 6] = [
    "/v1/chat/completions",
    "/v1/messages",
    "/v1/models",
    "/healthz",
    "/readyz",
    "/metrics",
];

/// Latency buckets, in seconds: 0.25 ms to about 130 s, doubling.
fn latency_buckets() -> Vec<f64> {
    prometheus::exponential_buckets(0.000_25, 2.0, 20).unwrap_or_default()
}

/// The gateway's metrics.
#[derive(Debug)]
pub struct Metrics {
    registry: Registry,
    requests: IntCounterVec,
    latency: HistogramVec,
    verdicts: IntCounterVec,
    shed: IntCounter,
    live_traces: IntGauge,
}

impl Default for Metrics {
    fn default() -> Metrics {
        Metrics::new()
    }
}

impl Metrics {
    pub fn new() -> Metrics {
        let requests = IntCounterVec::new(
            Opts::new(
                "fak_gateway_requests_total",
                "HTTP requests by route and status.",
            ),
            &["route", "status"],
        )
        .expect("static metric options are valid");
        let latency = HistogramVec::new(
            HistogramOpts::new(
                "fak_gateway_request_duration_seconds",
                "Time from request to the end of the response body, in seconds.",
            )
            .buckets(latency_buckets()),
            &["route"],
        )
        .expect("static metric options are valid");
        let verdicts = IntCounterVec::new(
            Opts::new(
                "fak_gateway_verdicts_total",
                "Kernel decisions on proposed tool calls and admissions of tool results, \
                 by outcome and refusal code.",
            ),
            &["outcome", "code"],
        )
        .expect("static metric options are valid");
        let shed = IntCounter::new(
            "fak_gateway_shed_total",
            "Requests refused with 503 because the concurrency bound was reached.",
        )
        .expect("static metric options are valid");
        let live_traces = IntGauge::new(
            "fak_gateway_live_traces",
            "Conversations whose taint the kernel is tracking.",
        )
        .expect("static metric options are valid");
        let registry = Registry::new();
        for collector in [
            Box::new(requests.clone()) as Box<dyn prometheus::core::Collector>,
            Box::new(latency.clone()),
            Box::new(verdicts.clone()),
            Box::new(shed.clone()),
            Box::new(live_traces.clone()),
        ] {
            registry
                .register(collector)
                .expect("each metric is registered once");
        }
        Metrics {
            registry,
            requests,
            latency,
            verdicts,
            shed,
            live_traces,
        }
    }

    /// Records one finished request.
    pub fn request(&self, path: &str, status: u16, seconds: f64, marks: &[Mark]) {
        let route = ROUTES
            .iter()
            .find(|r| **r == path)
            .copied()
            .unwrap_or("other");
        self.requests
            .with_label_values(&[route, &status.to_string()])
            .inc();
        self.latency.with_label_values(&[route]).observe(seconds);
        for mark in marks {
            self.verdicts
                .with_label_values(&[mark.outcome, mark.code.unwrap_or("")])
                .inc();
        }
    }

    /// Adds a model source's own metrics to the exposition.
    pub fn register(&self, collector: Box<dyn prometheus::core::Collector>) {
        self.registry
            .register(collector)
            .expect("a source's metrics do not share the gateway's names");
    }

    pub fn shed(&self) {
        self.shed.inc();
    }

    /// The text exposition, with the live-trace gauge read now.
    pub fn render(&self, live_traces: usize) -> String {
        self.live_traces
            .set(i64::try_from(live_traces).unwrap_or(i64::MAX));
        let mut out = Vec::new();
        // Encoding gathered families into memory cannot fail.
        let _ = TextEncoder::new().encode(&self.registry.gather(), &mut out);
        String::from_utf8_lossy(&out).into_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_verdicts_and_latency_appear_in_the_text_format() {
        let m = Metrics::new();
        m.request(
            "/v1/chat/completions",
            200,
            0.002,
            &[Mark {
                outcome: "DENY",
                code: Some("POLICY_BLOCK"),
            }],
        );
        m.request("/secret/path/42", 404, 0.001, &[]);
        let text = m.render(3);
        assert!(text.contains(
            "fak_gateway_requests_total{route=\"/v1/chat/completions\",status=\"200\"} 1"
        ));
        assert!(text.contains("fak_gateway_requests_total{route=\"other\",status=\"404\"} 1"));
        assert!(
            text.contains("fak_gateway_verdicts_total{code=\"POLICY_BLOCK\",outcome=\"DENY\"} 1")
        );
        assert!(text.contains("fak_gateway_request_duration_seconds_bucket"));
        assert!(text.contains("fak_gateway_live_traces 3"));
        assert!(!text.contains("secret"));
    }
}
