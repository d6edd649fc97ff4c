//! Shared fixtures: a small registry of in-memory tools and policy helpers.
#![allow(dead_code)]

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use fak_kernel::{
    InMemoryRegistry, Kernel, ManualClock, Policy, SinkKind, ToolDescriptor, ToolError,
};
use serde_json::{Value, json};

/// Compiles a policy from JSON text with `base` as its base directory.
pub fn policy(text: &str, base: &Path) -> Policy {
    Policy::parse(text, "test-policy.json", base).expect("test policy compiles")
}

/// A kernel over `policy_text`, with a manual clock at 0 and an in-memory journal.
pub fn kernel(policy_text: &str) -> (Kernel, Arc<ManualClock>) {
    let clock = Arc::new(ManualClock::new(0));
    let k = Kernel::builder(policy(policy_text, Path::new("/work")))
        .clock(clock.clone())
        .journal(fak_kernel::Journal::memory())
        .build();
    (k, clock)
}

/// Counts how often each tool really ran.
#[derive(Debug, Default)]
pub struct Dispatches {
    pub lookup: AtomicU64,
    pub fetch: AtomicU64,
    pub book: AtomicU64,
}

/// lookup (pure read), fetch_page (untrusted read returning `page`), book (write),
/// delete_account (destructive), send_email (egress), fail (a tool that errors).
pub fn registry(page: &'static str, counts: Arc<Dispatches>) -> InMemoryRegistry {
    let mut r = InMemoryRegistry::new();
    let c = counts.clone();
    r.register(
        ToolDescriptor::new(
            "lookup",
            json!({"type": "object", "properties": {"customer": {"type": "string"}}, "required": ["customer"], "additionalProperties": false}),
        )
        .pure_read()
        .with_alias("customer_id", "customer"),
        move |args| {
            c.lookup.fetch_add(1, Ordering::SeqCst);
            Ok(format!("customer {} is gold tier", args["customer"].as_str().unwrap_or("?")))
        },
    );
    let c = counts.clone();
    r.register(
        ToolDescriptor::new(
            "fetch_page",
            json!({"type": "object", "properties": {"url": {"type": "string"}}}),
        )
        .pure_read(),
        move |_| {
            c.fetch.fetch_add(1, Ordering::SeqCst);
            Ok(page.to_string())
        },
    );
    let c = counts;
    r.register(
        ToolDescriptor::new(
            "book",
            json!({"type": "object", "properties": {"flight": {"type": "string"}, "seats": {"type": "integer"}}, "required": ["flight"]}),
        ),
        move |args: &Value| {
            c.book.fetch_add(1, Ordering::SeqCst);
            Ok(format!("booked {}", args["flight"]))
        },
    );
    r.register(
        ToolDescriptor::new("delete_account", json!({"type": "object"}))
            .with_sink(SinkKind::Destructive),
        |_| Ok("deleted".to_string()),
    );
    r.register(
        ToolDescriptor::new("send_email", json!({"type": "object"})).with_sink(SinkKind::Egress),
        |_| Ok("sent".to_string()),
    );
    r.register(
        ToolDescriptor::new("fail", json!({"type": "object"})),
        |_| Err(ToolError("backend unavailable".to_string())),
    );
    r
}
