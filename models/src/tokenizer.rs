//! tokenizer.json through the `tokenizers` crate, and streaming text out of generated ids.

use std::path::Path;

use tokenizers::{
    DecodeStream, DecoderWrapper, ModelWrapper, NormalizerWrapper, PostProcessorWrapper,
    PreTokenizerWrapper,
};

use crate::ModelError;

/// A checkpoint's tokenizer.
#[derive(Debug, Clone)]
pub struct Tokenizer {
    inner: tokenizers::Tokenizer,
}

type Stream<'a> = DecodeStream<
    'a,
    ModelWrapper,
    NormalizerWrapper,
    PreTokenizerWrapper,
    PostProcessorWrapper,
    DecoderWrapper,
>;

/// Turns generated ids into text as they arrive. A multi-byte character split over several
/// byte-level tokens comes out whole, once its last byte has arrived.
pub struct TextStream<'a> {
    inner: Stream<'a>,
}

impl std::fmt::Debug for TextStream<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TextStream").finish_non_exhaustive()
    }
}

impl TextStream<'_> {
    /// The text `id` completes, if any.
    pub fn push(&mut self, id: u32) -> Result<Option<String>, ModelError> {
        self.inner
            .step(id)
            .map_err(|e| ModelError::Tokenizer(format!("cannot decode token {id}: {e}")))
    }
}

impl Tokenizer {
    /// Loads `dir/tokenizer.json`, or the vocabulary of `dir` when it is a GGUF file.
    pub fn from_dir(dir: &Path) -> Result<Self, ModelError> {
        if crate::gguf::is_gguf(dir) {
            return Self::from_gguf(&crate::gguf::GgufFile::open(dir)?);
        }
        Self::from_file(&dir.join("tokenizer.json"))
    }

    pub(crate) fn from_inner(inner: tokenizers::Tokenizer) -> Self {
        Self { inner }
    }

    /// Loads a tokenizer.json file.
    pub fn from_file(path: &Path) -> Result<Self, ModelError> {
        if !path.exists() {
            return Err(ModelError::MissingFile {
                path: path.to_owned(),
                what: "the tokenizer",
            });
        }
        let inner = tokenizers::Tokenizer::from_file(path)
            .map_err(|e| ModelError::Tokenizer(format!("{}: {e}", path.display())))?;
        Ok(Self { inner })
    }

    /// The ids of `text`; `add_special_tokens` adds what the tokenizer's post-processor adds
    /// (a Llama bos). Special tokens written in the text are matched as special tokens.
    pub fn encode(&self, text: &str, add_special_tokens: bool) -> Result<Vec<u32>, ModelError> {
        let encoding = self
            .inner
            .encode(text, add_special_tokens)
            .map_err(|e| ModelError::Tokenizer(format!("cannot encode the text: {e}")))?;
        Ok(encoding.get_ids().to_vec())
    }

    /// The text of `ids`.
    pub fn decode(&self, ids: &[u32], skip_special_tokens: bool) -> Result<String, ModelError> {
        self.inner
            .decode(ids, skip_special_tokens)
            .map_err(|e| ModelError::Tokenizer(format!("cannot decode the ids: {e}")))
    }

    /// The id of a token given by its text (`<|im_end|>`), if the vocabulary has it.
    pub fn token_id(&self, token: &str) -> Option<u32> {
        self.inner.token_to_id(token)
    }

    /// Ids of the vocabulary, added tokens included.
    pub fn vocab_size(&self) -> usize {
        self.inner.get_vocab_size(true)
    }

    /// A stream that decodes ids one at a time.
    pub fn stream(&self, skip_special_tokens: bool) -> TextStream<'_> {
        TextStream {
            inner: self.inner.decode_stream(skip_special_tokens),
        }
    }
}
