//! The files of one Hugging Face checkpoint, held as bytes so the native CLI (from a folder) and the
//! browser (from fetched or picked files) share every later step.

use crate::error::{Error, Result};
use std::path::Path;

pub const CONFIG_FILE: &str = "config.json";
pub const WEIGHTS_FILE: &str = "model.safetensors";
pub const TOKENIZER_FILE: &str = "tokenizer.json";
pub const PREPROCESSOR_FILE: &str = "preprocessor_config.json";

#[derive(Clone)]
pub struct ModelFiles {
    /// A name for reports: the folder name, or what the caller chose.
    pub name: String,
    pub config_json: String,
    pub weights: Vec<u8>,
    pub tokenizer_json: Vec<u8>,
    pub preprocessor_json: Option<String>,
}

impl ModelFiles {
    /// Reads a checkpoint folder; `path` may also be one of its files, meaning its folder.
    pub fn from_path(path: &Path) -> Result<Self> {
        if !path.exists() {
            return Err(Error::io(path.display(), "no such model folder"));
        }
        let folder = if path.is_dir() { path } else { path.parent().unwrap_or(Path::new(".")) };
        let read = |file: &str| std::fs::read(folder.join(file)).map_err(|e| Error::io(folder.join(file).display(), e));
        let text = |file: &str| -> Result<String> {
            String::from_utf8(read(file)?).map_err(|_| Error::io(folder.join(file).display(), "is not UTF-8 text"))
        };
        let preprocessor_json =
            if folder.join(PREPROCESSOR_FILE).exists() { Some(text(PREPROCESSOR_FILE)?) } else { None };
        let name = std::fs::canonicalize(folder)
            .ok()
            .and_then(|p| p.file_name().map(|n| n.to_string_lossy().into_owned()))
            .unwrap_or_else(|| folder.display().to_string());
        Ok(ModelFiles {
            name,
            config_json: text(CONFIG_FILE)?,
            weights: read(WEIGHTS_FILE)?,
            tokenizer_json: read(TOKENIZER_FILE)?,
            preprocessor_json,
        })
    }
}
