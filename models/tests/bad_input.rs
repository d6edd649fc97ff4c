//! Bad input is a clear error naming what is wrong: missing files, truncated or mistyped
//! weights, a config that does not match them, unknown architectures and keys, empty and
//! too-long prompts.

mod common;

use std::path::Path;
use std::sync::Arc;

use fak_backends::CpuBackend;
use fak_models::{
    Activations, GenerateOptions, Logits, Model, ModelError, SequenceKv, StopTokens, Tokenizer,
    generate,
};
use safetensors::{Dtype, SafeTensors};
use tempfile::TempDir;

use common::{fixture_dir, load};

/// A writable copy of a fixture directory.
fn copy_fixture(name: &str) -> TempDir {
    let dir = tempfile::tempdir().unwrap();
    for entry in std::fs::read_dir(fixture_dir(name)).unwrap() {
        let entry = entry.unwrap();
        std::fs::copy(entry.path(), dir.path().join(entry.file_name())).unwrap();
    }
    dir
}

fn load_dir(dir: &Path) -> Result<Model<CpuBackend>, ModelError> {
    Model::load(Arc::new(CpuBackend::new()), dir, None)
}

fn load_err(dir: &Path) -> String {
    load_dir(dir).unwrap_err().to_string()
}

/// Edits config.json of `dir` as JSON.
fn edit_config(dir: &Path, edit: impl FnOnce(&mut serde_json::Value)) {
    let path = dir.join("config.json");
    let mut config: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    edit(&mut config);
    std::fs::write(&path, config.to_string()).unwrap();
}

/// Rewrites `file` of `dir` with `edit` applied to its list of (name, dtype, shape, bytes).
fn rewrite_weights(
    dir: &Path,
    file: &str,
    edit: impl FnOnce(&mut Vec<(String, Dtype, Vec<usize>, Vec<u8>)>),
) {
    let path = dir.join(file);
    let bytes = std::fs::read(&path).unwrap();
    let parsed = SafeTensors::deserialize(&bytes).unwrap();
    let mut tensors: Vec<_> = parsed
        .tensors()
        .into_iter()
        .map(|(name, view)| {
            (
                name,
                view.dtype(),
                view.shape().to_vec(),
                view.data().to_vec(),
            )
        })
        .collect();
    edit(&mut tensors);
    let views: Vec<_> = tensors
        .iter()
        .map(|(name, dtype, shape, data)| {
            (
                name.clone(),
                safetensors::tensor::TensorView::new(*dtype, shape.clone(), data).unwrap(),
            )
        })
        .collect();
    std::fs::write(&path, safetensors::serialize(views, None).unwrap()).unwrap();
}

#[test]
fn each_missing_file_is_named() {
    for file in ["config.json", "model.safetensors", "tokenizer.json"] {
        let dir = copy_fixture("qwen2");
        std::fs::remove_file(dir.path().join(file)).unwrap();
        let err = match file {
            "tokenizer.json" => Tokenizer::from_dir(dir.path()).unwrap_err().to_string(),
            _ => load_err(dir.path()),
        };
        assert!(
            err.contains(file) && err.contains("missing"),
            "{file}: {err}"
        );
    }
}

#[test]
fn a_missing_shard_is_named() {
    let dir = copy_fixture("mistral");
    std::fs::remove_file(dir.path().join("model-00002-of-00002.safetensors")).unwrap();
    let err = load_err(dir.path());
    assert!(
        err.contains("model-00002-of-00002.safetensors") && err.contains("missing"),
        "{err}"
    );
}

#[test]
fn sharded_checkpoint_loads_every_tensor_from_its_shard() {
    let checkpoint = fak_models::Checkpoint::open(&fixture_dir("mistral")).unwrap();
    assert_eq!(checkpoint.files().len(), 2);
    assert!(checkpoint.contains("lm_head.weight") && checkpoint.contains("model.norm.weight"));
    // 164,160 bf16 parameters, as the shard index's metadata records.
    assert_eq!(checkpoint.weight_bytes(), 328_320);
}

#[test]
fn a_truncated_safetensors_file_is_refused_with_its_path() {
    for keep in [4usize, 100, 200_000] {
        let dir = copy_fixture("qwen3");
        let path = dir.path().join("model.safetensors");
        let bytes = std::fs::read(&path).unwrap();
        std::fs::write(&path, &bytes[..keep]).unwrap();
        let err = load_err(dir.path());
        assert!(
            err.contains("model.safetensors") && err.contains("not a valid safetensors file"),
            "kept {keep} bytes: {err}"
        );
    }
}

