//! `harness throughput` end to end: fak (the real engine, on the llama3 fixture) beside a
//! peer that speaks the protocol, the entries it writes, and the errors that name a bad
//! peer. The stand-in peer is a shell script: what the runner must handle is a process's
//! report, whatever engine is behind it (the real peers are built by bench/peers/setup.sh).

mod common;

use std::path::{Path, PathBuf};

use common::{harness, repo_root};
use fak_backends::{AnyBackend, BackendKind};
use fak_harness::ledger::{Provenance, parse_measurement};

/// A peer script that answers the protocol with the counts it was asked for (or, with
/// `prompt_override`, a wrong prompt count), prefill 0.5 s and decode 0.25 s.
fn peer_script(dir: &Path, name: &str, body_before: &str, prompt_override: Option<u32>) -> PathBuf {
    let count = prompt_override.map_or(
        "n=$(($(tr -cd ',' < \"$tokens\" | wc -c) + 1))".to_string(),
        |n| format!("n={n}"),
    );
    let script = format!(
        "{body_before}\n\
         while [ $# -gt 0 ]; do case $1 in --decode) d=$2;; --tokens) tokens=$2;; esac; shift 2; done\n\
         {count}\n\
         echo '(a peer may print anything before its report)'\n\
         echo \"{{\\\"engine\\\": \\\"stand-in\\\", \\\"weights\\\": \\\"bf16\\\", \\\"prompt_tokens\\\": $n, \\\"decode_tokens\\\": $d, \\\"prefill_seconds\\\": 0.5, \\\"decode_seconds\\\": 0.25, \\\"peak_rss_bytes\\\": 1000}}\"\n"
    );
    let path = dir.join(name);
    std::fs::write(&path, script).unwrap();
    path
}

fn throughput(peer: &str, json: Option<&Path>) -> (i32, String, String) {
    throughput_on("cpu", peer, json)
}

fn throughput_on(backend: &str, peer: &str, json: Option<&Path>) -> (i32, String, String) {
    let fixture = repo_root().join("data/fixtures/models/llama3");
    let mut args = vec![
        "throughput".to_string(),
        "--model".to_string(),
        fixture.display().to_string(),
        "--prompt".to_string(),
        "16".to_string(),
        "--decode".to_string(),
        "4".to_string(),
        "--rounds".to_string(),
        "2".to_string(),
        "--threads".to_string(),
        "1".to_string(),
        "--peer".to_string(),
        peer.to_string(),
        "--backend".to_string(),
        backend.to_string(),
    ];
    if let Some(json) = json {
        args.extend(["--json".to_string(), json.display().to_string()]);
    }
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    harness(&repo_root(), &args)
}

#[test]
fn fak_and_a_peer_run_side_by_side_into_entries_the_ledger_accepts() {
    let dir = tempfile::tempdir().unwrap();
    let script = peer_script(dir.path(), "peer.sh", "", None);
    let out = dir.path().join("throughput.json");
    let (status, stdout, stderr) = throughput(
        &format!("llama.cpp bf16=sh {}", script.display()),
        Some(&out),
    );
    assert_eq!(status, 0, "{stdout}{stderr}");
    assert!(stdout.contains("median of 2 rounds"), "{stdout}");
    assert_eq!(
        stderr.matches("round ").count(),
        4,
        "2 engines x 2 rounds: {stderr}"
    );

    let entries = parse_measurement(&std::fs::read_to_string(&out).unwrap(), "out").unwrap();
    let get = |id: &str| {
        entries
            .iter()
            .find(|e| e.id == id)
            .unwrap_or_else(|| panic!("{id}"))
    };
    let peer = get("throughput.decode.llama_cpp_bf16");
    assert_eq!(peer.value, 4.0 / 0.25);
    assert!(peer.baseline.is_none(), "the baseline has no baseline");
    let fak = get("throughput.decode.fak");
    assert!(fak.value > 0.0);
    let baseline = fak.baseline.as_ref().unwrap();
    assert_eq!(baseline.value, 16.0);
    assert_eq!(
        baseline.entry.as_deref(),
        Some("throughput.decode.llama_cpp_bf16")
    );
    assert_eq!(get("throughput.prefill.llama_cpp_bf16").value, 16.0 / 0.5);
    assert_eq!(
        get("throughput.decode.roofline").provenance,
        Provenance::Modeled
    );
    assert!(get("throughput.bandwidth").value > 0.0);
    let rss = get("throughput.peak_rss.fak");
    assert!(rss.value > 0.0);
    assert!(rss.baseline.as_ref().unwrap().value > 0.0, "weight bytes");
    assert_eq!(get("throughput.peak_rss.llama_cpp_bf16").value, 1000.0);
}

