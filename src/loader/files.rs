//! The files of one Hugging Face checkpoint, held as bytes so the native CLI (from a folder or a
//! GGUF file) and the browser (from fetched or picked files) share every later step. The CLI maps
//! the weights file rather than reading it (see `WeightBytes`).

use super::gguf::{self, GgufFile};
use super::weight_bytes::WeightBytes;
use crate::error::{Error, Result};
use std::path::Path;

pub const CONFIG_FILE: &str = "config.json";
pub const WEIGHTS_FILE: &str = "model.safetensors";
pub const TOKENIZER_FILE: &str = "tokenizer.json";
pub const PREPROCESSOR_FILE: &str = "preprocessor_config.json";
/// config.json, tokenizer.json and preprocessor_config.json larger than this are refused before
/// they are read (the largest published tokenizer.json files are about 20 MB).
pub const MAX_JSON_FILE_BYTES: u64 = 64 << 20;

#[derive(Clone)]
pub struct ModelFiles {
    /// A name for reports: the folder name, or what the caller chose.
    pub name: String,
    pub config_json: String,
    /// model.safetensors, or the whole GGUF file.
    pub weights: WeightBytes,
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
            let name = path.file_stem().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
            return Self::from_gguf_bytes(name, WeightBytes::map_file(path)?);
        }
        let folder = if path.is_dir() { path } else { path.parent().unwrap_or(Path::new(".")) };
        let read = |file: &str| read_json_file(&folder.join(file));
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
            weights: WeightBytes::map_file(&folder.join(WEIGHTS_FILE))?,
            tokenizer_json: read(TOKENIZER_FILE)?,
            preprocessor_json,
        })
    }
}

/// A JSON file of a checkpoint, refused when it is not a regular file or larger than
/// `MAX_JSON_FILE_BYTES`.
fn read_json_file(path: &Path) -> Result<Vec<u8>> {
    let metadata = std::fs::metadata(path).map_err(|e| Error::io(path.display(), e))?;
    if !metadata.is_file() {
        return Err(Error::io(path.display(), "is not a regular file"));
    }
    if metadata.len() > MAX_JSON_FILE_BYTES {
        return Err(Error::io(
            path.display(),
            format!("is {} bytes; JSON files over {} MiB are refused", metadata.len(), MAX_JSON_FILE_BYTES >> 20),
        ));
    }
    std::fs::read(path).map_err(|e| Error::io(path.display(), e))
}

impl ModelFiles {
    /// A GGUF file written by `sightline quantize`: config.json, tokenizer.json and
    /// preprocessor_config.json come from its metadata, the tensors stay in `weights`.
    pub fn from_gguf_bytes(name: String, bytes: impl Into<WeightBytes>) -> Result<Self> {
        let bytes = bytes.into();
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
