//! Figures are drawn only from the ledger, byte-reproducibly; `check` catches any drift;
//! figures whose entries are absent are reported, and drawn once the entries appear.

mod common;

use common::{entry, ledger_text};
use fak_harness::capabilities::{CAPABILITIES_PATH, Capabilities};
use fak_harness::figures::{self, CATALOG};
use fak_harness::ledger::Ledger;
use serde_json::{Value, json};

fn point(id: &str, study: &str, x: f64, group: &str, provenance: &str, value: f64) -> Value {
    let mut e = entry(id, value);
    e["provenance"] = json!(provenance);
    if provenance == "MEASURED" {
        e["machine"] = json!("test box");
        e["date"] = json!("2026-11-26");
        e["commit"] = json!("0123456789abcdef0123456789abcdef01234567");
    }
    e["params"] = json!({ "study": study, "workers": x, "policy": group });
    e
}

fn turn_tax_ledger(naive_at_8: f64) -> Ledger {
    let s = "turntax.compat.prefill";
    Ledger::parse(
        &ledger_text(vec![
            point("n1", s, 1.0, "naive", "MODELED", 100.0),
            point("n8", s, 8.0, "naive", "MODELED", naive_at_8),
            point("p1", s, 1.0, "private_kv", "MODELED", 20.0),
            point("p8", s, 8.0, "private_kv", "MODELED", 160.0),
        ]),
        "ledger.json",
    )
    .unwrap()
}

#[test]
fn figures_are_drawn_only_for_studies_in_the_ledger() {
    let outcome = figures::render_all(&turn_tax_ledger(800.0), None).unwrap();
    let drawn: Vec<&str> = outcome.drawn.iter().map(|r| r.name).collect();
    assert_eq!(drawn, vec!["turn_tax_fleet_compat"]);
    assert_eq!(outcome.absent.len(), CATALOG.len() - 1);
    let parity = outcome
        .absent
        .iter()
        .find(|(n, _)| *n == "parity_table")
        .unwrap();
    assert_eq!(parity.1, "no entries yet for study \"parity\"");
}

#[test]
fn rendering_twice_gives_the_same_bytes() {
    let a = figures::render_all(&turn_tax_ledger(800.0), None).unwrap();
    let b = figures::render_all(&turn_tax_ledger(800.0), None).unwrap();
    assert_eq!(a, b);
    let png = &a.drawn[0].png;
    assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n");
    assert!(a.drawn[0].svg.starts_with("<svg"));
}

#[test]
fn check_catches_a_changed_file_a_changed_number_and_a_stale_figure() {
    let dir = tempfile::tempdir().unwrap();
    let outcome = figures::render_all(&turn_tax_ledger(800.0), None).unwrap();
    figures::write(&outcome, dir.path()).unwrap();
    assert!(figures::check(&outcome, dir.path()).unwrap().is_empty());

    // A hand edit of a committed figure.
    let png = dir.path().join("turn_tax_fleet_compat.png");
    let mut bytes = std::fs::read(&png).unwrap();
    let last = bytes.len() - 20;
    bytes[last] ^= 1;
    std::fs::write(&png, &bytes).unwrap();
    assert_eq!(
        figures::check(&outcome, dir.path()).unwrap(),
        vec![png.clone()]
    );
    figures::write(&outcome, dir.path()).unwrap();

    // The ledger moved on but the figure was not regenerated.
    let moved = figures::render_all(&turn_tax_ledger(900.0), None).unwrap();
    let drifted = figures::check(&moved, dir.path()).unwrap();
    assert_eq!(
        drifted,
        vec![dir.path().join("turn_tax_fleet_compat.svg"), png.clone()]
    );

    // A figure whose entries left the ledger but whose files are still committed.
    std::fs::write(dir.path().join("parity_table.svg"), "<svg/>").unwrap();
    let stale = figures::check(&outcome, dir.path()).unwrap();
    assert_eq!(stale, vec![dir.path().join("parity_table.svg")]);
    figures::write(&outcome, dir.path()).unwrap();
    assert!(
        !dir.path().join("parity_table.svg").exists(),
        "write removes stale figures"
    );
}

