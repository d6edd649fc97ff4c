//! `harness verify`: the CPU run passes with every gate in its JSON, a named backend that is
//! missing fails with the probe's reason, a one-ulp difference is a FAIL with its size, and
//! the `--ledger` entries carry what README's parity table shows.

mod common;

use common::{harness, repo_root};
use fak_backends::parity::{OpSweep, compare_bits, f32_bits};
use fak_backends::{AnyBackend, BackendKind, WeightDtype};
use fak_harness::ledger::{Ledger, Stamp, WriteMode, parse_measurement};
use fak_harness::readme;
use fak_harness::verify::{Gate, KvGate, Row, Verdict, render};
use serde_json::Value;

/// Runs `verify` on the repository with `args` and `--json`; returns (status, stdout,
/// stderr, the JSON rows).
fn verify(args: &[&str]) -> (i32, String, String, Vec<Value>) {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("verify.json");
    let mut all = vec!["verify", "--json", out.to_str().unwrap()];
    all.extend_from_slice(args);
    let (status, stdout, stderr) = harness(&repo_root(), &all);
    let json: Value = serde_json::from_str(&std::fs::read_to_string(&out).unwrap())
        .unwrap_or_else(|e| panic!("the --json output does not parse: {e}\n{stderr}"));
    let rows = json["rows"].as_array().expect("a rows array").clone();
    (status, stdout, stderr, rows)
}

/// Gates per device backend.
fn device_gates() -> usize {
    OP_GATES.len() + KV_GATES.len() + MODEL_GATES.len()
}

fn rows_of<'a>(rows: &'a [Value], backend: &str) -> Vec<&'a Value> {
    rows.iter().filter(|r| r["backend"] == backend).collect()
}

/// The gates the issue asks for, by the names the report gives them.
const KV_GATES: [&str; 8] = [
    "kv excise span at start",
    "kv excise middle span across a block boundary",
    "kv excise span at end",
    "kv excise two spans in a row",
    "kv fork + append",
    "kv prefill in chunks",
    "kv prefill token by token",
    "kv dump, load, continue",
];
/// The op gates every device backend has, before its KV gates.
const OP_GATES: [&str; 22] = [
    "op matmul bf16",
    "op matmul f16",
    "op matmul f32",
    "op matmul q8_0",
    "op matmul q5_0",
    "op matmul q4_k",
    "op matmul q6_k",
    "op embed",
    "op rms_norm",
    "op add, add_bias, swiglu, slice, geglu, scale",
    "op rope",
    "op kv store, copy, read, write",
    "op attention",
    "op attention, head_dim 128 and 256",
    "op attention in chunks vs one call",
    "op attention, sliding window",
    "op math exp",
    "op math recip",
    "op math rsqrt",
    "op math sigmoid",
    "op math silu",
    "op math gelutanh",
];
/// The model gates every device backend has, after its KV gates.
const MODEL_GATES: [&str; 6] = [
    "model llama2",
    "model llama3",
    "model mistral",
    "model qwen2",
    "model qwen3",
    "model smollm2",
];

#[test]
fn verify_on_cpu_passes_and_its_json_holds_every_gate() {
    let (status, stdout, stderr, rows) = verify(&["--backend", "cpu"]);
    assert_eq!(status, 0, "{stdout}\n{stderr}");
    let cpu = rows_of(&rows, "cpu");
    let names: Vec<&str> = cpu.iter().map(|r| r["gate"].as_str().unwrap()).collect();
    assert_eq!(names, KV_GATES);
    for r in &cpu {
        assert_eq!(r["result"], "PASS", "{r}");
        assert_eq!(r["max_abs_delta"], 0.0, "{r}");
        assert!(r["values"].as_u64().unwrap() > 1000, "{r}");
    }
    // Every other backend has every gate, each skipped as not selected.
    for backend in ["vulkan", "metal", "cuda"] {
        let rows = rows_of(&rows, backend);
        let names: Vec<&str> = rows.iter().map(|r| r["gate"].as_str().unwrap()).collect();
        let expected: Vec<&str> = OP_GATES
            .iter()
            .chain(&KV_GATES)
            .chain(&MODEL_GATES)
            .copied()
            .collect();
        assert_eq!(names, expected, "{backend}");
        for r in rows {
            assert_eq!(r["result"], "SKIPPED");
            assert_eq!(r["max_abs_delta"], Value::Null);
            let reason = r["reason"].as_str().unwrap();
            assert!(reason.contains("not selected"), "{reason}");
        }
    }
    let skipped = 3 * device_gates();
    assert!(
        stdout.contains(&format!("verify: 8 passed, 0 failed, {skipped} skipped")),
        "{stdout}"
    );
    assert!(
        stderr.contains("verify: cpu: kv fork + append"),
        "progress: {stderr}"
    );
}

