//! Each policy rung, exercised through `Kernel::decide` as a gateway would call it.

mod common;

use std::path::Path;
use std::sync::Arc;

use fak_kernel::{
    Kernel, ManualClock, Policy, RefusalCode, Rung, ToolCall, ToolDescriptor, Verdict,
};
use serde_json::json;

fn code(v: &Verdict) -> Option<RefusalCode> {
    v.refusal().map(|r| r.code)
}

fn decide(k: &Kernel, tool: &str, args: serde_json::Value) -> Verdict {
    decide_in(k, "t1", tool, args)
}

fn decide_in(k: &Kernel, trace: &str, tool: &str, args: serde_json::Value) -> Verdict {
    k.decide(trace, &ToolCall::new(tool, args), None, None)
        .verdict
}

#[test]
fn empty_policy_denies_every_tool() {
    let (k, _) = common::kernel("{}");
    for tool in ["read_file", "lookup", "", "anything.at.all"] {
        assert_eq!(
            code(&decide(&k, tool, json!({}))),
            Some(RefusalCode::DefaultDeny),
            "{tool}"
        );
    }
}

#[test]
fn allow_prefix_and_deny_codes_apply() {
    let (k, _) = common::kernel(
        r#"{"allow": ["a"], "allow_prefix": ["kb."], "deny": {"kb.drop": "SELF_MODIFY"}}"#,
    );
    assert_eq!(decide(&k, "a", json!({})), Verdict::Allow);
    assert_eq!(decide(&k, "kb.search", json!({})), Verdict::Allow);
    assert_eq!(
        code(&decide(&k, "kb.drop", json!({}))),
        Some(RefusalCode::SelfModify)
    );
    assert_eq!(
        code(&decide(&k, "ab", json!({}))),
        Some(RefusalCode::DefaultDeny)
    );
}

#[test]
fn symlink_out_of_an_allowed_glob_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let root = std::fs::canonicalize(dir.path()).unwrap();
    std::fs::create_dir(root.join("allowed")).unwrap();
    std::fs::create_dir(root.join("secret")).unwrap();
    std::fs::write(root.join("secret/key.txt"), "k").unwrap();
    std::os::unix::fs::symlink(root.join("secret"), root.join("allowed/link")).unwrap();
    let policy = common::policy(
        r#"{"allow": ["read"], "rules": {"read": {"path": {"allow_glob": ["allowed/**"]}}}}"#,
        &root,
    );
    let k = Kernel::builder(policy).build();
    let read = |p: &str| {
        k.decide("t", &ToolCall::new("read", json!({"path": p})), None, None)
            .verdict
    };
    assert_eq!(read("allowed/notes.txt"), Verdict::Allow);
    assert_eq!(
        read(&root.join("allowed/x").to_string_lossy()),
        Verdict::Allow
    );
    let via_link = read("allowed/link/key.txt");
    assert_eq!(code(&via_link), Some(RefusalCode::PolicyBlock));
    assert_eq!(
        via_link.refusal().unwrap().item,
        "argument \"path\" is outside every allow_glob"
    );
    let escape = read("allowed/../../etc/passwd");
    assert_eq!(
        escape.refusal().unwrap().item,
        "argument \"path\" escapes its base directory with `..`"
    );
    assert_eq!(code(&read("/etc/passwd")), Some(RefusalCode::PolicyBlock));
    assert_eq!(
        code(
            &k.decide("t", &ToolCall::new("read", json!({"path": 7})), None, None)
                .verdict
        ),
        Some(RefusalCode::PolicyBlock)
    );
}

#[test]
fn deny_regex_and_max_bytes_name_the_argument_not_the_pattern() {
    let (k, _) = common::kernel(
        r#"{"allow": ["sh"], "rules": {"sh": {"cmd": {"deny_regex": ["rm\\s+-rf"], "max_bytes": 16}}}}"#,
    );
    let v = decide(&k, "sh", json!({"cmd": "rm -rf /"}));
    let r = v.refusal().unwrap();
    assert_eq!(
        (r.code, r.item.as_str()),
        (
            RefusalCode::PolicyBlock,
            "argument \"cmd\" matches deny_regex[0]"
        )
    );
    assert!(!r.to_string().contains("rm\\s"), "policy text leaked: {r}");
    let v = decide(&k, "sh", json!({"cmd": "echo aaaaaaaaaaaaaaaaaaaa"}));
    assert_eq!(
        v.refusal().unwrap().item,
        "argument \"cmd\" is 25 bytes, bound 16 bytes"
    );
}

