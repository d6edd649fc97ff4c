//! The in-kernel model's metrics: what the KV cache saved and what the model produced.

use prometheus::IntCounter;
use prometheus::core::Collector;

#[derive(Clone, Debug)]
pub struct Counters {
    reused: IntCounter,
    computed: IntCounter,
    generated: IntCounter,
}

impl Counters {
    pub fn new() -> Counters {
        let counter = |name: &str, help: &str| {
            IntCounter::new(name, help).expect("static metric options are valid")
        };
        Counters {
            reused: counter(
                "fak_gateway_kv_reused_tokens_total",
                "Prompt tokens whose KV rows were adopted from the cache (a prefix an \
                 earlier request left), not computed.",
            ),
            computed: counter(
                "fak_gateway_kv_computed_tokens_total",
                "Prompt tokens the forward pass computed.",
            ),
            generated: counter(
                "fak_gateway_generated_tokens_total",
                "Tokens the in-kernel model sampled, stop tokens included.",
            ),
        }
    }

    /// Counts one prompt's prefill.
    pub fn prefill(&self, reused: usize, computed: usize) {
        self.reused.inc_by(reused as u64);
        self.computed.inc_by(computed as u64);
    }

    /// Counts one sampled token (as it is sampled, so an answer cut short by a client
    /// that hung up still counts what it cost).
    pub fn sampled(&self) {
        self.generated.inc();
    }

    pub fn collectors(&self) -> Vec<Box<dyn Collector>> {
        vec![
            Box::new(self.reused.clone()),
            Box::new(self.computed.clone()),
            Box::new(self.generated.clone()),
        ]
    }
}