#[test]
fn verify_ledger_entries_render_readmes_parity_table() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("parity.json");
    let (status, stdout, stderr, _) =
        verify(&["--backend", "cpu", "--ledger", out.to_str().unwrap()]);
    assert_eq!(status, 0, "{stdout}\n{stderr}");
    let text = std::fs::read_to_string(&out).unwrap();
    let incoming = parse_measurement(&text, "parity.json").unwrap();
    assert_eq!(incoming.len(), KV_GATES.len());
    let mut ledger = Ledger::from_entries(Vec::new(), "ledger.json").unwrap();
    let stamp = Stamp {
        date: "2026-11-26".to_string(),
        commit: "0123456789abcdef0123456789abcdef01234567".to_string(),
        machine: "test machine".to_string(),
    };
    ledger
        .write(incoming, WriteMode::ReplaceStudies, &stamp, "parity.json")
        .unwrap();
    let table =
        readme::render("<!-- ledger:parity -->\n<!-- /ledger:parity -->\n", &ledger).unwrap();
    for gate in KV_GATES {
        let row = table
            .lines()
            .find(|l| l.starts_with(&format!("| {gate} | KV + logits vs ")))
            .unwrap_or_else(|| panic!("no row for {gate}:\n{table}"));
        assert!(row.ends_with("| 0 PASS |"), "{row}");
    }
    assert!(table.contains("8 passed, 0 failed (cpu: "), "{table}");
}

#[test]
fn a_named_backend_that_is_missing_fails_with_the_probes_reason() {
    let Some((kind, why)) = [BackendKind::Metal, BackendKind::Cuda, BackendKind::Vulkan]
        .into_iter()
        .find_map(|k| AnyBackend::open(k, 0).err().map(|e| (k, e.to_string())))
    else {
        // Every backend is built and has a device here: none can be missing.
        return;
    };
    let (status, stdout, stderr, rows) = verify(&["--backend", kind.name()]);
    assert_eq!(status, 1, "{stdout}\n{stderr}");
    let missing = rows_of(&rows, kind.name());
    assert_eq!(missing.len(), device_gates());
    for r in missing {
        assert_eq!(r["result"], "FAIL");
        assert_eq!(
            r["reason"].as_str().unwrap(),
            format!("required but unavailable: {why}")
        );
    }
    assert!(
        stdout.lines().any(
            |l| l.starts_with(&format!("(all {} gates)", device_gates()))
                && l.contains(kind.name())
                && l.contains("FAIL [")
        ),
        "{stdout}"
    );
    assert!(stdout.contains(&why), "{stdout}");
}

#[test]
fn an_unknown_backend_name_and_missing_fixtures_cannot_run() {
    let (status, _, stderr) = harness(&repo_root(), &["verify", "--backend", "tpu"]);
    assert_eq!(status, 2);
    assert!(stderr.contains("unknown backend \"tpu\""), "{stderr}");

    let empty = tempfile::tempdir().unwrap();
    let (status, _, stderr) = harness(empty.path(), &["verify", "--backend", "cpu"]);
    assert_eq!(status, 2);
    assert!(stderr.contains("no fixture models in"), "{stderr}");
}

#[test]
fn a_one_ulp_difference_is_a_fail_with_its_max_delta() {
    let gate = Gate::Op(OpSweep::Matmul(WeightDtype::Bf16));
    let reference = f32_bits(&[3.0, 1.0]);
    let off_by_one_ulp = f32_bits(&[3.0, 1.0f32.next_up()]);
    let row = Row::measured(
        &gate,
        BackendKind::Vulkan,
        compare_bits(&reference, &off_by_one_ulp),
        None,
    );
    assert_eq!(row.result, Verdict::Fail);
    assert_eq!(row.max_abs_delta, Some(f64::from(f32::EPSILON)));
    assert_eq!(row.values, 2);
    let reason = row.reason.clone().unwrap();
    assert!(reason.starts_with("1 of 2 values differ"), "{reason}");

    let table = render(std::slice::from_ref(&row));
    let line = table
        .lines()
        .find(|l| l.starts_with("op matmul bf16"))
        .unwrap();
    assert!(
        line.contains("1.19e-7") && line.ends_with("FAIL [1]"),
        "{table}"
    );
    assert!(table.contains("0 passed, 1 failed"), "{table}");

    let same = Row::measured(
        &gate,
        BackendKind::Vulkan,
        compare_bits(&reference, &reference),
        None,
    );
    assert_eq!(same.result, Verdict::Pass);
}

#[test]
fn equal_bits_with_a_problem_fail_and_an_infinite_delta_is_written_as_inf() {
    let gate = Gate::Kv(KvGate::ExciseEnd);
    let exact = compare_bits(&[1, 2], &[1, 2]);
    let row = Row::measured(
        &gate,
        BackendKind::Cpu,
        exact,
        Some("the tokens after the excision are wrong".to_owned()),
    );
    assert_eq!(row.result, Verdict::Fail);

    let nan = compare_bits(&[0x7FC0_0000], &[0x7FC0_0001]);
    let row = Row::measured(&gate, BackendKind::Cpu, nan, None);
    let json = serde_json::to_value(&row).unwrap();
    assert_eq!(json["max_abs_delta"], "inf");
    assert_eq!(json["result"], "FAIL");
}