#[test]
fn a_peer_that_fails_is_named_with_what_it_printed() {
    let dir = tempfile::tempdir().unwrap();
    let script = peer_script(
        dir.path(),
        "fails.sh",
        "echo 'no GGUF here' >&2; exit 3",
        None,
    );
    let (status, _, stderr) = throughput(&format!("broken=sh {}", script.display()), None);
    assert_eq!(status, 2, "{stderr}");
    assert!(stderr.contains("broken failed"), "{stderr}");
    assert!(stderr.contains("no GGUF here"), "{stderr}");
}

#[test]
fn a_peer_that_measured_something_else_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let script = peer_script(dir.path(), "short.sh", "", Some(5));
    let (status, _, stderr) = throughput(&format!("short=sh {}", script.display()), None);
    assert_eq!(status, 2, "{stderr}");
    assert!(
        stderr.contains("short reports prompt tokens 5, but was asked for 16"),
        "{stderr}"
    );
}

#[test]
fn a_peer_without_a_report_or_a_command_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let silent = dir.path().join("silent.sh");
    std::fs::write(&silent, "echo 'done, nothing to say'\n").unwrap();
    let (status, _, stderr) = throughput(&format!("silent=sh {}", silent.display()), None);
    assert_eq!(status, 2);
    assert!(stderr.contains("silent printed no report"), "{stderr}");

    let (status, _, stderr) = throughput("no-command=", None);
    assert_eq!(status, 2);
    assert!(stderr.contains("expected NAME=COMMAND"), "{stderr}");
}

#[test]
fn the_engine_names_a_bad_token_file() {
    let dir = tempfile::tempdir().unwrap();
    let tokens = dir.path().join("tokens.json");
    std::fs::write(&tokens, "[1, 2, \"three\"]").unwrap();
    let fixture = repo_root().join("data/fixtures/models/llama3");
    let (status, _, stderr) = harness(
        &repo_root(),
        &[
            "engine",
            "--model",
            fixture.to_str().unwrap(),
            "--tokens",
            tokens.to_str().unwrap(),
            "--decode",
            "2",
            "--threads",
            "1",
        ],
    );
    assert_eq!(status, 2);
    assert!(stderr.contains("not a JSON array of token ids"), "{stderr}");
}

#[test]
fn fak_runs_on_a_gpu_backend_without_a_cpu_roofline_or_names_why_it_cannot() {
    let dir = tempfile::tempdir().unwrap();
    let script = peer_script(dir.path(), "peer.sh", "", None);
    let peer = format!("llama.cpp bf16=sh {}", script.display());
    // A backend this build or machine lacks fails with the probe's reason.
    if let Some((kind, why)) = [BackendKind::Metal, BackendKind::Cuda, BackendKind::Vulkan]
        .into_iter()
        .find_map(|k| AnyBackend::open(k, 0).err().map(|e| (k, e.to_string())))
    {
        let (status, _, stderr) = throughput_on(kind.name(), &peer, None);
        assert_eq!(status, 2, "{stderr}");
        assert!(stderr.contains(&why), "{stderr}");
    }
    // One that it has: the run's entries carry no roofline and no bandwidth (the CPU's
    // read bandwidth does not bound a GPU), and the method names the backend.
    let Some(kind) = [BackendKind::Vulkan, BackendKind::Metal, BackendKind::Cuda]
        .into_iter()
        .find(|&k| AnyBackend::open(k, 0).is_ok())
    else {
        return;
    };
    let out = dir.path().join("gpu.json");
    let (status, stdout, stderr) = throughput_on(kind.name(), &peer, Some(&out));
    assert_eq!(status, 0, "{stdout}{stderr}");
    assert!(stdout.contains("no roofline off the CPU"), "{stdout}");
    let entries = parse_measurement(&std::fs::read_to_string(&out).unwrap(), "out").unwrap();
    assert!(entries.iter().any(|e| e.id == "throughput.decode.fak"));
    assert!(
        !entries
            .iter()
            .any(|e| e.id.ends_with("roofline") || e.id.ends_with("bandwidth")),
        "{entries:?}"
    );
    let fak = entries
        .iter()
        .find(|e| e.id == "throughput.decode.fak")
        .unwrap();
    let method = fak.method.as_deref().unwrap_or_default();
    assert!(
        method.contains(&format!("fak on its {} backend", kind.name())),
        "{method}"
    );
}
