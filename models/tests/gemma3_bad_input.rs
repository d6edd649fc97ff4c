//! A tiny Gemma 3 GGUF written here (random f32 weights) runs, and every file the loader
//! must refuse is refused with an error naming what is wrong.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use fak_backends::CpuBackend;
use fak_models::{
    Activations, Chat, ChatTemplate, Logits, Model, SequenceKv, StopTokens, Tokenizer,
};

/// A metadata value, as the writer encodes it.
enum Kv {
    U32(u32),
    F32(f32),
    Bool(bool),
    Str(&'static str),
    Strs(Vec<String>),
    F32s(Vec<f32>),
    I32s(Vec<i32>),
}

/// GGUF v3 bytes: metadata, then f32 tensors (`dims` fastest first), aligned to 32.
fn gguf_bytes(kvs: &[(&str, Kv)], tensors: &[(String, Vec<u64>)]) -> Vec<u8> {
    let mut b = Vec::new();
    let string = |b: &mut Vec<u8>, s: &str| {
        b.extend((s.len() as u64).to_le_bytes());
        b.extend(s.as_bytes());
    };
    b.extend(b"GGUF");
    b.extend(3u32.to_le_bytes());
    b.extend((tensors.len() as u64).to_le_bytes());
    b.extend((kvs.len() as u64).to_le_bytes());
    for (key, value) in kvs {
        string(&mut b, key);
        match value {
            Kv::U32(v) => {
                b.extend(4u32.to_le_bytes());
                b.extend(v.to_le_bytes());
            }
            Kv::F32(v) => {
                b.extend(6u32.to_le_bytes());
                b.extend(v.to_le_bytes());
            }
            Kv::Bool(v) => {
                b.extend(7u32.to_le_bytes());
                b.push(u8::from(*v));
            }
            Kv::Str(s) => {
                b.extend(8u32.to_le_bytes());
                string(&mut b, s);
            }
            Kv::Strs(items) => {
                b.extend(9u32.to_le_bytes());
                b.extend(8u32.to_le_bytes());
                b.extend((items.len() as u64).to_le_bytes());
                items.iter().for_each(|s| string(&mut b, s));
            }
            Kv::F32s(items) => {
                b.extend(9u32.to_le_bytes());
                b.extend(6u32.to_le_bytes());
                b.extend((items.len() as u64).to_le_bytes());
                items.iter().for_each(|v| b.extend(v.to_le_bytes()));
            }
            Kv::I32s(items) => {
                b.extend(9u32.to_le_bytes());
                b.extend(5u32.to_le_bytes());
                b.extend((items.len() as u64).to_le_bytes());
                items.iter().for_each(|v| b.extend(v.to_le_bytes()));
            }
        }
    }
    let mut offset = 0u64;
    for (name, dims) in tensors {
        string(&mut b, name);
        b.extend((dims.len() as u32).to_le_bytes());
        dims.iter().for_each(|d| b.extend(d.to_le_bytes()));
        b.extend(0u32.to_le_bytes()); // F32
        b.extend(offset.to_le_bytes());
        offset += (dims.iter().product::<u64>() * 4).next_multiple_of(32);
    }
    b.resize(b.len().next_multiple_of(32), 0);
    let mut state = 0x9E37_79B9_7F4A_7C15u64;
    for (_, dims) in tensors {
        let n = dims.iter().product::<u64>();
        for _ in 0..n {
            // Small values around 1 (norm weights) and +-0.1 (projections): a stable forward.
            state = state
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            let v = ((state >> 40) as f32 / (1u64 << 24) as f32 - 0.5) * 0.2;
            b.extend(v.to_le_bytes());
        }
        b.resize(b.len().next_multiple_of(32), 0);
    }
    b
}

const HIDDEN: u64 = 8;
const HEAD_DIM: u64 = 4;
const FF: u64 = 16;
const LAYERS: usize = 2;

/// Pieces: the specials llama.cpp's Gemma vocabulary starts with, the 256 byte pieces, and
/// a few words.
fn vocab() -> (Vec<String>, Vec<f32>, Vec<i32>) {
    let mut pieces: Vec<String> = [
        "<pad>",
        "<eos>",
        "<bos>",
        "<unk>",
        "<start_of_turn>",
        "<end_of_turn>",
    ]
    .map(str::to_owned)
    .to_vec();
    let mut types = vec![3; pieces.len()];
    pieces.push("\n".to_owned());
    types.push(4);
    for byte in 0..=255u8 {
        pieces.push(format!("<0x{byte:02X}>"));
        types.push(6);
    }
    for word in [
        "▁", "h", "i", "hi", "▁hi", "e", "l", "o", "lo", "▁h", "user", "model",
    ] {
        pieces.push(word.to_owned());
        types.push(1);
    }
    let scores = (0..pieces.len()).map(|i| -(i as f32)).collect();
    (pieces, scores, types)
}

fn metadata() -> Vec<(&'static str, Kv)> {
    let (pieces, scores, types) = vocab();
    vec![
        ("general.architecture", Kv::Str("gemma3")),
        ("gemma3.context_length", Kv::U32(64)),
        ("gemma3.embedding_length", Kv::U32(HIDDEN as u32)),
        ("gemma3.block_count", Kv::U32(LAYERS as u32)),
        ("gemma3.feed_forward_length", Kv::U32(FF as u32)),
        ("gemma3.attention.head_count", Kv::U32(2)),
        ("gemma3.attention.head_count_kv", Kv::U32(1)),
        ("gemma3.attention.key_length", Kv::U32(HEAD_DIM as u32)),
        ("gemma3.attention.value_length", Kv::U32(HEAD_DIM as u32)),
        ("gemma3.attention.layer_norm_rms_epsilon", Kv::F32(1e-6)),
        ("gemma3.rope.freq_base", Kv::F32(1e6)),
        ("gemma3.attention.sliding_window", Kv::U32(4)),
        ("gemma3.attention.sliding_window_pattern", Kv::U32(2)),
        ("tokenizer.ggml.model", Kv::Str("llama")),
        ("tokenizer.ggml.tokens", Kv::Strs(pieces)),
        ("tokenizer.ggml.scores", Kv::F32s(scores)),
        ("tokenizer.ggml.token_type", Kv::I32s(types)),
        ("tokenizer.ggml.bos_token_id", Kv::U32(2)),
        ("tokenizer.ggml.eos_token_id", Kv::U32(1)),
        ("tokenizer.ggml.unknown_token_id", Kv::U32(3)),
        ("tokenizer.ggml.add_bos_token", Kv::Bool(true)),
    ]
}

fn tensors() -> Vec<(String, Vec<u64>)> {
    let vocab = vocab().0.len() as u64;
    let (q, kv) = (2 * HEAD_DIM, HEAD_DIM);
    let mut t = vec![
        ("token_embd.weight".to_owned(), vec![HIDDEN, vocab]),
        ("output_norm.weight".to_owned(), vec![HIDDEN]),
    ];
    for i in 0..LAYERS {
        for (name, dims) in [
            ("attn_norm", vec![HIDDEN]),
            ("attn_q", vec![HIDDEN, q]),
            ("attn_k", vec![HIDDEN, kv]),
            ("attn_v", vec![HIDDEN, kv]),
            ("attn_output", vec![q, HIDDEN]),
            ("attn_q_norm", vec![HEAD_DIM]),
            ("attn_k_norm", vec![HEAD_DIM]),
            ("post_attention_norm", vec![HIDDEN]),
            ("ffn_norm", vec![HIDDEN]),
            ("ffn_gate", vec![HIDDEN, FF]),
            ("ffn_up", vec![HIDDEN, FF]),
            ("ffn_down", vec![FF, HIDDEN]),
            ("post_ffw_norm", vec![HIDDEN]),
        ] {
            t.push((format!("blk.{i}.{name}.weight"), dims));
        }
    }
    t
}

fn write(dir: &Path, kvs: &[(&str, Kv)], tensors: &[(String, Vec<u64>)]) -> PathBuf {
    let path = dir.join("tiny.gguf");
    std::fs::write(&path, gguf_bytes(kvs, tensors)).unwrap();
    path
}

fn load_error(kvs: &[(&str, Kv)], tensors: &[(String, Vec<u64>)]) -> String {
    let dir = tempfile::tempdir().unwrap();
    let path = write(dir.path(), kvs, tensors);
    Model::load(Arc::new(CpuBackend::new()), &path, None)
        .unwrap_err()
        .to_string()
}

#[test]
fn a_tiny_gemma3_gguf_tokenizes_chats_and_runs_past_its_window() {
    let dir = tempfile::tempdir().unwrap();
    let path = write(dir.path(), &metadata(), &tensors());
    let tokenizer = Tokenizer::from_dir(&path).unwrap();
    let text = ChatTemplate::from_dir(&path)
        .unwrap()
        .render(&Chat::user("hi"))
        .unwrap();
    assert_eq!(
        text,
        "<bos><start_of_turn>user\nhi<end_of_turn>\n<start_of_turn>model\n"
    );
    let prompt = tokenizer.encode(&text, false).unwrap();
    assert_eq!(
        prompt[..2],
        [2, 4],
        "bos and <start_of_turn> as single tokens: {prompt:?}"
    );
    assert_eq!(StopTokens::from_dir(&path).unwrap().0, [1, 5]);
    let model = Model::load(Arc::new(CpuBackend::new()), &path, None).unwrap();
    assert_eq!(model.context(), 64);
    // Past the window of 4: local layers attend to a window, the global one to everything.
    let mut kv = SequenceKv::new(&**model.backend(), model.config(), 64).unwrap();
    let logits = model
        .forward(&mut Activations::new(), &mut kv, &prompt, Logits::All)
        .unwrap();
    assert_eq!(logits.len(), prompt.len() * model.config().vocab_size);
    assert!(logits.iter().all(|v| v.is_finite()));
}

#[test]
fn another_architecture_is_refused_by_name() {
    let mut kvs = metadata();
    kvs[0].1 = Kv::Str("llama");
    let err = load_error(&kvs, &tensors());
    assert!(
        err.contains("\"llama\" is not supported") && err.contains("gemma3"),
        "{err}"
    );
}

#[test]
fn an_unknown_architecture_key_is_refused_by_name() {
    let mut kvs = metadata();
    kvs.push(("gemma3.expert_count", Kv::U32(8)));
    let err = load_error(&kvs, &tensors());
    assert!(err.contains("expert_count"), "{err}");
}

#[test]
fn logit_soft_capping_is_refused_not_ignored() {
    let mut kvs = metadata();
    kvs.push(("gemma3.final_logit_softcapping", Kv::F32(30.0)));
    let err = load_error(&kvs, &tensors());
    assert!(
        err.contains("final_logit_softcapping") && err.contains("soft-capping"),
        "{err}"
    );
}

#[test]
fn a_missing_a_foreign_and_a_misshaped_tensor_are_named() {
    let mut missing = tensors();
    missing.retain(|(name, _)| name != "blk.1.post_ffw_norm.weight");
    let err = load_error(&metadata(), &missing);
    assert!(
        err.contains("model.layers.1.post_feedforward_layernorm.weight"),
        "{err}"
    );

    let mut foreign = tensors();
    foreign.push(("blk.0.ffn_gate_exps.weight".to_owned(), vec![HIDDEN]));
    let err = load_error(&metadata(), &foreign);
    assert!(err.contains("blk.0.ffn_gate_exps.weight"), "{err}");

    let mut misshaped = tensors();
    misshaped[3].1 = vec![HIDDEN, 3 * HEAD_DIM];
    let err = load_error(&metadata(), &misshaped);
    assert!(
        err.contains(
            &misshaped[3]
                .0
                .replace("blk.0.attn_q", "model.layers.0.self_attn.q_proj")
        ),
        "{err}"
    );
}

#[test]
fn a_vocabulary_other_than_sentencepiece_bpe_is_refused() {
    let mut kvs = metadata();
    kvs[13].1 = Kv::Str("gpt2");
    let dir = tempfile::tempdir().unwrap();
    let path = write(dir.path(), &kvs, &tensors());
    let err = Tokenizer::from_dir(&path).unwrap_err().to_string();
    assert!(
        err.contains("tokenizer.ggml.model") && err.contains("gpt2"),
        "{err}"
    );
}
