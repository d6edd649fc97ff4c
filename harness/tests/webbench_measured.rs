//! The measured geometry: hand-computed on a tiny recording with a word-level tokenizer,
//! then checked for its invariants on the real WebVoyager recordings.

mod common;

use std::path::Path;

use fak_harness::webbench::measured::{self, AttentionShape, MeasuredInputs, TokenCounter};
use fak_harness::webbench::policy::Policy;
use fak_harness::webbench::tasks::load_tasks;
use fak_harness::webbench::trajectory::{clip_window, load_trajectories};
use serde_json::json;

/// A tokenizer that makes one token of every whitespace-separated word, so token counts
/// can be computed by hand.
fn word_tokenizer(dir: &Path) -> TokenCounter {
    let spec = json!({
        "version": "1.0",
        "truncation": null,
        "padding": null,
        "added_tokens": [],
        "normalizer": null,
        "pre_tokenizer": { "type": "WhitespaceSplit" },
        "post_processor": null,
        "decoder": null,
        "model": { "type": "WordLevel", "vocab": { "[UNK]": 0, "r": 1 }, "unk_token": "[UNK]" }
    });
    let path = dir.join("tokenizer.json");
    std::fs::write(&path, spec.to_string()).unwrap();
    TokenCounter::load(&path).unwrap()
}

fn unit_shape(dir: &Path) -> AttentionShape {
    let path = dir.join("config.json");
    std::fs::write(
        &path,
        json!({ "num_hidden_layers": 1, "num_attention_heads": 1, "head_dim": 1 }).to_string(),
    )
    .unwrap();
    AttentionShape::from_config(&path).unwrap()
}

fn whole(text: &str) -> serde_json::Value {
    json!([{ "type": "text", "text": text }, { "type": "image_url", "image_url": { "url": "x" } }])
}

/// Task A: two turns, the first clipped (window 1). Task B: one whole turn; its id has a
/// space, its file an underscore.
fn tiny_recording(dir: &Path) {
    std::fs::write(
        dir.join("tasks.jsonl"),
        "{\"web_name\": \"Site\", \"id\": \"Site--1\", \"ques\": \"q\", \"web\": \"w\"}\n\
         {\"web_name\": \"Site B\", \"id\": \"Site B--2\", \"ques\": \"q\", \"web\": \"w\"}\n",
    )
    .unwrap();
    let traj = dir.join("trajectories");
    std::fs::create_dir(&traj).unwrap();
    let system = "s1 s2 s3 s4";
    let a = json!([
        { "role": "system", "content": system },
        { "role": "user", "content": "T1 T2 Observation: omitted" },
        { "role": "assistant", "content": "r r r" },
        { "role": "user", "content": whole("Observation: a b c d e f") },
        { "role": "assistant", "content": "r r" },
    ]);
    let b = json!([
        { "role": "system", "content": system },
        { "role": "user", "content": whole("T3 Observation: x y") },
        { "role": "assistant", "content": "r" },
    ]);
    std::fs::write(traj.join("taskSite--1.json"), a.to_string()).unwrap();
    std::fs::write(traj.join("taskSite_B--2.json"), b.to_string()).unwrap();
}

#[test]
fn tiny_recording_matches_hand_computation() {
    let dir = tempfile::tempdir().unwrap();
    tiny_recording(dir.path());
    let tasks = load_tasks(&dir.path().join("tasks.jsonl")).unwrap();
    let trajectories = load_trajectories(&dir.path().join("trajectories")).unwrap();
    assert_eq!(clip_window(&trajectories).unwrap(), Some(1));
    let tokens = word_tokenizer(dir.path());
    let shape = unit_shape(dir.path());
    let report = measured::describe(&MeasuredInputs {
        tasks: &tasks,
        trajectories: &trajectories,
        tokens: &tokens,
        shape: &shape,
        workers: &[1, 2],
    })
    .unwrap();
    // Task A: system 4; observation 1 clipped to 4 tokens, its own-turn size estimated as
    // header 2 + mean whole observation 7 = 9; reply 1 = 3; observation 2 = 7; reply 2 = 2.
    //   turn 1: context 4 + 9 = 13, nothing cached: naive 13, private 13.
    //   turn 2: context 4 + 4 (clipped) + 3 + 7 = 18; the cache matches the system
    //           prompt only, so private prefills 14; naive 18.
    // Task B: context 4 + 4 = 8, one turn.
    // Shared prefix: system (4) once; each task's first turn once; the rest per agent.
    let row = |w: u64| report.fleet.iter().find(|r| r.workers == w).unwrap();
    let tokens_at = |w, p| row(w).prefill_tokens.get(p);
    assert_eq!(tokens_at(1, Policy::Naive), 31 + 8);
    assert_eq!(tokens_at(1, Policy::PrivateKv), 27 + 8);
    assert_eq!(tokens_at(1, Policy::SharedPrefix), 4 + (9 + 14) + 4);
    assert_eq!(tokens_at(2, Policy::Naive), 2 * 39);
    assert_eq!(tokens_at(2, Policy::PrivateKv), 2 * 35);
    assert_eq!(tokens_at(2, Policy::SharedPrefix), 4 + (9 + 2 * 14) + 4);
    // Replies are decode: 3 + 2 + 1 per agent.
    assert_eq!(row(1).decode_tokens, Some(6));
    assert_eq!(row(2).decode_tokens, Some(12));
    // Attention: 4 FLOPs per causal pair with this shape. Naive A: pairs(0,13) +
    // pairs(0,18) = 91 + 171; B: 36. Private A: 91 + pairs(4,18) = 91 + 161.
    // Shared: pairs(0,4) once + A (91 - 10) + (161) + B (36 - 10).
    let flops = row(1).prefill_attention_flops.unwrap();
    assert_eq!(flops.get(Policy::Naive), 4.0 * (91.0 + 171.0 + 36.0));
    assert_eq!(flops.get(Policy::PrivateKv), 4.0 * (91.0 + 161.0 + 36.0));
    assert_eq!(
        flops.get(Policy::SharedPrefix),
        4.0 * (10.0 + 81.0 + 161.0 + 26.0)
    );
    // Decode pairs: A pairs(13,16) + pairs(18,20) = 45 + 39; B pairs(8,9) = 9.
    assert_eq!(row(1).decode_attention_flops, Some(4.0 * 93.0));
    // The curve follows the longest run (A) for the largest fleet (2).
    let c = &report.context;
    assert_eq!(c.x, vec![1, 2]);
    assert_eq!(c.cumulative_prefill.of(Policy::Naive), &vec![26, 62]);
    assert_eq!(c.cumulative_prefill.of(Policy::PrivateKv), &vec![26, 54]);
    assert_eq!(c.cumulative_prefill.of(Policy::SharedPrefix), &vec![13, 41]);
}

