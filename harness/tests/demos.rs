//! `harness fused`, `harness serve-demo`, `harness gateway` and `harness fuzz` end to end,
//! each against a stand-in for the program it runs (a fak that prints a revocation, a demo
//! script and a bench script that write their JSON, a fuzz script that writes libFuzzer's
//! lines), so what is tested is the harness's side: running, reading, checking, and writing
//! entries the ledger accepts. The real programs' output is what the stand-ins copy (fak
//! agent --json, gateway/examples/in_kernel_demo.sh with DEMO_JSON, bench/gateway/run.sh
//! with RESULTS, fuzz/run.sh with FUZZ_RESULTS).

mod common;

use std::path::Path;

use common::harness;
use fak_harness::ledger::{Entry, parse_measurement};

fn script(path: &Path, body: &str) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, format!("#!/usr/bin/env bash\nset -eu\n{body}\n")).unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
}

fn entries(file: &Path) -> Vec<Entry> {
    parse_measurement(&std::fs::read_to_string(file).unwrap(), "out").unwrap()
}

fn find<'a>(entries: &'a [Entry], id: &str) -> &'a Entry {
    entries
        .iter()
        .find(|e| e.id == id)
        .unwrap_or_else(|| panic!("no {id}"))
}

/// A fak whose every run takes one more millisecond to excise than the last (80, 81, ...).
fn stand_in_fak(dir: &Path, exact: bool) -> std::path::PathBuf {
    let fak = dir.join("fak");
    script(
        &fak,
        &format!(
            "n=$(cat {count} 2>/dev/null || echo 0); echo $((n + 1)) > {count}\n\
             echo '{{\"task\": \"booking-evasive\", \"fused\": {{\"revocation\": {{\"tool\": \"fetch_policy\", \"recomputed\": 88, \"kept\": 1638, \"cold_rebuild_tokens\": 1726, \"excise_ms\": '$((80 + n))', \"cold_rebuild_and_compare_ms\": 900, \"kv_values\": 220928, \"exact\": {exact}}}}}}}'",
            count = dir.join("count").display()
        ),
    );
    fak
}

/// `harness fused` with a stand-in fak over `runs` runs: (status, stderr, the output file).
fn fused(exact: bool, runs: &str) -> (i32, String, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let fak = stand_in_fak(dir.path(), exact);
    let out = dir.path().join("fused.json");
    let (status, stdout, stderr) = harness(
        dir.path(),
        &[
            "fused",
            "--fak",
            fak.to_str().unwrap(),
            "--runs",
            runs,
            "--json",
            out.to_str().unwrap(),
        ],
    );
    (status, format!("{stdout}{stderr}"), dir)
}

#[test]
fn fused_times_the_revocation_over_runs_into_entries_the_ledger_accepts() {
    let (status, output, dir) = fused(true, "3");
    assert_eq!(status, 0, "{output}");
    let got = entries(&dir.path().join("fused.json"));
    let excise = find(&got, "fused.revoke.time.excise");
    assert_eq!(excise.value, 81.0, "the median of 80, 81 and 82 ms");
    assert_eq!(excise.params["min"].as_number(), Some(80.0));
    assert_eq!(excise.params["tokens"].as_number(), Some(88.0));
    let baseline = excise.baseline.as_ref().unwrap();
    assert_eq!(
        baseline.entry.as_deref(),
        Some("fused.revoke.time.cold_rebuild")
    );
    assert_eq!(baseline.value, 900.0);
}

#[test]
fn fused_publishes_nothing_from_an_inexact_revocation() {
    let (status, output, dir) = fused(false, "1");
    assert_eq!(status, 2, "{output}");
    assert!(output.contains("differs from the cold rebuild"), "{output}");
    assert!(!dir.path().join("fused.json").exists());
}

#[test]
fn serve_demo_reads_each_request_of_each_run() {
    let root = tempfile::tempdir().unwrap();
    script(
        &root.path().join("gateway/examples/in_kernel_demo.sh"),
        r#"test -n "$FAK"
echo '{"rss_after_start_kib": 18024}' >> "$DEMO_JSON"
row() { echo "{\"request\": \"$1\", \"question\": \"Hello?\", \"prompt_tokens\": 167, \"cached_tokens\": $2, \"completion_tokens\": 24, \"finish_reason\": \"length\", \"ms\": $3}" >> "$DEMO_JSON"; }
row first 0 30.5
row repeat 160 10.4
echo "(the demo prints its own lines too)""#,
    );
    let out = root.path().join("serve.json");
    let (status, stdout, stderr) = harness(
        root.path(),
        &["serve-demo", "--runs", "2", "--json", out.to_str().unwrap()],
    );
    assert_eq!(status, 0, "{stdout}{stderr}");
    let got = entries(&out);
    assert_eq!(got.len(), 3, "the resident set and two requests");
    assert_eq!(find(&got, "serve.in_kernel.rss_after_start").value, 18024.0);
    let repeat = find(&got, "serve.in_kernel.time.repeat");
    assert_eq!(repeat.value, 10.4);
    assert_eq!(repeat.params["cached_tokens"].as_number(), Some(160.0));
}

