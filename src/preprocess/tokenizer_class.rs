//! tokenizer.json as transformers 5 loads it. For tokenizer classes with their own constructor,
//! transformers keeps only the vocabulary, merges, added tokens and post-processor of the file and
//! rebuilds the rest as the class defines it. For LlamaTokenizer that changes ids: llava-hf's
//! Llama 2 tokenizer.json prepends "▁" to every text segment (so "<image>\nWhat" gains a "▁"
//! before "\n"), while transformers 5's class prepends it to the first segment only
//! (`legacy=False`, its default). Other classes load as the file says.

use super::TokenizerConfig;
use crate::error::{Error, Result};
use serde_json::{json, Value};
use tokenizers::Tokenizer;

/// The tokenizer transformers 5 would build from `tokenizer_json` for `config`'s class, with
/// truncation and padding off (transformers turns them off unless asked).
pub fn load_tokenizer_of_class(tokenizer_json: &[u8], config: &TokenizerConfig) -> Result<Tokenizer> {
    let mut tokenizer = match config.tokenizer_class.as_deref() {
        Some("LlamaTokenizer" | "LlamaTokenizerFast") => {
            let mut file = parse(tokenizer_json)?;
            rebuild_llama(&mut file, config)?;
            Tokenizer::from_bytes(file.to_string().as_bytes())
        }
        Some("GPT2Tokenizer" | "GPT2TokenizerFast") => {
            let mut file = parse(tokenizer_json)?;
            rebuild_gpt2(&mut file, config)?;
            Tokenizer::from_bytes(file.to_string().as_bytes())
        }
        _ => Tokenizer::from_bytes(tokenizer_json),
    }
    .map_err(|e| Error::Tokenizer(format!("tokenizer.json cannot be loaded: {e}")))?;
    tokenizer.with_truncation(None).map_err(|e| Error::Tokenizer(e.to_string()))?;
    tokenizer.with_padding(None);
    Ok(tokenizer)
}

fn parse(tokenizer_json: &[u8]) -> Result<Value> {
    serde_json::from_slice(tokenizer_json)
        .map_err(|e| Error::Tokenizer(format!("tokenizer.json is not valid JSON: {e}")))
}

fn bpe_model<'f>(file: &'f mut Value, class: &str) -> Result<&'f mut serde_json::Map<String, Value>> {
    match file.get_mut("model").and_then(Value::as_object_mut) {
        Some(model) if model.get("type").and_then(Value::as_str) == Some("BPE") => Ok(model),
        _ => {
            Err(Error::Tokenizer(format!("tokenizer_config.json names {class}, but tokenizer.json is not a BPE model")))
        }
    }
}

/// transformers 5's `LlamaTokenizer.__init__`: byte-fallback BPE, no normalizer, a Metaspace
/// pre-tokenizer that prepends "▁" to the first segment (`legacy=False`) or to every one
/// (`legacy=True`), and the matching decoder.
fn rebuild_llama(file: &mut Value, config: &TokenizerConfig) -> Result<()> {
    let model = bpe_model(file, "LlamaTokenizer")?;
    model.insert("fuse_unk".into(), true.into());
    model.insert("byte_fallback".into(), true.into());
    model.insert("dropout".into(), Value::Null);
    model.insert("unk_token".into(), Value::Null);
    let add_prefix_space = config.add_prefix_space.unwrap_or(true);
    let prepend_scheme = match (add_prefix_space, config.legacy.unwrap_or(false)) {
        (false, _) => "never",
        (true, false) => "first",
        (true, true) => "always",
    };
    file["normalizer"] = Value::Null;
    file["pre_tokenizer"] =
        json!({"type": "Metaspace", "replacement": "▁", "prepend_scheme": prepend_scheme, "split": false});
    let mut decoders = vec![
        json!({"type": "Replace", "pattern": {"String": "▁"}, "content": " "}),
        json!({"type": "ByteFallback"}),
        json!({"type": "Fuse"}),
    ];
    if add_prefix_space {
        decoders.push(json!({"type": "Strip", "content": " ", "start": 1, "stop": 0}));
    }
    file["decoder"] = json!({"type": "Sequence", "decoders": decoders});
    Ok(())
}