#[test]
fn policy_file_journal_and_config_cannot_be_written() {
    let dir = tempfile::tempdir().unwrap();
    let root = std::fs::canonicalize(dir.path()).unwrap();
    let policy_path = root.join("policy.json");
    std::fs::write(
        &policy_path,
        r#"{"allow": ["write_file"], "protect": ["conf/**"]}"#,
    )
    .unwrap();
    std::os::unix::fs::symlink(&policy_path, root.join("innocent.txt")).unwrap();
    let journal_path = root.join("audit.jsonl");
    let policy = Policy::load(&policy_path, &root).unwrap();
    let k = Kernel::builder(policy)
        .journal(fak_kernel::Journal::open(&journal_path).unwrap())
        .protect(&root.join("kernel.toml"))
        .build();
    let write = |p: &str| {
        k.decide(
            "t",
            &ToolCall::new("write_file", json!({"path": p, "content": "{}"})),
            None,
            None,
        )
        .verdict
    };
    for target in [
        "policy.json",
        "./sub/../policy.json",
        "innocent.txt",
        "audit.jsonl",
        "kernel.toml",
        "conf/x.toml",
        "conf",
        ".",
    ] {
        assert_eq!(
            code(&write(target)),
            Some(RefusalCode::SelfModify),
            "{target}"
        );
    }
    let nested = ToolCall::new(
        "write_file",
        json!({"opts": {"targets": [root.join("policy.json").to_string_lossy()]}}),
    );
    assert_eq!(
        code(&k.decide("t", &nested, None, None).verdict),
        Some(RefusalCode::SelfModify)
    );
    let shell = ToolCall::new(
        "write_file",
        json!({"cmd": format!("echo {{}} > {}", policy_path.display())}),
    );
    assert_eq!(
        code(&k.decide("t", &shell, None, None).verdict),
        Some(RefusalCode::SelfModify)
    );
    assert_eq!(write("notes/today.md"), Verdict::Allow);
    // A tool that declares itself read-only may read the policy.
    let reader = ToolDescriptor::new("write_file", json!({})).pure_read();
    let read = k.decide(
        "t",
        &ToolCall::new("write_file", json!({"path": "policy.json"})),
        Some(&reader),
        None,
    );
    assert_eq!(read.verdict, Verdict::Allow);
}

#[test]
fn redact_is_a_transform_naming_the_keys() {
    let (k, _) = common::kernel(
        r#"{"allow": ["http"], "redact": {"*": ["api_key"], "http": ["password"]}}"#,
    );
    let v = decide(
        &k,
        "http",
        json!({"url": "x", "auth": {"password": "p", "api_key": "k"}}),
    );
    let Verdict::Transform(t) = v else {
        panic!("expected TRANSFORM, got {v:?}")
    };
    assert_eq!(t.redact.iter().collect::<Vec<_>>(), ["api_key", "password"]);
    assert_eq!(decide(&k, "http", json!({"url": "x"})), Verdict::Allow);
}

#[test]
fn rate_limit_refuses_with_retry_after_then_recovers() {
    let (k, clock) = common::kernel(
        r#"{"allow": ["q"], "rate_limit": {"per_tool": {"q": {"calls": 2, "per_s": 1}}}}"#,
    );
    assert_eq!(decide(&k, "q", json!({})), Verdict::Allow);
    assert_eq!(decide(&k, "q", json!({})), Verdict::Allow);
    let refused = decide(&k, "q", json!({}));
    let r = refused.refusal().unwrap();
    assert_eq!(
        (r.code, r.retry_after_ms),
        (RefusalCode::RateLimited, Some(500))
    );
    clock.advance_ms(500);
    assert_eq!(decide(&k, "q", json!({})), Verdict::Allow);
}