#[test]
fn gateway_reads_the_bench_scripts_results_with_fak_against_the_direct_path() {
    let root = tempfile::tempdir().unwrap();
    script(
        &root.path().join("bench/gateway/run.sh"),
        r#"wrk() { echo "{\"p50_us\": $2, \"p99_us\": 5000, \"requests\": $3, \"duration_us\": 10000000, \"socket_errors\": 0, \"non_2xx\": 0}" > "$RESULTS/$1"; }
wrk direct1.json 32 1000
wrk fak1.json 163 1000
wrk direct64.json 40 253670
wrk fak64.json 200 80990
wrk soak.json 210 411960
echo "{\"rss_before_kib\": 23644, \"rss_after_kib\": 24020, \"soak_s\": $1, \"load_average\": 3.5}" > "$RESULTS/machine.json""#,
    );
    let out = root.path().join("gateway.json");
    let (status, stdout, stderr) = harness(
        root.path(),
        &["gateway", "--soak", "60", "--json", out.to_str().unwrap()],
    );
    assert_eq!(status, 0, "{stdout}{stderr}");
    let got = entries(&out);
    assert_eq!(find(&got, "gateway.proxy.added_p50").value, 131.0);
    let rps = find(&got, "gateway.proxy.rps.fak");
    assert_eq!(rps.value, 8099.0);
    assert_eq!(rps.baseline.as_ref().unwrap().value, 25367.0);
    assert_eq!(find(&got, "gateway.proxy.soak.rss_after").value, 24020.0);
}

#[test]
fn gateway_names_a_result_file_the_script_did_not_write() {
    let root = tempfile::tempdir().unwrap();
    script(&root.path().join("bench/gateway/run.sh"), "true");
    let (status, _, stderr) = harness(root.path(), &["gateway", "--soak", "1"]);
    assert_eq!(status, 2, "{stderr}");
    assert!(stderr.contains("direct1.json"), "{stderr}");
}

/// A fuzz/run.sh that runs two targets the way the real one logs them; `second` is the
/// second target's output after its command line.
fn stand_in_fuzz_script(root: &Path, second: &str) {
    script(
        &root.join("fuzz/run.sh"),
        &format!(
            r#"printf 'policy_loader\nadmission\n' > "$FUZZ_RESULTS/targets"
printf 'cargo-fuzz 0.13.2\nrustc 1.95.0\n' > "$FUZZ_RESULTS/toolchain"
run() {{ echo "$ cargo fuzz run $1 corpus/$1 seeds/$1 -- -max_total_time=$SECS" > "$FUZZ_RESULTS/$1.log"; printf "$2" >> "$FUZZ_RESULTS/$1.log"; }}
SECS=$1
run policy_loader '#84000\tDONE   cov: 1540 ft: 6011 corp: 412/88Kb exec/s: 4000 rss: 91Mb\nDone 84000 runs in 21 second(s)\n'
run admission "{second}"
grep -q '^Done' "$FUZZ_RESULTS/admission.log""#
        ),
    );
}

#[test]
fn fuzz_writes_one_entry_a_target_from_libfuzzers_done_line() {
    let root = tempfile::tempdir().unwrap();
    stand_in_fuzz_script(root.path(), r"Done 27950 runs in 20 second(s)\n");
    let out = root.path().join("fuzz.json");
    let (status, stdout, stderr) = harness(
        root.path(),
        &[
            "fuzz",
            "--seconds",
            "20",
            "--note",
            "a short run",
            "--json",
            out.to_str().unwrap(),
        ],
    );
    assert_eq!(status, 0, "{stdout}{stderr}");
    let got = entries(&out);
    let ids: Vec<&str> = got.iter().map(|e| e.id.as_str()).collect();
    assert_eq!(ids, ["fuzz.policy_loader.runs", "fuzz.admission.runs"]);
    let admission = find(&got, "fuzz.admission.runs");
    assert_eq!(
        (admission.value, admission.unit.as_str()),
        (27950.0, "runs")
    );
    assert_eq!(admission.study(), Some("fuzz"));
    assert_eq!(admission.params["elapsed_s"].as_number(), Some(20.0));
    assert_eq!(
        admission.command,
        "cargo run -p fak-harness -- fuzz --seconds 20"
    );
    let method = admission.method.as_deref().unwrap();
    assert!(
        method.contains("-max_total_time=20")
            && method.contains("cargo-fuzz 0.13.2")
            && method.ends_with("; a short run"),
        "{method}"
    );
}

#[test]
fn fuzz_publishes_nothing_when_a_target_crashed_and_names_it() {
    let root = tempfile::tempdir().unwrap();
    stand_in_fuzz_script(
        root.path(),
        r"thread '<unnamed>' panicked at kernel/src/admission.rs:10:5:\nboom\n==4242== ERROR: libFuzzer: deadly signal\nartifact_prefix='artifacts/admission/'; Test unit written to artifacts/admission/crash-0a1b\n",
    );
    let out = root.path().join("fuzz.json");
    let (status, _, stderr) = harness(
        root.path(),
        &["fuzz", "--seconds", "20", "--json", out.to_str().unwrap()],
    );
    assert_eq!(status, 2, "{stderr}");
    assert!(
        stderr.contains("fuzz target admission crashed") && stderr.contains("crash-0a1b"),
        "{stderr}"
    );
    assert!(!out.exists(), "a crashed run wrote entries");
}
