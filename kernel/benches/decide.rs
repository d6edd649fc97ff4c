//! Decide latency for a 50-rule policy: the rung fold alone, and the kernel's decide
//! (which also journals the decision: two sha256 digests and a hash-chained record).

use std::hint::black_box;
use std::path::Path;

use criterion::{Criterion, criterion_group, criterion_main};
use fak_kernel::decide::{DecideContext, DecideInput, ProtectedPaths, decide};
use fak_kernel::policy::confirm::ConfirmBook;
use fak_kernel::policy::rate_limit::RateLimiter;
use fak_kernel::{Kernel, Policy, ToolCall, ToolDescriptor};
use serde_json::json;

/// 50 rules: 20 allowed names, 5 prefixes, 5 denials, 15 argument rules, 5 redactions.
fn fifty_rule_policy() -> Policy {
    let allow: Vec<String> = (0..19)
        .map(|i| format!("tool_{i}"))
        .chain(["search_docs".to_string()])
        .collect();
    let prefixes: Vec<String> = (0..5).map(|i| format!("kb{i}.")).collect();
    let deny: serde_json::Map<String, serde_json::Value> = (0..5)
        .map(|i| (format!("danger_{i}"), json!("POLICY_BLOCK")))
        .collect();
    let mut rules = serde_json::Map::new();
    for i in 0..12 {
        rules.insert(
            format!("tool_{i}"),
            json!({"arg": {"deny_regex": [format!("forbidden{i}")], "max_bytes": 4096}}),
        );
    }
    rules.insert(
        "search_docs".into(),
        json!({"query": {"deny_regex": ["(?i)drop\\s+table", "\\.\\./"], "max_bytes": 2048},
               "limit": {"max_bytes": 8}}),
    );
    rules.insert("*".into(), json!({"*": {"max_bytes": 65536}}));
    let text = json!({
        "version": "fak-policy/v1",
        "allow": allow,
        "allow_prefix": prefixes,
        "deny": deny,
        "rules": rules,
        "redact": {"*": ["api_key", "password", "token"], "search_docs": ["session", "cookie"]},
        "flow": {"untrusted_sources": ["web_fetch"], "egress": ["http_post"]},
    })
    .to_string();
    Policy::parse(&text, "bench", Path::new("/work")).expect("bench policy compiles")
}

fn bench_decide(c: &mut Criterion) {
    let policy = fifty_rule_policy();
    let call = ToolCall::new(
        "search_docs",
        json!({"query": "refund policy for basic economy fares", "limit": 10, "lang": "en"}),
    );
    let descriptor = ToolDescriptor::new("search_docs", json!({"type": "object"})).pure_read();
    let protected = ProtectedPaths::default();
    let taint = Default::default();
    let rate = RateLimiter::default();
    let confirm = ConfirmBook::default();
    let ctx = DecideContext {
        policy: &policy,
        protected: &protected,
        taint: &taint,
        rate: &rate,
        confirm: &confirm,
        now_ms: 0,
    };
    let input = DecideInput {
        trace: "bench",
        call: &call,
        descriptor: Some(&descriptor),
        confirm_token: None,
    };
    c.bench_function("decide_50_rules/rungs_read_only_call", |b| {
        b.iter(|| black_box(decide(&ctx, black_box(input))))
    });

    let write_call = ToolCall::new("tool_3", json!({"arg": "/work/data/report.txt"}));
    let write_input = DecideInput {
        call: &write_call,
        descriptor: None,
        ..input
    };
    c.bench_function(
        "decide_50_rules/rungs_write_shaped_call_path_resolution",
        |b| b.iter(|| black_box(decide(&ctx, black_box(write_input)))),
    );

    let kernel = Kernel::builder(fifty_rule_policy()).build();
    c.bench_function("decide_50_rules/kernel_decide_with_journal_hashing", |b| {
        b.iter(|| black_box(kernel.decide("bench", black_box(&call), Some(&descriptor), None)))
    });
}

criterion_group!(benches, bench_decide);
criterion_main!(benches);
