//! Reading the JSON files of a model directory with errors that name the file and the key.

use std::path::Path;

use serde::de::DeserializeOwned;

use crate::ModelError;

/// The text of `path`; a missing file is [`ModelError::MissingFile`] with `what` it is for.
pub(crate) fn read_text(path: &Path, what: &'static str) -> Result<String, ModelError> {
    std::fs::read_to_string(path).map_err(|e| ModelError::io(path, what, e))
}

/// `text` (the contents of `path`) parsed as `T`; a type error names the key path inside it.
pub(crate) fn parse<T: DeserializeOwned>(path: &Path, text: &str) -> Result<T, ModelError> {
    let de = &mut serde_json::Deserializer::from_str(text);
    serde_path_to_error::deserialize(de).map_err(|e| ModelError::Json {
        path: path.to_owned(),
        key: match e.path().to_string() {
            p if p == "." => "(top level)".to_owned(),
            p => p,
        },
        message: e.inner().to_string(),
    })
}

/// The file at `path` parsed as `T`.
pub(crate) fn read<T: DeserializeOwned>(path: &Path, what: &'static str) -> Result<T, ModelError> {
    parse(path, &read_text(path, what)?)
}