/// transformers 5's `GPT2Tokenizer.__init__`: plain BPE, no normalizer, a byte-level
/// pre-tokenizer and decoder.
fn rebuild_gpt2(file: &mut Value, config: &TokenizerConfig) -> Result<()> {
    let model = bpe_model(file, "GPT2Tokenizer")?;
    model.insert("fuse_unk".into(), false.into());
    model.insert("dropout".into(), Value::Null);
    model.insert("continuing_subword_prefix".into(), "".into());
    model.insert("end_of_word_suffix".into(), "".into());
    let add_prefix_space = config.add_prefix_space.unwrap_or(false);
    file["normalizer"] = Value::Null;
    file["pre_tokenizer"] =
        json!({"type": "ByteLevel", "add_prefix_space": add_prefix_space, "trim_offsets": true, "use_regex": true});
    file["decoder"] = json!({"type": "ByteLevel", "add_prefix_space": true, "trim_offsets": true, "use_regex": true});
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A Llama 2-style tokenizer.json: the "▁" comes from a normalizer on every segment.
    fn llama2_style() -> Vec<u8> {
        let mut vocab = serde_json::Map::new();
        for (i, token) in [
            "<unk>", "<s>", "</s>", "<0x0A>", "▁", "U", "S", "E", "R", ":", "W", "h", "a", "t", "US", "ER", "USER",
            "▁USER", "Wh", "at", "What", "▁What", "<image>",
        ]
        .iter()
        .enumerate()
        {
            vocab.insert(token.to_string(), i.into());
        }
        json!({
            "version": "1.0", "truncation": {"max_length": 3, "strategy": "LongestFirst", "stride": 0,
                                             "direction": "Right"}, "padding": null,
            "added_tokens": [
                {"id": 1, "content": "<s>", "single_word": false, "lstrip": false, "rstrip": false, "normalized": false, "special": true},
                {"id": 22, "content": "<image>", "single_word": false, "lstrip": false, "rstrip": false, "normalized": false, "special": true}
            ],
            "normalizer": {"type": "Sequence", "normalizers": [{"type": "Prepend", "prepend": "▁"},
                                                               {"type": "Replace", "pattern": {"String": " "}, "content": "▁"}]},
            "pre_tokenizer": null,
            "post_processor": {"type": "TemplateProcessing", "single": [{"SpecialToken": {"id": "<s>", "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}}],
                               "pair": [{"Sequence": {"id": "A", "type_id": 0}}, {"Sequence": {"id": "B", "type_id": 1}}],
                               "special_tokens": {"<s>": {"id": "<s>", "ids": [1], "tokens": ["<s>"]}}},
            "decoder": {"type": "Sequence", "decoders": [{"type": "Replace", "pattern": {"String": "▁"}, "content": " "},
                        {"type": "ByteFallback"}, {"type": "Fuse"}, {"type": "Strip", "content": " ", "start": 1, "stop": 0}]},
            "model": {"type": "BPE", "dropout": null, "unk_token": "<unk>", "continuing_subword_prefix": null,
                      "end_of_word_suffix": null, "fuse_unk": true, "byte_fallback": true, "ignore_merges": false,
                      "vocab": vocab,
                      "merges": [["U", "S"], ["E", "R"], ["US", "ER"], ["▁", "USER"], ["W", "h"], ["a", "t"], ["Wh", "at"], ["▁", "What"]]}
        })
        .to_string()
        .into_bytes()
    }

    fn ids(class: Option<&str>, legacy: Option<bool>, text: &str) -> Vec<u32> {
        let config = TokenizerConfig { tokenizer_class: class.map(str::to_string), legacy, ..Default::default() };
        let tokenizer = load_tokenizer_of_class(&llama2_style(), &config).unwrap();
        tokenizer.encode(text, true).unwrap().get_ids().to_vec()
    }

    #[test]
    fn llama_tokenizer_prepends_to_the_first_segment_only_as_transformers_5_does() {
        // Ids checked against transformers 5.25's LlamaTokenizer on this tokenizer.json (legacy=False):
        // [1, 17, 9, 4, 22, 3, 20] for "USER: <image>\nWhat"; the file alone adds "▁" (4) after <image>.
        assert_eq!(ids(Some("LlamaTokenizer"), Some(false), "USER: <image>\nWhat"), [1, 17, 9, 4, 22, 3, 20]);
        assert_eq!(ids(None, None, "USER: <image>\nWhat"), [1, 17, 9, 4, 22, 4, 3, 20]);
        assert_eq!(ids(Some("LlamaTokenizerFast"), Some(true), "USER: <image>\nWhat"), [1, 17, 9, 4, 22, 4, 3, 20]);
    }

    #[test]
    fn truncation_in_the_file_is_off_and_bad_files_are_errors() {
        assert_eq!(ids(None, None, "USER: USER: USER:").len(), 7, "the file's max_length of 3 is not applied");
        let config = TokenizerConfig { tokenizer_class: Some("LlamaTokenizer".into()), ..Default::default() };
        let not_json = load_tokenizer_of_class(b"{", &config).unwrap_err().to_string();
        assert!(not_json.contains("not valid JSON"), "{not_json}");
        let word_level = json!({"model": {"type": "WordLevel", "vocab": {}}}).to_string();
        let error = load_tokenizer_of_class(word_level.as_bytes(), &config).unwrap_err().to_string();
        assert!(error.contains("not a BPE model"), "{error}");
        assert!(load_tokenizer_of_class(b"[]", &TokenizerConfig::default()).is_err());
    }
}
