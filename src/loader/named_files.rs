//! A checkpoint's files given by name rather than read from a folder: what the browser has after
//! downloading a model folder or reading picked files. The same files make the same `ModelFiles`
//! as `ModelFiles::from_path` of the folder holding them.

use super::files::*;
use super::sharded::{ShardIndex, ShardedFiles};
use crate::error::{Error, Result};
use std::collections::BTreeMap;

impl ModelFiles {
    /// A checkpoint from its files by file name (config.json, model.safetensors or
    /// model.safetensors.index.json and its shards, tokenizer.json, and the optional processor,
    /// generation, tokenizer-config and chat-template files). Files no checkpoint has are ignored.
    pub fn from_named_files(name: String, mut files: BTreeMap<String, Vec<u8>>) -> Result<Self> {
        let mut text = |file: &str| -> Result<Option<String>> {
            files
                .remove(file)
                .map(|bytes| String::from_utf8(bytes).map_err(|_| Error::io(file, "is not UTF-8 text")))
                .transpose()
        };
        let config_json = text(CONFIG_FILE)?.ok_or_else(|| Error::io(CONFIG_FILE, "is missing"))?;
        let index_json = text(WEIGHTS_INDEX_FILE)?;
        let preprocessor_json = text(PREPROCESSOR_FILE)?;
        let generative = GenerativeFiles {
            processor_json: text(PROCESSOR_FILE)?,
            generation_config_json: text(GENERATION_CONFIG_FILE)?,
            tokenizer_config_json: text(TOKENIZER_CONFIG_FILE)?,
            special_tokens_map_json: text(SPECIAL_TOKENS_MAP_FILE)?,
            chat_template_jinja: text(CHAT_TEMPLATE_JINJA_FILE)?,
            chat_template_json: text(CHAT_TEMPLATE_JSON_FILE)?,
        };
        let tokenizer_json = files.remove(TOKENIZER_FILE).ok_or_else(|| Error::io(TOKENIZER_FILE, "is missing"))?;
        let weights = if let Some(bytes) = files.remove(WEIGHTS_FILE) {
            WeightFiles::Single(bytes.into())
        } else if let Some(index_json) = index_json {
            let names: Vec<String> =
                ShardIndex::parse(&index_json)?.shard_names().into_iter().map(str::to_string).collect();
            let shards = names
                .into_iter()
                .map(|shard| {
                    let bytes = files.remove(&shard).ok_or_else(|| {
                        Error::io(&shard, format!("is missing: {WEIGHTS_INDEX_FILE} names it as a shard"))
                    })?;
                    Ok((shard, bytes.into()))
                })
                .collect::<Result<_>>()?;
            WeightFiles::Sharded(ShardedFiles { index_json, shards })
        } else {
            return Err(Error::io(name, format!("has neither {WEIGHTS_FILE} nor {WEIGHTS_INDEX_FILE}")));
        };
        Ok(ModelFiles { name, config_json, weights, tokenizer_json, preprocessor_json, generative })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn named(files: &[(&str, &[u8])]) -> BTreeMap<String, Vec<u8>> {
        files.iter().map(|(name, bytes)| (name.to_string(), bytes.to_vec())).collect()
    }

    #[test]
    fn shards_are_taken_by_the_names_the_index_gives() {
        let index = br#"{"weight_map": {"a": "w-1.safetensors", "b": "w-2.safetensors"}}"#;
        let files = named(&[
            (CONFIG_FILE, b"{}"),
            (TOKENIZER_FILE, b"{}"),
            (WEIGHTS_INDEX_FILE, index),
            ("w-1.safetensors", b"one"),
            ("w-2.safetensors", b"two"),
            (CHAT_TEMPLATE_JINJA_FILE, b"{{ messages }}"),
            ("README.md", b"ignored"),
        ]);
        let model = ModelFiles::from_named_files("m".into(), files).unwrap();
        let WeightFiles::Sharded(sharded) = &model.weights else { panic!("not sharded") };
        let shards: Vec<(&str, &[u8])> = sharded.shards.iter().map(|(n, b)| (n.as_str(), &b[..])).collect();
        assert_eq!(shards, [("w-1.safetensors", &b"one"[..]), ("w-2.safetensors", &b"two"[..])]);
        assert_eq!(model.generative.chat_template_jinja.as_deref(), Some("{{ messages }}"));
    }

    #[test]
    fn each_missing_file_is_named() {
        let error = |files: &[(&str, &[u8])]| {
            ModelFiles::from_named_files("m".into(), named(files)).err().expect("refused").to_string()
        };
        assert!(error(&[(TOKENIZER_FILE, b"{}")]).contains("config.json: is missing"));
        assert!(error(&[(CONFIG_FILE, b"{}"), (WEIGHTS_FILE, b"")]).contains("tokenizer.json: is missing"));
        let neither = error(&[(CONFIG_FILE, b"{}"), (TOKENIZER_FILE, b"{}")]);
        assert!(neither.contains("has neither model.safetensors nor model.safetensors.index.json"), "{neither}");
        let index = br#"{"weight_map": {"a": "w-1.safetensors"}}"#;
        let shard = error(&[(CONFIG_FILE, b"{}"), (TOKENIZER_FILE, b"{}"), (WEIGHTS_INDEX_FILE, index)]);
        assert!(shard.contains("w-1.safetensors: is missing"), "{shard}");
        let binary = error(&[(CONFIG_FILE, &[0xff, 0xfe]), (TOKENIZER_FILE, b"{}"), (WEIGHTS_FILE, b"")]);
        assert!(binary.contains("config.json: is not UTF-8 text"), "{binary}");
    }

    #[test]
    fn a_folders_files_by_name_are_the_folder() {
        for fixture in ["llava-random-a", "llava-random-c"] {
            let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures").join(fixture);
            let files = std::fs::read_dir(&dir)
                .unwrap()
                .map(|entry| {
                    let path = entry.unwrap().path();
                    (path.file_name().unwrap().to_string_lossy().into_owned(), std::fs::read(&path).unwrap())
                })
                .collect();
            let by_name = ModelFiles::from_named_files(fixture.into(), files).unwrap();
            let read = ModelFiles::from_path(&dir).unwrap();
            assert_eq!(by_name.config_json, read.config_json);
            assert_eq!(by_name.tokenizer_json, read.tokenizer_json);
            assert_eq!(by_name.preprocessor_json, read.preprocessor_json);
            assert_eq!(format!("{:?}", by_name.generative), format!("{:?}", read.generative));
            let shards = |files: &ModelFiles| match &files.weights {
                WeightFiles::Single(bytes) => vec![(String::new(), bytes.to_vec())],
                WeightFiles::Sharded(sharded) => {
                    sharded.shards.iter().map(|(name, bytes)| (name.clone(), bytes.to_vec())).collect()
                }
            };
            assert_eq!(shards(&by_name), shards(&read), "{fixture}");
        }
    }
}