#[test]
fn a_tensor_in_an_unsupported_dtype_is_named_with_its_dtype() {
    let dir = copy_fixture("llama2");
    rewrite_weights(dir.path(), "model.safetensors", |tensors| {
        let norm = tensors
            .iter_mut()
            .find(|t| t.0 == "model.norm.weight")
            .unwrap();
        norm.1 = Dtype::F64;
        norm.3 = vec![0u8; norm.2[0] * 8];
    });
    let err = load_err(dir.path());
    assert!(
        err.contains("model.norm.weight") && err.contains("F64"),
        "{err}"
    );
}

#[test]
fn weights_stored_as_f32_run_in_f32_and_give_the_bf16_model_s_logits_to_rounding() {
    // Weights are used in their stored dtype: the same values stored as f32 load as f32 and
    // give the bf16 model's logits up to summation order (bf16 rows fill the lanes in
    // pairs, f32 rows one column a lane: DETERMINISM.md §1), and the same greedy picks.
    let dir = copy_fixture("smollm2");
    rewrite_weights(dir.path(), "model.safetensors", |tensors| {
        for t in tensors.iter_mut() {
            let widened: Vec<u8> =
                t.3.chunks_exact(2)
                    .flat_map(|b| {
                        (f32::from_bits(u32::from(u16::from_le_bytes([b[0], b[1]])) << 16))
                            .to_le_bytes()
                    })
                    .collect();
            (t.1, t.3) = (Dtype::F32, widened);
        }
    });
    let ids = &common::reference("smollm2").sequences[0].ids[..20];
    let run = |model: &Model<CpuBackend>| {
        let mut kv = SequenceKv::new(&**model.backend(), model.config(), ids.len()).unwrap();
        model
            .forward(&mut Activations::new(), &mut kv, ids, Logits::All)
            .unwrap()
    };
    let f32_model = load_dir(dir.path()).unwrap();
    let f32_logits = run(&f32_model);
    let bf16_logits = run(&load("smollm2"));
    let scale = bf16_logits.iter().fold(0.0f32, |m, v| m.max(v.abs()));
    let max_delta = f32_logits
        .iter()
        .zip(&bf16_logits)
        .fold(0.0f32, |m, (a, b)| m.max((a - b).abs()));
    // Activations are rounded to bf16 between ops, so another summation order can move one
    // by a bf16 step (2^-8 relative) and that carries to the logits: measured 1.4e-4 of the
    // largest logit; the bound leaves 7x.
    assert!(
        max_delta <= 1e-3 * scale,
        "max|Δ| {max_delta} against max|logit| {scale}"
    );
    let vocab = f32_model.config().vocab_size;
    let argmax = |row: &[f32]| fak_ops::argmax(row).unwrap();
    for (a, b) in f32_logits
        .chunks_exact(vocab)
        .zip(bf16_logits.chunks_exact(vocab))
    {
        assert_eq!(argmax(a), argmax(b));
    }
}

#[test]
fn a_config_that_does_not_match_the_weights_names_tensor_and_shapes() {
    let dir = copy_fixture("llama3");
    edit_config(dir.path(), |c| c["intermediate_size"] = 256.into());
    let err = load_err(dir.path());
    assert!(
        err.contains("model.layers.0.mlp.gate_proj.weight")
            && err.contains("expected shape [256, 128], found [192, 128]"),
        "{err}"
    );
}

#[test]
fn weights_left_over_by_the_config_are_refused() {
    let dir = copy_fixture("llama3");
    edit_config(dir.path(), |c| c["num_hidden_layers"] = 1.into());
    let err = load_err(dir.path());
    assert!(
        err.contains("does not use") && err.contains("model.layers.1."),
        "{err}"
    );
}

#[test]
fn a_missing_tensor_is_named() {
    let dir = copy_fixture("qwen2");
    rewrite_weights(dir.path(), "model.safetensors", |tensors| {
        tensors.retain(|t| t.0 != "model.layers.1.self_attn.k_proj.bias");
    });
    let err = load_err(dir.path());
    assert!(
        err.contains("model.layers.1.self_attn.k_proj.bias") && err.contains("missing"),
        "{err}"
    );
}