#[test]
fn modeled_series_are_labelled_and_measured_ones_are_not() {
    let s = "fleet.live.prefill";
    let mut measured = point("m1", s, 1.0, "shared", "MEASURED", 10.0);
    measured["params"] = json!({ "study": s, "workers": 1, "policy": "shared" });
    let mut measured8 = point("m8", s, 8.0, "shared", "MEASURED", 30.0);
    measured8["params"] = json!({ "study": s, "workers": 8, "policy": "shared" });
    let mut modeled = point("d1", s, 1.0, "geometry", "MODELED", 12.0);
    modeled["params"] = json!({ "study": s, "workers": 1, "policy": "geometry" });
    let ledger = Ledger::parse(
        &ledger_text(vec![measured, measured8, modeled]),
        "ledger.json",
    )
    .unwrap();
    let outcome = figures::render_all(&ledger, None).unwrap();
    let svg = &outcome
        .drawn
        .iter()
        .find(|r| r.name == "prefix_reuse")
        .unwrap()
        .svg;
    assert!(svg.contains("geometry (modeled)"), "{svg}");
    assert!(
        svg.contains("\nshared\n"),
        "a measured curve carries no suffix"
    );
}

#[test]
fn later_figures_plug_in_when_their_entries_appear() {
    let mut parity = entry("parity.rms_norm.cpu", 0.0);
    parity["params"] = json!({ "study": "parity", "gate": "rms_norm", "backend": "cpu" });
    let mut decode = entry("decode.fak", 41.5);
    decode["unit"] = json!("tokens/s");
    decode["params"] = json!({ "study": "decode_throughput", "engine": "fak" });
    let mut excise = entry("excise.128", 512.0);
    excise["params"] = json!({ "study": "excision.cost", "span_position": 128, "arm": "excise" });
    let ledger = Ledger::parse(&ledger_text(vec![parity, decode, excise]), "ledger.json").unwrap();
    let outcome = figures::render_all(&ledger, None).unwrap();
    let drawn: Vec<&str> = outcome.drawn.iter().map(|r| r.name).collect();
    assert_eq!(
        drawn,
        vec!["excision_cost", "decode_throughput", "parity_table"]
    );
    let table = &outcome
        .drawn
        .iter()
        .find(|r| r.name == "parity_table")
        .unwrap()
        .svg;
    assert!(table.contains("0 (exact)"));
}

#[test]
fn labels_are_drawn_as_the_ledger_writes_them_and_policies_by_name() {
    let mut bar = entry("decode.llama", 24.5);
    bar["unit"] = json!("tokens/s");
    bar["params"] = json!({ "study": "decode_throughput", "engine": "llama.cpp q8_0" });
    let point = point(
        "p1",
        "fleet.live.prefill",
        1.0,
        "private_kv",
        "MODELED",
        10.0,
    );
    let ledger = Ledger::parse(&ledger_text(vec![bar, point]), "ledger.json").unwrap();
    let outcome = figures::render_all(&ledger, None).unwrap();
    let svg = |name: &str| &outcome.drawn.iter().find(|r| r.name == name).unwrap().svg;
    assert!(svg("decode_throughput").contains("llama.cpp q8_0"));
    assert!(svg("prefix_reuse").contains("private KV per agent (modeled)"));
}

#[test]
fn an_entry_missing_its_figure_param_is_named() {
    let mut bad = entry("x", 1.0);
    bad["params"] = json!({ "study": "fleet.live.prefill", "policy": "shared" });
    let ledger = Ledger::parse(&ledger_text(vec![bad]), "ledger.json").unwrap();
    let err = figures::render_all(&ledger, None).unwrap_err().to_string();
    assert_eq!(
        err,
        "cannot draw from the ledger: entry \"x\" has no \"workers\" param"
    );
}

#[test]
fn the_committed_figures_match_the_ledger() {
    let root = common::repo_root();
    let ledger = Ledger::load(&root.join("data/ledger.json")).unwrap();
    let caps = Capabilities::load(&root.join(CAPABILITIES_PATH)).unwrap();
    let outcome = figures::render_all(&ledger, Some(&caps)).unwrap();
    let drifted = figures::check(&outcome, &root.join(figures::FIGURES_DIR)).unwrap();
    assert!(drifted.is_empty(), "run `harness figures`: {drifted:?}");
}
