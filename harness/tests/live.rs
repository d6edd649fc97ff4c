//! `harness fleet` and `harness excise` on the committed llama3 fixture, at a small shape:
//! the measured work equals the geometry's prediction, and the results are ledger entries
//! `ledger add` accepts.

mod common;

use std::sync::Arc;

use common::{harness, repo_root};
use fak_backends::CpuBackend;
use fak_harness::excision::run_excisions;
use fak_harness::fleet::{FleetShape, run_fleet};
use fak_harness::ledger::parse_measurement;
use fak_harness::webbench::policy::Policy;
use fak_models::Model;

fn model(context: usize) -> Arc<Model<CpuBackend>> {
    let dir = repo_root().join("data/fixtures/models/llama3");
    Arc::new(Model::load(Arc::new(CpuBackend::new()), &dir, Some(context)).unwrap())
}

#[test]
fn every_policy_computes_what_the_geometry_predicts_and_ends_in_the_same_logits() {
    let shape = FleetShape {
        prefix: 70,
        turns: 4,
        history: 9,
    };
    let runs = run_fleet(&model(shape.context()), shape, 3).unwrap();
    let policies: Vec<Policy> = runs.iter().map(|r| r.policy).collect();
    assert_eq!(policies, Policy::ALL);
    for r in &runs {
        assert_eq!(r.computed as u128, r.predicted, "{r:?}");
    }
    // naive = w(TP + hT(T-1)/2), private = w(P + h(T-1)), shared = P + wh(T-1).
    assert_eq!(runs[0].computed, 3 * (4 * 70 + 9 * 4 * 3 / 2));
    assert_eq!(runs[1].computed, 3 * (70 + 9 * 3));
    assert_eq!(runs[2].computed, 70 + 3 * 9 * 3);
}

#[test]
fn excision_computes_the_suffix_and_the_cold_run_everything() {
    let runs = run_excisions(&model(200), 200, 40, &[0, 70, 160], 1).unwrap();
    let computed: Vec<(usize, usize)> = runs
        .iter()
        .map(|r| (r.excise_computed, r.cold_computed))
        .collect();
    // The span at the end leaves one position to compute, for the logits.
    assert_eq!(computed, vec![(160, 160), (90, 160), (1, 160)]);
}

#[test]
fn a_span_past_the_session_and_a_context_too_small_are_named() {
    let err = run_excisions(&model(100), 100, 40, &[80], 1).unwrap_err();
    assert!(
        err.to_string().contains("does not fit a session of 100"),
        "{err}"
    );
    let shape = FleetShape {
        prefix: 90,
        turns: 3,
        history: 10,
    };
    let err = run_fleet(&model(100), shape, 1).unwrap_err();
    assert!(err.to_string().contains("110 positions"), "{err}");
}

#[test]
fn the_commands_write_entries_the_ledger_accepts() {
    let dir = tempfile::tempdir().unwrap();
    let root = repo_root();
    let root = root.to_str().unwrap();
    let fleet = dir.path().join("fleet.json");
    let excise = dir.path().join("excise.json");
    let args: [&[&str]; 2] = [
        &[
            "fleet",
            "--agents",
            "1,2",
            "--prefix",
            "40",
            "--turns",
            "3",
            "--history",
            "8",
            "--json",
            fleet.to_str().unwrap(),
        ],
        &[
            "excise",
            "--length",
            "96",
            "--span",
            "16",
            "--positions",
            "0,40",
            "--repeats",
            "1",
            "--json",
            excise.to_str().unwrap(),
        ],
    ];
    for a in args {
        let (status, stdout, stderr) = harness(std::path::Path::new(root), a);
        assert_eq!(status, 0, "{stdout}{stderr}");
    }
    let fleet = parse_measurement(&std::fs::read_to_string(&fleet).unwrap(), "fleet").unwrap();
    assert_eq!(
        fleet.len(),
        2 * 3 * 2,
        "prefill and seconds, 3 policies, 2 sizes"
    );
    let shared = fleet
        .iter()
        .find(|e| e.id == "fleet.live.prefill.shared_prefix.w2")
        .unwrap();
    assert_eq!(shared.value, (40 + 2 * 8 * 2) as f64);
    let excise = parse_measurement(&std::fs::read_to_string(&excise).unwrap(), "excise").unwrap();
    let cost = excise
        .iter()
        .find(|e| e.id == "excision.cost.excise.p40")
        .unwrap();
    assert_eq!(cost.value, 40.0);
    assert_eq!(cost.baseline.as_ref().unwrap().value, 80.0);
}
