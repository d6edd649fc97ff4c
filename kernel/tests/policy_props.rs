//! Properties of the gate that must hold for every policy and every call.

mod common;

use std::path::Path;
use std::sync::Arc;

use fak_kernel::decide::RungOutcome;
use fak_kernel::{RawCall, Reply, ToolCall, Verdict};
use proptest::prelude::*;
use serde_json::{Value, json};

fn arb_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        "[a-z./ ]{0,12}".prop_map(Value::String),
        Just(json!("/etc/passwd")),
        Just(json!("../../x")),
    ];
    leaf.prop_recursive(3, 24, 4, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            proptest::collection::btree_map("[a-z_]{1,6}", inner, 0..4)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

/// A policy with random allow lists and assorted other rungs switched on.
fn arb_policy() -> impl Strategy<Value = String> {
    (
        proptest::collection::vec("[a-d]{1,3}", 0..4),
        proptest::collection::vec("[a-d]{1,2}\\.", 0..2),
        any::<bool>(),
        any::<bool>(),
    )
        .prop_map(|(allow, prefixes, redact, confirm)| {
            json!({
                "allow": allow,
                "allow_prefix": prefixes,
                "rules": {"*": {"*": {"max_bytes": 64, "deny_regex": ["passwd"]}}},
                "redact": if redact { json!({"*": ["k", "a"]}) } else { json!({}) },
                "require_confirm": if confirm { allow.clone() } else { vec![] },
                "flow": {"untrusted_sources": ["a"], "destructive": allow.clone()},
            })
            .to_string()
        })
}

proptest! {
    #[test]
    fn a_tool_not_allowed_is_never_allowed_whatever_its_arguments(
        policy in arb_policy(),
        tool in "[a-z.]{0,6}",
        args in arb_json(),
    ) {
        let (k, _) = common::kernel(&policy);
        let parsed: Value = serde_json::from_str(&policy).unwrap();
        let listed = |key: &str| parsed[key].as_array().unwrap().iter().any(|v| {
            let v = v.as_str().unwrap();
            if key == "allow" { v == tool } else { tool.starts_with(v) }
        });
        prop_assume!(!listed("allow") && !listed("allow_prefix"));
        let d = k.decide("t", &ToolCall::new(tool.clone(), args), None, None);
        prop_assert!(matches!(d.verdict, Verdict::Deny(_)), "{:?}", d.verdict);
    }

    #[test]
    fn a_deny_from_any_rung_is_never_softened(
        policy in arb_policy(),
        tool in "[a-d]{1,3}",
        args in arb_json(),
        tainted in any::<bool>(),
    ) {
        let (k, _) = common::kernel(&policy);
        if tainted {
            k.admit("t", "a", None, "page");
        }
        let d = k.decide("t", &ToolCall::new(tool, args), None, None);
        let any_deny = d.rungs.iter().any(|r| matches!(&r.outcome, RungOutcome::Verdict { verdict: Verdict::Deny(_) }));
        prop_assert_eq!(any_deny, matches!(d.verdict, Verdict::Deny(_)), "{:?}", d);
    }

    #[test]
    fn vdso_never_answers_a_call_the_current_policy_refuses(
        ops in proptest::collection::vec((0u8..4, 0u8..3, proptest::collection::btree_set(0usize..3, 0..4)), 1..40),
    ) {
        let (k, _) = common::kernel(r#"{"allow": ["lookup", "book", "fetch_page"]}"#);
        let reg = common::registry("page", Arc::new(common::Dispatches::default()));
        let tools = ["lookup", "book", "fetch_page"];
        for (op, arg, allowed) in ops {
            if op == 0 {
                let allow: Vec<&str> = allowed.iter().map(|i| tools[*i]).collect();
                k.reload_policy(common::policy(&json!({"allow": allow}).to_string(), Path::new("/work")));
                continue;
            }
            let tool = tools[usize::from(op) - 1];
            let args = match tool {
                "lookup" => json!({"customer": format!("c{arg}")}),
                "book" => json!({"flight": format!("F{arg}")}),
                _ => json!({"url": format!("https://x/{arg}")}),
            };
            let out = k.syscall(&reg, "t", &RawCall::json(tool, args.clone()), None);
            let allowed_now = matches!(
                k.decide("probe", &ToolCall::new(tool, args), None, None).verdict,
                Verdict::Allow
            );
            if let Reply::Served { local: true, .. } = out.reply {
                prop_assert!(allowed_now, "vDSO answered {tool}, which the policy refuses");
            }
            if !allowed_now {
                prop_assert!(matches!(out.reply, Reply::Refused { .. }), "{:?}", out.reply);
            }
        }
    }
}