#[test]
fn recordings_that_break_the_clipping_rule_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    tiny_recording(dir.path());
    // A third run clipping nothing but longer than the window of 1.
    let c = json!([
        { "role": "system", "content": "s" },
        { "role": "user", "content": whole("Observation: a") },
        { "role": "assistant", "content": "r" },
        { "role": "user", "content": whole("Observation: b") },
        { "role": "assistant", "content": "r" },
    ]);
    std::fs::write(
        dir.path().join("trajectories/taskSite--3.json"),
        c.to_string(),
    )
    .unwrap();
    let trajectories = load_trajectories(&dir.path().join("trajectories")).unwrap();
    let err = clip_window(&trajectories).unwrap_err().to_string();
    assert!(
        err.contains("task Site--3 has 2 whole observations, more than the 1"),
        "{err}"
    );
}

#[test]
fn malformed_trajectory_names_file_and_turn() {
    let dir = tempfile::tempdir().unwrap();
    let bad = json!([
        { "role": "system", "content": "s" },
        { "role": "user", "content": "no marker here" },
        { "role": "assistant", "content": "r" },
    ]);
    std::fs::write(dir.path().join("taskX--1.json"), bad.to_string()).unwrap();
    let err = load_trajectories(dir.path()).unwrap_err().to_string();
    assert!(
        err.contains("taskX--1.json: turn 1: the observation has no \"Observation:\""),
        "{err}"
    );
}

#[test]
fn measured_mode_without_a_tokenizer_says_what_is_missing() {
    let data = common::webvoyager();
    let (status, _, stderr) = common::harness(
        &common::repo_root(),
        &[
            "webbench",
            "describe",
            "--tasks",
            data.join("WebVoyager_data.jsonl").to_str().unwrap(),
            "--mode",
            "measured",
            "--trajectories",
            data.join("trajectories").to_str().unwrap(),
        ],
    );
    assert_eq!(status, 2);
    assert!(
        stderr.contains("measured mode needs --tokenizer"),
        "{stderr}"
    );
}

#[test]
fn real_recordings_keep_the_policies_in_order() {
    let data = common::webvoyager();
    let tasks = load_tasks(&data.join("WebVoyager_data.jsonl")).unwrap();
    let trajectories = load_trajectories(&data.join("trajectories")).unwrap();
    assert_eq!(trajectories.len(), 15);
    let model = common::repo_root().join("data/fixtures/models/qwen2");
    let tokens = TokenCounter::load(&model.join("tokenizer.json")).unwrap();
    let shape = AttentionShape::from_config(&model.join("config.json")).unwrap();
    let report = measured::describe(&MeasuredInputs {
        tasks: &tasks,
        trajectories: &trajectories,
        tokens: &tokens,
        shape: &shape,
        workers: &[1, 8],
    })
    .unwrap();
    for row in &report.fleet {
        let t = |p| row.prefill_tokens.get(p);
        assert!(t(Policy::Naive) > t(Policy::PrivateKv), "{row:?}");
        assert!(t(Policy::PrivateKv) > t(Policy::SharedPrefix), "{row:?}");
    }
    let (one, eight) = (&report.fleet[0], &report.fleet[1]);
    // Naive and private scale with the fleet; decode too; shared grows slower.
    assert_eq!(
        eight.prefill_tokens.get(Policy::Naive),
        8 * one.prefill_tokens.get(Policy::Naive)
    );
    assert_eq!(eight.decode_tokens.unwrap(), 8 * one.decode_tokens.unwrap());
    assert!(
        eight.prefill_tokens.get(Policy::SharedPrefix)
            < 8 * one.prefill_tokens.get(Policy::SharedPrefix)
    );
    assert!(report.assumptions.iter().any(|a| a.contains("screenshots")));
}
