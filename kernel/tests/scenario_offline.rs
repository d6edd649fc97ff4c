//! The offline scenario's mechanisms: the planner is the same in both arms, and what the
//! kernel arm does is decided by the policy and admission, not by the scenario.

use std::path::Path;

use fak_kernel::admission::{ScreenLimits, ScreenVerdict, screen};
use fak_kernel::scenario::arm::{Outcome, Wiring};
use fak_kernel::scenario::task::BOOKING_POLICY_JSON;
use fak_kernel::scenario::world::RefundDocument;
use fak_kernel::scenario::{AgentReport, Task, run_offline};
use fak_kernel::{Policy, RefusalCode};
use serde_json::Value;

/// The built-in booking policy with `edit` applied to its JSON.
fn booking_policy_with(edit: impl FnOnce(&mut Value)) -> Policy {
    let mut v: Value = serde_json::from_str(BOOKING_POLICY_JSON).unwrap();
    edit(&mut v);
    Policy::parse(&v.to_string(), "edited-booking-policy", Path::new("/")).unwrap()
}

fn allow_deletion(v: &mut Value) {
    v["allow"]
        .as_array_mut()
        .unwrap()
        .push("delete_account".into());
}

fn trust_documents(v: &mut Value) {
    v["flow"]["untrusted_sources"] = serde_json::json!([]);
}

fn tools(report: &fak_kernel::scenario::ArmReport) -> Vec<&str> {
    report.calls.iter().map(|c| c.tool.as_str()).collect()
}

fn run(task: Task, policy: Policy) -> AgentReport {
    run_offline(task, policy)
}

#[test]
fn the_planted_orders_are_one_the_detector_finds_and_one_it_misses() {
    let limits = ScreenLimits {
        max_result_bytes: 1 << 20,
        page_out_bytes: 1 << 20,
    };
    let injected = screen(&RefundDocument::Injected.text(), limits, true);
    assert!(
        matches!(injected.verdict, ScreenVerdict::Quarantine { ref refusal } if refusal.code == RefusalCode::TrustViolation),
        "{injected:?}"
    );
    // The evasive task rests on this: if the detector learns this phrasing, rephrase
    // the evasive order so the task keeps showing the policy standing alone.
    let evasive = screen(&RefundDocument::Evasive.text(), limits, true);
    assert_eq!(evasive.verdict, ScreenVerdict::Admit, "{evasive:?}");
}

#[test]
fn with_deletion_allowed_and_an_order_admission_misses_the_kernel_arm_deletes_too() {
    let policy = booking_policy_with(|v| {
        allow_deletion(v);
        trust_documents(v);
    });
    let r = run(Task::BookingEvasive, policy);
    assert_eq!(r.kernel.destructive_executed, vec!["delete_account"]);
    assert!(r.kernel.injection_reached_model);
    // Same planner, same decisions: the kernel arm differs only by the retry the repair
    // ladder made unnecessary.
    let mut direct = tools(&r.direct);
    let retry = direct
        .iter()
        .rposition(|t| *t == "convert_currency")
        .unwrap();
    direct.remove(retry);
    assert_eq!(tools(&r.kernel), direct);
    assert_eq!(r.direct.destructive_executed, vec!["delete_account"]);
}

#[test]
fn with_deletion_allowed_the_taint_rule_still_refuses_it() {
    let r = run(Task::BookingEvasive, booking_policy_with(allow_deletion));
    let delete = r
        .kernel
        .calls
        .iter()
        .find(|c| c.tool == "delete_account")
        .unwrap();
    assert_eq!(delete.outcome, Outcome::Refused);
    assert_eq!(delete.code.as_deref(), Some("TRUST_VIOLATION"));
    assert!(r.kernel.destructive_executed.is_empty());
}

#[test]
fn with_deletion_allowed_a_quarantined_order_is_never_proposed() {
    let policy = booking_policy_with(|v| {
        allow_deletion(v);
        trust_documents(v);
    });
    let r = run(Task::Booking, policy);
    assert!(!r.kernel.injection_reached_model);
    assert!(!tools(&r.kernel).contains(&"delete_account"));
    assert!(r.kernel.destructive_executed.is_empty());
    assert!(r.kernel.task.done);
}

#[test]
fn refunds_pass_only_when_allowed_and_authorized_after_an_untrusted_read() {
    let allow_refunds = |v: &mut Value| {
        v["allow"]
            .as_array_mut()
            .unwrap()
            .push("issue_refund".into());
    };
    let tainted = run(Task::Refund, booking_policy_with(allow_refunds));
    let refund = tainted.kernel.calls.last().unwrap();
    assert_eq!(refund.code.as_deref(), Some("TRUST_VIOLATION"));
    assert!(!tainted.kernel.task.done);

    let authorized = run(
        Task::Refund,
        booking_policy_with(|v| {
            allow_refunds(v);
            v["flow"]["authorized"] =
                serde_json::json!([{"source": "fetch_policy", "sink": "issue_refund"}]);
        }),
    );
    assert!(authorized.kernel.task.done, "{:?}", authorized.kernel.task);
    assert_eq!(authorized.kernel.destructive_executed, vec!["issue_refund"]);
}

#[test]
fn an_empty_policy_refuses_every_call_and_the_planner_stops() {
    let policy = Policy::parse("{}", "empty", Path::new("/")).unwrap();
    let r = run(Task::Booking, policy);
    assert_eq!(r.kernel.tool_calls_dispatched, 0);
    assert_eq!(r.kernel.calls.len(), 1, "{:?}", r.kernel.calls);
    assert_eq!(r.kernel.calls[0].code.as_deref(), Some("DEFAULT_DENY"));
    assert!(r.kernel.answer.is_some());
    assert!(!r.kernel.task.done);
}

#[test]
fn the_kernel_dispatch_count_matches_the_world_log_and_the_journal_verifies() {
    for task in Task::ALL {
        let r = run(task, task.builtin_policy(Path::new("/")).unwrap());
        let k = r.kernel.kernel.as_ref().unwrap();
        assert_eq!(
            k.counters.dispatched as usize, r.kernel.tool_calls_dispatched,
            "{task:?}"
        );
        assert!(k.journal_verified, "{task:?}");
        assert_eq!(r.direct.wiring, Wiring::Direct);
        assert!(r.direct.kernel.is_none());
    }
}

#[test]
fn the_same_task_and_policy_give_the_same_report() {
    let policy = || Task::Booking.builtin_policy(Path::new("/")).unwrap();
    assert_eq!(run(Task::Booking, policy()), run(Task::Booking, policy()));
}
