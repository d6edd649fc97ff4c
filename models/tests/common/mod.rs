//! The committed test models (data/fixtures/models) and their transformers references.

#![allow(dead_code)] // each test binary uses its own part of these helpers

use std::path::PathBuf;
use std::sync::Arc;

use fak_backends::CpuBackend;
use fak_models::Model;
use serde::Deserialize;

/// Every fixture: one per architecture family and variant.
pub const FIXTURES: [&str; 6] = ["llama2", "llama3", "mistral", "qwen2", "qwen3", "smollm2"];

pub fn fixture_dir(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../data/fixtures/models")
        .join(name)
}

/// reference.json, the parts the tests read.
#[derive(Debug, Deserialize)]
pub struct Reference {
    pub architecture: String,
    pub stop_token_ids: Vec<u32>,
    pub sequences: Vec<Sequence>,
    pub greedy: Greedy,
    pub tokenizer_cases: Vec<TokenizerCase>,
    pub chat: Vec<ChatCase>,
}

#[derive(Debug, Deserialize)]
pub struct Sequence {
    pub name: String,
    pub ids: Vec<u32>,
    /// Tensor name in reference.safetensors.
    pub logits: String,
}

#[derive(Debug, Deserialize)]
pub struct Greedy {
    pub steps: usize,
    pub prompts: Vec<GreedyPrompt>,
}

#[derive(Debug, Deserialize)]
pub struct GreedyPrompt {
    pub text: String,
    pub ids: Vec<u32>,
    pub continuation: Vec<u32>,
    pub margins: Vec<f32>,
}

#[derive(Debug, Deserialize)]
pub struct TokenizerCase {
    pub text: String,
    pub ids: Vec<u32>,
    pub ids_without_special: Vec<u32>,
    pub decoded: String,
}

#[derive(Debug, Deserialize)]
pub struct ChatCase {
    pub name: String,
    pub add_generation_prompt: bool,
    pub text: String,
    pub ids: Vec<u32>,
}

pub fn reference(name: &str) -> Reference {
    let text = std::fs::read_to_string(fixture_dir(name).join("reference.json")).unwrap();
    serde_json::from_str(&text).unwrap()
}

/// The `i`-th chat case's messages, tools and variables as JSON text with their key order
/// kept (serde_json's map would sort keys, which changes what `tojson` renders).
pub fn chat_json(name: &str, i: usize) -> (String, Option<String>, Vec<(String, String)>) {
    let text = std::fs::read_to_string(fixture_dir(name).join("reference.json")).unwrap();
    let all: minijinja::Value = serde_json::from_str(&text).unwrap();
    let case = all.get_attr("chat").unwrap().get_item_by_index(i).unwrap();
    let json = |v: minijinja::Value| serde_json::to_string(&v).unwrap();
    let tools = case.get_attr("tools").unwrap();
    let variables = case.get_attr("variables").unwrap();
    let variables = variables
        .try_iter()
        .unwrap()
        .map(|k| {
            let v = variables.get_item(&k).unwrap();
            (k.as_str().unwrap().to_owned(), json(v))
        })
        .collect();
    (
        json(case.get_attr("messages").unwrap()),
        (!tools.is_none()).then(|| json(tools)),
        variables,
    )
}

/// Reference logits `[positions][vocab]` from reference.safetensors.
pub fn reference_logits(name: &str, tensor: &str) -> (Vec<f32>, usize) {
    let bytes = std::fs::read(fixture_dir(name).join("reference.safetensors")).unwrap();
    let file = safetensors::SafeTensors::deserialize(&bytes).unwrap();
    let view = file.tensor(tensor).unwrap();
    assert_eq!(view.dtype(), safetensors::Dtype::F32);
    let vocab = view.shape()[1];
    let values = view
        .data()
        .chunks_exact(4)
        .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
        .collect();
    (values, vocab)
}

pub fn load(name: &str) -> Model<CpuBackend> {
    Model::load(Arc::new(CpuBackend::new()), &fixture_dir(name), None).unwrap()
}

/// An `on_token` callback for `generate` that prints nothing.
pub fn quiet(_token: u32) -> Result<(), fak_models::ModelError> {
    Ok(())
}

/// The tokens `generate` produces after `prompt` with `options`, no stop tokens, in a fresh
/// cache of the model's whole context.
pub fn generated_tokens(
    model: &Model<CpuBackend>,
    prompt: &[u32],
    options: &fak_models::GenerateOptions,
) -> Vec<u32> {
    let mut kv =
        fak_models::SequenceKv::new(&**model.backend(), model.config(), model.context()).unwrap();
    let stop = fak_models::StopTokens(Vec::new());
    fak_models::generate(model, &mut kv, prompt, &stop, options, quiet)
        .unwrap()
        .tokens
}
