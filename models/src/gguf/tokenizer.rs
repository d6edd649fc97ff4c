//! The tokenizer a GGUF file carries in its metadata (`tokenizer.ggml.*`), rebuilt as a
//! `tokenizers` BPE tokenizer so GGUF and Hugging Face models share one [`Tokenizer`].
//!
//! Gemma's vocabulary is SentencePiece BPE (`tokenizer.ggml.model` = `llama`): pieces with
//! scores, where encoding repeatedly merges the adjacent pair whose concatenation is the
//! best-scored piece. That is BPE with one merge `(left, right)` per way of splitting each
//! piece into two pieces, ranked by the piece's score. Spaces become `▁`; characters
//! without a piece fall back to their UTF-8 bytes (`<0xXX>` pieces). Control tokens
//! (`<start_of_turn>`) and user-defined ones (`\n`, runs of spaces) are matched in the
//! raw text before BPE, as llama.cpp does; control tokens are special (dropped when
//! decoding with `skip_special_tokens`).

use std::collections::HashMap;

use serde_json::{Value as Json, json};

use crate::gguf::{GgufFile, Value};
use crate::{ModelError, Tokenizer};

/// `tokenizer.ggml.token_type` values (llama.cpp's `llama_token_type`).
const NORMAL: u64 = 1;
const CONTROL: u64 = 3;
const USER_DEFINED: u64 = 4;

/// The pieces of the vocabulary with their scores and types.
struct Vocab<'a> {
    pieces: Vec<&'a str>,
    scores: Vec<f64>,
    types: Vec<u64>,
}

impl Tokenizer {
    /// The tokenizer of a GGUF file.
    pub fn from_gguf(file: &GgufFile) -> Result<Self, ModelError> {
        let error = |key: &str, problem: String| file.metadata_error(key, problem);
        let model = file.get("tokenizer.ggml.model").and_then(Value::as_str);
        if model != Some("llama") {
            return Err(error(
                "tokenizer.ggml.model",
                format!("{model:?} is not supported (supported: \"llama\", SentencePiece BPE)"),
            ));
        }
        let vocab = Vocab::read(file, &error)?;
        let id = |key: &str| -> Result<Option<u32>, ModelError> {
            file.get(key)
                .map(|v| {
                    v.as_u64()
                        .and_then(|id| u32::try_from(id).ok())
                        .filter(|&id| (id as usize) < vocab.pieces.len())
                        .ok_or_else(|| error(key, format!("{v:?} is not a token id")))
                })
                .transpose()
        };
        let flag = |key: &str| matches!(file.get(key), Some(Value::Bool(true)));
        let bos = id("tokenizer.ggml.bos_token_id")?;
        let unk = id("tokenizer.ggml.unknown_token_id")?;
        let add_bos = flag("tokenizer.ggml.add_bos_token");
        if flag("tokenizer.ggml.add_eos_token") || flag("tokenizer.ggml.add_sep_token") {
            return Err(error(
                "tokenizer.ggml.add_eos_token",
                "appending eos or sep to every text is not supported".to_owned(),
            ));
        }
        let description = vocab.describe(
            add_bos.then_some(bos).flatten(),
            unk,
            flag("tokenizer.ggml.add_space_prefix"),
        );
        let inner: tokenizers::Tokenizer = serde_json::from_value(description).map_err(|e| {
            ModelError::Tokenizer(format!(
                "{}: the vocabulary does not build: {e}",
                file.path().display()
            ))
        })?;
        Ok(Self::from_inner(inner))
    }
}

impl<'a> Vocab<'a> {
    fn read(
        file: &'a GgufFile,
        error: &impl Fn(&str, String) -> ModelError,
    ) -> Result<Self, ModelError> {
        let array = |key: &str| {
            file.get(key)
                .and_then(Value::as_array)
                .ok_or_else(|| error(key, "missing, or not an array".to_owned()))
        };
        let pieces: Vec<&str> = array("tokenizer.ggml.tokens")?
            .iter()
            .map(Value::as_str)
            .collect::<Option<_>>()
            .ok_or_else(|| error("tokenizer.ggml.tokens", "holds a non-string".to_owned()))?;
        let scores: Vec<f64> = array("tokenizer.ggml.scores")?
            .iter()
            .map(Value::as_f64)
            .collect::<Option<_>>()
            .ok_or_else(|| error("tokenizer.ggml.scores", "holds a non-float".to_owned()))?;
        let types: Vec<u64> = array("tokenizer.ggml.token_type")?
            .iter()
            .map(Value::as_u64)
            .collect::<Option<_>>()
            .ok_or_else(|| {
                error(
                    "tokenizer.ggml.token_type",
                    "holds a non-integer".to_owned(),
                )
            })?;
        if scores.len() != pieces.len() || types.len() != pieces.len() {
            return Err(error(
                "tokenizer.ggml.scores",
                format!(
                    "{} scores and {} types for {} tokens",
                    scores.len(),
                    types.len(),
                    pieces.len()
                ),
            ));
        }
        Ok(Self {
            pieces,
            scores,
            types,
        })
    }