#[test]
fn confirm_holds_then_passes_with_the_token_for_the_same_args() {
    let (k, clock) =
        common::kernel(r#"{"allow": ["pay"], "require_confirm": ["pay"], "confirm_ttl_s": 60}"#);
    let call = ToolCall::new("pay", json!({"amount": 5, "to": "bob"}));
    let Verdict::Hold(hold) = k.decide("t", &call, None, None).verdict else {
        panic!("expected HOLD")
    };
    assert!(hold.preview.contains("\"amount\":5"), "{}", hold.preview);
    let reordered = ToolCall::new("pay", json!({"to": "bob", "amount": 5}));
    let other = ToolCall::new("pay", json!({"amount": 500, "to": "bob"}));
    assert_eq!(
        code(&k.decide("t", &other, None, Some(&hold.token)).verdict),
        Some(RefusalCode::Unwitnessed)
    );
    clock.advance_ms(1000);
    assert_eq!(
        k.decide("t", &reordered, None, Some(&hold.token)).verdict,
        Verdict::Allow
    );
    assert_eq!(
        code(&k.decide("t", &call, None, Some(&hold.token)).verdict),
        Some(RefusalCode::Unwitnessed)
    );
}

#[test]
fn tainted_trace_cannot_reach_a_sink_unless_the_pair_is_authorized() {
    let (k, _) = common::kernel(
        r#"{"allow": ["fetch", "delete_account", "notify"],
            "flow": {"untrusted_sources": ["fetch"], "destructive": ["delete_account"], "egress": ["notify"],
                     "egress_hosts": ["hooks.example.com"],
                     "authorized": [{"source": "fetch", "sink": "notify"}]}}"#,
    );
    assert_eq!(
        decide_in(&k, "clean", "delete_account", json!({})),
        Verdict::Allow
    );
    k.admit("dirty", "fetch", None, "harmless looking page");
    assert!(k.taint_of("dirty").contains("fetch"));
    let v = k
        .decide(
            "dirty",
            &ToolCall::new("delete_account", json!({})),
            None,
            None,
        )
        .verdict;
    let r = v.refusal().unwrap();
    assert_eq!(r.code, RefusalCode::TrustViolation);
    assert_eq!(
        r.item,
        "tool \"delete_account\" is a destructive sink and the trace is tainted by \"fetch\""
    );
    let notify = ToolCall::new("notify", json!({"url": "https://hooks.example.com/x"}));
    assert_eq!(
        k.decide("dirty", &notify, None, None).verdict,
        Verdict::Allow
    );
    assert_eq!(
        decide_in(&k, "clean", "delete_account", json!({})),
        Verdict::Allow
    );
}

#[test]
fn descriptor_sink_counts_even_when_policy_does_not_list_it() {
    let (k, _) =
        common::kernel(r#"{"allow": ["fetch", "rm"], "flow": {"untrusted_sources": ["fetch"]}}"#);
    k.admit("t", "fetch", None, "page");
    let rm = ToolDescriptor::new("rm", json!({})).with_sink(fak_kernel::SinkKind::Destructive);
    let v = k
        .decide("t", &ToolCall::new("rm", json!({})), Some(&rm), None)
        .verdict;
    assert_eq!(code(&v), Some(RefusalCode::TrustViolation));
}

#[test]
fn egress_blocks_secrets_and_unlisted_hosts() {
    let (k, _) = common::kernel(
        r#"{"allow": ["post"], "flow": {"egress": ["post"], "egress_hosts": ["*.example.com"]}}"#,
    );
    let post = |args| decide(&k, "post", args);
    assert_eq!(
        post(json!({"url": "https://api.example.com/v1", "body": "hello"})),
        Verdict::Allow
    );
    let host = post(json!({"url": "https://evil.test/x", "body": "hello"}));
    assert_eq!(
        host.refusal().unwrap().item,
        "argument \"url\" reaches host \"evil.test\", not in egress_hosts"
    );
    let secret =
        post(json!({"url": "https://api.example.com", "body": "key AKIAIOSFODNN7EXAMPLE"}));
    let r = secret.refusal().unwrap();
    assert_eq!(r.code, RefusalCode::SecretExfil);
    assert!(
        !r.item.contains("AKIA"),
        "secret leaked into the refusal: {}",
        r.item
    );
}

#[test]
fn explain_reports_every_rung_and_the_winner() {
    let (k, _) = common::kernel(
        r#"{"allow": ["x"], "rules": {"x": {"p": {"max_bytes": 1}}}, "redact": {"x": ["k"]}}"#,
    );
    let d = k.decide(
        "t",
        &ToolCall::new("x", json!({"p": "long", "k": 1})),
        None,
        None,
    );
    assert_eq!(d.rungs.len(), 8);
    assert_eq!(d.winner(), Some(Rung::Arguments));
    assert_eq!(code(&d.verdict), Some(RefusalCode::Oversize));
}

#[test]
fn decisions_are_journaled_with_digests_only() {
    let clock = Arc::new(ManualClock::new(5));
    let k = Kernel::builder(common::policy(r#"{"allow": ["x"]}"#, Path::new("/")))
        .clock(clock)
        .journal(fak_kernel::Journal::memory())
        .build();
    k.decide(
        "t",
        &ToolCall::new("x", json!({"secret_arg": "hunter2"})),
        None,
        None,
    );
    k.decide("t", &ToolCall::new("y", json!({})), None, None);
    let text = k.journal().memory_text().unwrap();
    assert_eq!(text.lines().count(), 2);
    assert!(
        !text.contains("hunter2") && !text.contains("secret_arg"),
        "{text}"
    );
    assert!(text.contains("\"code\":\"DEFAULT_DENY\""), "{text}");
    let counters = k.counters();
    assert_eq!((counters.allowed, counters.denied), (1, 1));
    assert_eq!(counters.codes.get("DEFAULT_DENY"), Some(&1));
}
