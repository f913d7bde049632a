//! The files of one Hugging Face checkpoint, held as bytes so the native CLI (from a folder or a
//! GGUF file) and the browser (from fetched or picked files) share every later step. A CLIP folder
//! is config.json + model.safetensors + tokenizer.json (+ preprocessor_config.json); a generative
//! one may shard its weights and adds processor, tokenizer, chat-template and generation files.
//! The CLI maps the weights files rather than reading them (see `WeightBytes`).

use super::gguf::{self, GgufFile};
use super::sharded::{ShardIndex, ShardedFiles};
use super::weight_bytes::WeightBytes;
use crate::error::{Error, Result};
use std::path::Path;

pub const CONFIG_FILE: &str = "config.json";
pub const WEIGHTS_FILE: &str = "model.safetensors";
pub const WEIGHTS_INDEX_FILE: &str = "model.safetensors.index.json";
pub const TOKENIZER_FILE: &str = "tokenizer.json";
pub const PREPROCESSOR_FILE: &str = "preprocessor_config.json";
pub const PROCESSOR_FILE: &str = "processor_config.json";
pub const GENERATION_CONFIG_FILE: &str = "generation_config.json";
pub const TOKENIZER_CONFIG_FILE: &str = "tokenizer_config.json";
pub const SPECIAL_TOKENS_MAP_FILE: &str = "special_tokens_map.json";
pub const CHAT_TEMPLATE_JINJA_FILE: &str = "chat_template.jinja";
pub const CHAT_TEMPLATE_JSON_FILE: &str = "chat_template.json";
/// config.json, tokenizer.json and preprocessor_config.json larger than this are refused before
/// they are read (the largest published tokenizer.json files are about 20 MB).
pub const MAX_JSON_FILE_BYTES: u64 = 64 << 20;

#[derive(Clone)]
pub struct ModelFiles {
    /// A name for reports: the folder name, or what the caller chose.
    pub name: String,
    pub config_json: String,
    pub weights: WeightFiles,
    pub tokenizer_json: Vec<u8>,
    pub preprocessor_json: Option<String>,
    /// The files only a generative checkpoint has; all absent for CLIP.
    pub generative: GenerativeFiles,
}

/// Where a checkpoint's tensors are.
#[derive(Clone, Debug)]
pub enum WeightFiles {
    /// model.safetensors, or the whole GGUF file.
    Single(WeightBytes),
    /// model.safetensors.index.json and the shards it names.
    Sharded(ShardedFiles),
}

impl WeightFiles {
    /// The bytes of every weights file together.
    pub fn byte_len(&self) -> usize {
        match self {
            WeightFiles::Single(bytes) => bytes.len(),
            WeightFiles::Sharded(files) => files.shards.iter().map(|(_, bytes)| bytes.len()).sum(),
        }
    }
}

impl From<Vec<u8>> for WeightFiles {
    fn from(bytes: Vec<u8>) -> Self {
        WeightFiles::Single(bytes.into())
    }
}

impl From<WeightBytes> for WeightFiles {
    fn from(bytes: WeightBytes) -> Self {
        WeightFiles::Single(bytes)
    }
}

/// The text files a generative (LLaVA) checkpoint adds, each optional.
#[derive(Clone, Debug, Default)]
pub struct GenerativeFiles {
    /// `LlavaProcessor`'s config (patch size, image token, strategy; in transformers 5 also the
    /// image processor's fields under `image_processor` and possibly a `chat_template`).
    pub processor_json: Option<String>,
    pub generation_config_json: Option<String>,
    /// Special tokens (`bos_token`, ...), the tokenizer class, possibly a `chat_template`.
    pub tokenizer_config_json: Option<String>,
    /// transformers 4's special tokens, where tokenizer_config.json leaves them out.
    pub special_tokens_map_json: Option<String>,
    pub chat_template_jinja: Option<String>,
    pub chat_template_json: Option<String>,
}

