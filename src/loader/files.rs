//! The files of one Hugging Face checkpoint, held as bytes so the native CLI (from a folder or a
//! GGUF file) and the browser (from fetched or picked files) share every later step.

use super::gguf::{self, GgufFile};
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
    /// model.safetensors, or the whole GGUF file.
    pub weights: Vec<u8>,
    pub tokenizer_json: Vec<u8>,
    pub preprocessor_json: Option<String>,
}

impl ModelFiles {
    /// Reads a checkpoint folder or a `.gguf` file; `path` may also be one of a folder's files,
    /// meaning its folder.
    pub fn from_path(path: &Path) -> Result<Self> {
        if !path.exists() {
            return Err(Error::io(path.display(), "no such model folder or GGUF file"));
        }
        if path.is_file() && path.extension().is_some_and(|e| e.eq_ignore_ascii_case("gguf")) {
            let bytes = std::fs::read(path).map_err(|e| Error::io(path.display(), e))?;
            let name = path.file_stem().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
            return Self::from_gguf_bytes(name, bytes);
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

impl ModelFiles {
    /// A GGUF file written by `sightline quantize`: config.json, tokenizer.json and
    /// preprocessor_config.json come from its metadata, the tensors stay in `weights`.
    pub fn from_gguf_bytes(name: String, bytes: Vec<u8>) -> Result<Self> {
        let file = GgufFile::parse(&bytes)?;
        let required = |key: &str, what: &str| -> Result<String> {
            file.metadata_string(key)?
                .map(str::to_string)
                .ok_or_else(|| Error::Gguf(format!("no {what} in the metadata (key `{key}`)")))
        };
        let config_json = required(gguf::CONFIG_KEY, "config.json")?;
        let tokenizer_json = required(gguf::TOKENIZER_KEY, "tokenizer.json")?.into_bytes();
        let preprocessor_json = file.metadata_string(gguf::PREPROCESSOR_KEY)?.map(str::to_string);
        let name = match file.metadata_string(gguf::NAME_KEY)? {
            Some(stored) if name.is_empty() => stored.to_string(),
            _ => name,
        };
        drop(file);
        Ok(ModelFiles { name, config_json, weights: bytes, tokenizer_json, preprocessor_json })
    }
}
