//! The model that ships inside the binary and the wasm, so nothing needs downloading.

use crate::error::{Error, Result};
use crate::loader::ModelFiles;

pub fn default_model_files() -> Result<ModelFiles> {
    Err(Error::Config(
        "no default model is embedded in this build yet; pass --model PATH (a Hugging Face CLIP folder)".into(),
    ))
}
