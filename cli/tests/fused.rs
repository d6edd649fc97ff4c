//! `fak agent --offline --fused`, run for real on the committed llama3 fixture (CPU): the
//! `fused` member of `--json`, the section under the table, a late revocation, and errors.

mod run_fak;

use std::process::Output;

use serde_json::{Value, json};

use run_fak::{fak_in, json_of, repo};

fn fak(args: &[&str]) -> Output {
    fak_in(repo(), args)
}

/// The booking-evasive task, whose refund document admission let in, revoked late.
const REVOKE_EVASIVE: [&str; 7] = [
    "agent",
    "--offline",
    "--task",
    "booking-evasive",
    "--fused",
    "--revoke",
    "fetch_policy",
];

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

#[test]
fn fused_json_adds_a_fused_member_and_keeps_every_other_field() {
    let mut r = json_of(&fak(&["agent", "--offline", "--fused", "--json"]));
    let f = r.as_object_mut().unwrap().remove("fused").unwrap();
    // Without the fused member the object is exactly the one a plain run prints.
    let plain = json_of(&fak(&["agent", "--offline", "--json"]));
    assert_eq!(r, plain);

    assert!(f["model"].as_str().unwrap().ends_with("models/llama3"));
    assert_eq!(
        (&f["backend"], &f["rendering"]),
        (&json!("cpu"), &json!("chat_template"))
    );
    let spans = f["spans"].as_array().unwrap();
    let kinds: Vec<&str> = spans.iter().map(|s| s["kind"].as_str().unwrap()).collect();
    assert_eq!(
        kinds[..7],
        [
            "system",
            "tool_schema",
            "user",
            "assistant",
            "tool_result",
            "assistant",
            "tool_result"
        ]
    );
    let stub = &spans[6];
    assert_eq!(
        (&stub["source"], &stub["trust"]),
        (&json!("fetch_policy"), &json!("untrusted"))
    );
    let length =
        |s: &Value| s["range"]["end"].as_u64().unwrap() - s["range"]["start"].as_u64().unwrap();
    assert_eq!(
        f["withheld"],
        json!([{"tool": "fetch_policy", "turn": 2, "code": "TRUST_VIOLATION",
                "stub_span": stub["id"], "stub_tokens": length(stub)}])
    );
    assert_eq!(f["injection_in_session"], false);
    assert_eq!(f["revocation"], Value::Null);
    let total: u64 = spans.iter().map(length).sum();
    assert_eq!(f["tokens"], total);
    let n = |k: &str| f[k].as_u64().unwrap();
    assert!(n("tokens") <= n("context") && n("tokens") <= n("tokens_needed"));
    assert!(n("messages_fed") <= n("messages"));
    assert_eq!(f["messages"], 15);
}

#[test]
fn fused_revoke_json_reports_an_exact_excision_of_the_suffix_only() {
    let r = json_of(&fak(&[&REVOKE_EVASIVE[..], &["--json"]].concat()));
    let f = &r["fused"];
    assert_eq!(f["injection_in_session"], true);
    let v = &f["revocation"];
    assert_eq!(
        (&v["tool"], &v["turn"]),
        (&json!("fetch_policy"), &json!(2))
    );
    assert_eq!(
        (&v["span"]["kind"], &v["span"]["trust"]),
        (&json!("tool_result"), &json!("quarantined"))
    );
    assert_eq!(v["exact"], true);
    assert_eq!(
        (&v["max_abs_delta_kv"], &v["max_abs_delta_logits"]),
        (&json!(0.0), &json!(0.0))
    );
    assert_eq!(
        (&v["kv_differing"], &v["logits_differing"]),
        (&json!(0), &json!(0))
    );
    let n = |k: &str| v[k].as_u64().unwrap();
    let (start, end) = (n("kept"), n("tokens_before") - n("recomputed"));
    assert_eq!(v["span"]["range"], json!({"start": start, "end": end}));
    assert_eq!(n("cold_rebuild_tokens"), n("kept") + n("recomputed"));
    assert!(n("recomputed") < n("cold_rebuild_tokens"));
    assert_eq!(v["injection_in_session"], false);
}

#[test]
fn fused_section_prints_under_the_table_with_the_revocation() {
    let o = fak(&REVOKE_EVASIVE);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let text = String::from_utf8_lossy(&o.stdout);
    let table = text.find("calls, tools behind the kernel:").unwrap();
    let fused = text
        .find("\nfused: the kernel arm's transcript in the KV cache of ")
        .unwrap();
    assert!(table < fused, "{text}");
    for line in [
        "rendered with the model's chat template, one span a message: ",
        "  span  kind         trust      positions  source\n",
        "  injection in the KV cache: yes\n",
        "\nlate verdict: fetch_policy's result (turn 2) revoked; span #6 marked quarantined and excised (",
        " tokens (the suffix after the span), kept ",
        "  max|Δ|        0 over ",
        ", 0 over the logits: exact\n",
        "  injection in the KV cache: no\n",
    ] {
        assert!(text.contains(line), "missing {line:?} in\n{text}");
    }
}

#[test]
fn a_bad_model_path_is_a_clear_error() {
    let o = fak(&["agent", "--offline", "--fused", "--model", "/no/such/model"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(o.stdout.is_empty());
    assert_eq!(
        stderr(&o),
        "error: no model at /no/such/model (config.json missing); give --model DIR\n"
    );
    // A directory with a config but no tokenizer names the missing file.
    let dir = tempfile::tempdir().unwrap();
    std::fs::copy(
        repo().join("data/fixtures/models/llama3/config.json"),
        dir.path().join("config.json"),
    )
    .unwrap();
    let o = fak(&[
        "agent",
        "--offline",
        "--fused",
        "--model",
        dir.path().to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("tokenizer.json"), "{}", stderr(&o));
}

#[test]
fn a_revocation_with_nothing_to_cut_or_without_fused_is_a_usage_error() {
    // In the booking task the document was quarantined: it never entered the session.
    let o = fak(&["agent", "--offline", "--fused", "--revoke", "fetch_policy"]);
    assert_eq!(o.status.code(), Some(2));
    assert_eq!(
        stderr(&o),
        "error: no result of fetch_policy entered the session, so there is nothing to revoke \
         (turn 2: quarantined (TRUST_VIOLATION))\n"
    );
    let o = fak(&["agent", "--offline", "--revoke", "fetch_policy"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("--fused"), "{}", stderr(&o));
}