#[test]
fn unknown_architecture_and_unknown_config_key_are_named() {
    let dir = copy_fixture("qwen3");
    edit_config(dir.path(), |c| {
        c["architectures"] = serde_json::json!(["Qwen3MoeForCausalLM"])
    });
    let err = load_err(dir.path());
    assert!(
        err.contains("Qwen3MoeForCausalLM") && err.contains("not supported"),
        "{err}"
    );

    let dir = copy_fixture("qwen3");
    edit_config(dir.path(), |c| c["num_experts"] = 8.into());
    let err = load_err(dir.path());
    assert!(
        err.contains("num_experts") && err.contains("Qwen3ForCausalLM"),
        "{err}"
    );
}

#[test]
fn a_config_value_of_the_wrong_type_names_its_key() {
    let dir = copy_fixture("smollm2");
    edit_config(dir.path(), |c| c["num_attention_heads"] = "six".into());
    let err = load_err(dir.path());
    assert!(
        err.contains("config.json") && err.contains("num_attention_heads"),
        "{err}"
    );
}

#[test]
fn an_empty_prompt_is_refused() {
    let model = load("llama2");
    let mut kv = SequenceKv::new(&**model.backend(), model.config(), 8).unwrap();
    let err = generate(
        &model,
        &mut kv,
        &[],
        &StopTokens(vec![2]),
        &GenerateOptions::default(),
        common::quiet,
    )
    .unwrap_err();
    assert!(matches!(err, ModelError::EmptyPrompt), "{err}");
    // qwen2's tokenizer adds no bos: the empty text is an empty prompt.
    let ids = Tokenizer::from_dir(&fixture_dir("qwen2"))
        .unwrap()
        .encode("", true)
        .unwrap();
    assert!(ids.is_empty());
}

#[test]
fn a_prompt_longer_than_the_context_is_refused_before_any_work() {
    let model = load("llama2");
    assert_eq!(model.context(), 512);
    let prompt = vec![5u32; 513];
    let mut kv = SequenceKv::new(&**model.backend(), model.config(), 8).unwrap();
    let err = generate(
        &model,
        &mut kv,
        &prompt,
        &StopTokens(vec![2]),
        &GenerateOptions::default(),
        common::quiet,
    )
    .unwrap_err();
    assert!(
        matches!(
            err,
            ModelError::PromptTooLong {
                tokens: 513,
                context: 512
            }
        ),
        "{err}"
    );
    assert_eq!(kv_len(&kv), 0, "nothing was prefilled");
}

fn kv_len(kv: &SequenceKv<CpuBackend>) -> usize {
    fak_models::KvCache::len(kv)
}

#[test]
fn forward_refuses_tokens_outside_the_vocabulary_and_positions_past_the_context() {
    let model = Model::load(Arc::new(CpuBackend::new()), &fixture_dir("llama2"), Some(4)).unwrap();
    let mut kv = SequenceKv::new(&**model.backend(), model.config(), 8).unwrap();
    let mut act = Activations::new();
    let err = model
        .forward(&mut act, &mut kv, &[1, 512], Logits::Last)
        .unwrap_err();
    assert!(
        matches!(
            err,
            ModelError::TokenOutOfRange {
                id: 512,
                vocab: 512
            }
        ),
        "{err}"
    );
    model
        .forward(&mut act, &mut kv, &[1, 2, 3], Logits::None)
        .unwrap();
    let err = model
        .forward(&mut act, &mut kv, &[4, 5], Logits::Last)
        .unwrap_err();
    assert!(
        matches!(
            err,
            ModelError::ContextExceeded {
                start: 3,
                end: 5,
                context: 4
            }
        ),
        "{err}"
    );
    // The failed calls stored nothing: the sequence goes on from where it was.
    assert_eq!(kv_len(&kv), 3);
    model
        .forward(&mut act, &mut kv, &[4], Logits::Last)
        .unwrap();
}

#[test]
fn a_context_beyond_what_the_config_allows_is_refused() {
    let err = Model::load(
        Arc::new(CpuBackend::new()),
        &fixture_dir("llama2"),
        Some(513),
    )
    .unwrap_err()
    .to_string();
    assert!(err.contains("context = 513"), "{err}");
}