    /// The tokenizer in `tokenizer.json`'s schema.
    fn describe(&self, bos: Option<u32>, unk: Option<u32>, space_prefix: bool) -> Json {
        let vocab: serde_json::Map<String, Json> = self
            .pieces
            .iter()
            .enumerate()
            .map(|(id, piece)| ((*piece).to_owned(), json!(id)))
            .collect();
        let added: Vec<Json> = self
            .types
            .iter()
            .enumerate()
            .filter(|&(_, &ty)| ty == CONTROL || ty == USER_DEFINED)
            .map(|(id, &ty)| {
                json!({
                    "id": id, "content": self.pieces[id], "single_word": false,
                    "lstrip": false, "rstrip": false, "normalized": false,
                    "special": ty == CONTROL,
                })
            })
            .collect();
        let mut normalizers = Vec::new();
        if space_prefix {
            normalizers.push(json!({"type": "Prepend", "prepend": "▁"}));
        }
        normalizers.push(json!({"type": "Replace", "pattern": {"String": " "}, "content": "▁"}));
        let mut decoders = vec![
            json!({"type": "Replace", "pattern": {"String": "▁"}, "content": " "}),
            json!({"type": "ByteFallback"}),
            json!({"type": "Fuse"}),
        ];
        if space_prefix {
            decoders.push(json!({"type": "Strip", "content": " ", "start": 1, "stop": 0}));
        }
        let post_processor = bos.map(|bos| {
            let piece = self.pieces[bos as usize];
            json!({
                "type": "TemplateProcessing",
                "single": [{"SpecialToken": {"id": piece, "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}}],
                "pair": [{"SpecialToken": {"id": piece, "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}},
                         {"Sequence": {"id": "B", "type_id": 0}}],
                "special_tokens": {piece: {"id": piece, "ids": [bos], "tokens": [piece]}},
            })
        });
        json!({
            "version": "1.0",
            "truncation": null,
            "padding": null,
            "added_tokens": added,
            "normalizer": {"type": "Sequence", "normalizers": normalizers},
            "pre_tokenizer": null,
            "post_processor": post_processor,
            "decoder": {"type": "Sequence", "decoders": decoders},
            "model": {
                "type": "BPE",
                "dropout": null,
                "unk_token": unk.map(|id| self.pieces[id as usize]),
                "continuing_subword_prefix": null,
                "end_of_word_suffix": null,
                "fuse_unk": true,
                "byte_fallback": true,
                "ignore_merges": false,
                "vocab": vocab,
                "merges": self.merges(),
            },
        })
    }

    /// Every split of a normal piece into two pieces, best-scored piece first (ties: the
    /// lower id, then the shorter left part).
    fn merges(&self) -> Vec<[&str; 2]> {
        let ids: HashMap<&str, usize> = self
            .pieces
            .iter()
            .enumerate()
            .map(|(id, piece)| (*piece, id))
            .collect();
        let mut merges: Vec<(usize, [&str; 2])> = Vec::new();
        for (id, piece) in self.pieces.iter().enumerate() {
            if self.types[id] != NORMAL {
                continue;
            }
            for (at, _) in piece.char_indices().skip(1) {
                let (left, right) = piece.split_at(at);
                if ids.contains_key(left) && ids.contains_key(right) {
                    merges.push((id, [left, right]));
                }
            }
        }
        merges.sort_by(|(a, _), (b, _)| self.scores[*b].total_cmp(&self.scores[*a]).then(a.cmp(b)));
        merges.into_iter().map(|(_, pair)| pair).collect()
    }
}