impl GenerativeFiles {
    /// Each file there is with the GGUF metadata key it is stored under.
    pub fn gguf_entries(&self) -> Vec<(&'static str, &str)> {
        [
            (gguf::PROCESSOR_KEY, &self.processor_json),
            (gguf::GENERATION_CONFIG_KEY, &self.generation_config_json),
            (gguf::TOKENIZER_CONFIG_KEY, &self.tokenizer_config_json),
            (gguf::SPECIAL_TOKENS_MAP_KEY, &self.special_tokens_map_json),
            (gguf::CHAT_TEMPLATE_KEY, &self.chat_template_jinja),
            (gguf::CHAT_TEMPLATE_JSON_KEY, &self.chat_template_json),
        ]
        .into_iter()
        .filter_map(|(key, text)| text.as_deref().map(|text| (key, text)))
        .collect()
    }
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
        let optional = |file: &str| if folder.join(file).exists() { text(file).map(Some) } else { Ok(None) };
        let config_json = text(CONFIG_FILE)?;
        let weights = if folder.join(WEIGHTS_FILE).exists() {
            WeightFiles::Single(WeightBytes::map_file(&folder.join(WEIGHTS_FILE))?)
        } else if !folder.join(WEIGHTS_INDEX_FILE).exists() {
            return Err(Error::io(folder.display(), format!("has neither {WEIGHTS_FILE} nor {WEIGHTS_INDEX_FILE}")));
        } else {
            let index_json = text(WEIGHTS_INDEX_FILE)?;
            let names: Vec<String> =
                ShardIndex::parse(&index_json)?.shard_names().into_iter().map(str::to_string).collect();
            let shards = names
                .into_iter()
                .map(|name| Ok((name.clone(), WeightBytes::map_file(&folder.join(&name))?)))
                .collect::<Result<_>>()?;
            WeightFiles::Sharded(ShardedFiles { index_json, shards })
        };
        let name = std::fs::canonicalize(folder)
            .ok()
            .and_then(|p| p.file_name().map(|n| n.to_string_lossy().into_owned()))
            .unwrap_or_else(|| folder.display().to_string());
        Ok(ModelFiles {
            name,
            config_json,
            weights,
            tokenizer_json: read(TOKENIZER_FILE)?,
            preprocessor_json: optional(PREPROCESSOR_FILE)?,
            generative: GenerativeFiles {
                processor_json: optional(PROCESSOR_FILE)?,
                generation_config_json: optional(GENERATION_CONFIG_FILE)?,
                tokenizer_config_json: optional(TOKENIZER_CONFIG_FILE)?,
                special_tokens_map_json: optional(SPECIAL_TOKENS_MAP_FILE)?,
                chat_template_jinja: optional(CHAT_TEMPLATE_JINJA_FILE)?,
                chat_template_json: optional(CHAT_TEMPLATE_JSON_FILE)?,
            },
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
    /// A GGUF file written by `sightline quantize`: config.json, tokenizer.json,
    /// preprocessor_config.json and a generative checkpoint's other text files come from its
    /// metadata, the tensors stay in `weights`.
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
        let optional = |key: &str| -> Result<Option<String>> { Ok(file.metadata_string(key)?.map(str::to_string)) };
        let preprocessor_json = optional(gguf::PREPROCESSOR_KEY)?;
        let generative = GenerativeFiles {
            processor_json: optional(gguf::PROCESSOR_KEY)?,
            generation_config_json: optional(gguf::GENERATION_CONFIG_KEY)?,
            tokenizer_config_json: optional(gguf::TOKENIZER_CONFIG_KEY)?,
            special_tokens_map_json: optional(gguf::SPECIAL_TOKENS_MAP_KEY)?,
            chat_template_jinja: optional(gguf::CHAT_TEMPLATE_KEY)?,
            chat_template_json: optional(gguf::CHAT_TEMPLATE_JSON_KEY)?,
        };
        let name = match file.metadata_string(gguf::NAME_KEY)? {
            Some(stored) if name.is_empty() => stored.to_string(),
            _ => name,
        };
        drop(file);
        Ok(ModelFiles {
            name,
            config_json,
            weights: WeightFiles::Single(bytes),
            tokenizer_json,
            preprocessor_json,
            generative,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn folder(name: &str, files: &[(&str, &[u8])]) -> std::path::PathBuf {
        let dir = std::env::temp_dir().join(format!("sightline-files-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        for (file, bytes) in files {
            std::fs::write(dir.join(file), bytes).unwrap();
        }
        dir
    }

    #[test]
    fn a_generative_folder_brings_its_extra_files_and_shards() {
        let index = br#"{"weight_map": {"a": "w-1.safetensors", "b": "w-2.safetensors", "c": "w-1.safetensors"}}"#;
        let dir = folder(
            "sharded",
            &[
                (CONFIG_FILE, b"{}"),
                (TOKENIZER_FILE, b"{}"),
                (WEIGHTS_INDEX_FILE, index),
                ("w-1.safetensors", b"one"),
                ("w-2.safetensors", b"two"),
                (PROCESSOR_FILE, b"processor"),
                (CHAT_TEMPLATE_JINJA_FILE, b"{{ messages }}"),
                (GENERATION_CONFIG_FILE, b"generation"),
            ],
        );
        let files = ModelFiles::from_path(&dir).unwrap();
        let WeightFiles::Sharded(sharded) = &files.weights else { panic!("not sharded") };
        let shards: Vec<(&str, &[u8])> = sharded.shards.iter().map(|(n, b)| (n.as_str(), &b[..])).collect();
        assert_eq!(shards, [("w-1.safetensors", &b"one"[..]), ("w-2.safetensors", &b"two"[..])]);
        assert_eq!(files.weights.byte_len(), 6);
        let extra = &files.generative;
        assert_eq!(extra.processor_json.as_deref(), Some("processor"));
        assert_eq!(extra.chat_template_jinja.as_deref(), Some("{{ messages }}"));
        assert_eq!(extra.generation_config_json.as_deref(), Some("generation"));
        assert!(extra.tokenizer_config_json.is_none() && extra.chat_template_json.is_none());
        std::fs::remove_file(dir.join("w-2.safetensors")).unwrap();
        let missing = ModelFiles::from_path(&dir).err().unwrap().to_string();
        assert!(missing.contains("w-2.safetensors"), "{missing}");
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn a_folder_without_weights_names_both_forms() {
        let dir = folder("empty", &[(CONFIG_FILE, b"{}"), (TOKENIZER_FILE, b"{}")]);
        let error = ModelFiles::from_path(&dir).err().unwrap().to_string();
        assert!(error.contains("has neither model.safetensors nor model.safetensors.index.json"), "{error}");
        std::fs::remove_dir_all(dir).unwrap();
    }
}
