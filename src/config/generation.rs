//! `generation_config.json`: when generation stops and how a checkpoint suggests sampling. Without
//! the file (or without `eos_token_id` in it) the decoder config's end-of-sequence ids apply, as
//! transformers' `GenerationConfig.from_model_config` does.

use super::llama::{LlamaConfig, TokenIds};
use crate::error::{Error, Result};
use serde::Deserialize;

#[derive(Clone, Debug, Default, PartialEq)]
pub struct GenerationConfig {
    /// Generation stops at any of these (possibly none: then only the token limit stops it).
    pub eos_token_ids: Vec<u32>,
    pub bos_token_id: Option<u32>,
    pub pad_token_id: Option<u32>,
    pub max_new_tokens: Option<usize>,
    /// The checkpoint's suggestion; Sightline is greedy unless asked to sample.
    pub do_sample: bool,
    pub temperature: Option<f64>,
    pub top_k: Option<usize>,
    pub top_p: Option<f64>,
}

#[derive(Deserialize)]
struct RawGeneration {
    eos_token_id: Option<TokenIds>,
    bos_token_id: Option<u32>,
    pad_token_id: Option<u32>,
    max_new_tokens: Option<usize>,
    do_sample: Option<bool>,
    temperature: Option<f64>,
    top_k: Option<usize>,
    top_p: Option<f64>,
}

impl GenerationConfig {
    /// From the model's decoder config alone.
    pub fn from_text_config(text: &LlamaConfig) -> Self {
        GenerationConfig {
            eos_token_ids: text.eos_token_ids.clone(),
            bos_token_id: text.bos_token_id,
            pad_token_id: text.pad_token_id,
            ..Default::default()
        }
    }

    /// generation_config.json when the checkpoint has one, the decoder config filling what it
    /// leaves out; every id checked against the vocabulary.
    pub fn resolve(json: Option<&str>, text: &LlamaConfig) -> Result<Self> {
        let base = Self::from_text_config(text);
        let Some(json) = json else { return Ok(base) };
        let bad = |message: String| Error::Config(format!("generation_config.json: {message}"));
        let raw: RawGeneration = serde_json::from_str(json).map_err(|e| bad(e.to_string()))?;
        let config = GenerationConfig {
            eos_token_ids: raw.eos_token_id.map(TokenIds::into_vec).unwrap_or(base.eos_token_ids),
            bos_token_id: raw.bos_token_id.or(base.bos_token_id),
            pad_token_id: raw.pad_token_id.or(base.pad_token_id),
            max_new_tokens: raw.max_new_tokens,
            do_sample: raw.do_sample.unwrap_or(false),
            temperature: raw.temperature,
            top_k: raw.top_k,
            top_p: raw.top_p,
        };
        let ids = config.eos_token_ids.iter().map(|id| ("eos_token_id", *id));
        let ids = ids.chain(config.bos_token_id.map(|id| ("bos_token_id", id)));
        for (name, id) in ids.chain(config.pad_token_id.map(|id| ("pad_token_id", id))) {
            if id as usize >= text.vocab_size {
                return Err(bad(format!("{name} {id} is outside the vocabulary of {}", text.vocab_size)));
            }
        }
        if let Some(t) = config.temperature.filter(|t| !(t.is_finite() && *t >= 0.0)) {
            return Err(bad(format!("temperature must be a non-negative number, got {t}")));
        }
        if let Some(p) = config.top_p.filter(|p| !(*p > 0.0 && *p <= 1.0)) {
            return Err(bad(format!("top_p must be in (0, 1], got {p}")));
        }
        Ok(config)
    }

    pub fn is_eos(&self, id: u32) -> bool {
        self.eos_token_ids.contains(&id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn text() -> LlamaConfig {
        LlamaConfig::from_value(Some(&json!({"vocab_size": 50, "hidden_size": 8, "num_attention_heads": 2,
                                              "eos_token_id": 2, "bos_token_id": 1})))
        .unwrap()
    }

    #[test]
    fn the_file_overrides_the_decoder_config_and_takes_an_eos_list() {
        let c = GenerationConfig::resolve(Some(r#"{"eos_token_id": [2, 7], "max_new_tokens": 5}"#), &text()).unwrap();
        assert_eq!((c.eos_token_ids.as_slice(), c.max_new_tokens, c.bos_token_id), (&[2, 7][..], Some(5), Some(1)));
        assert!(c.is_eos(7) && !c.is_eos(1));
        let sampling =
            r#"{"do_sample": true, "temperature": 0.7, "top_k": 40, "top_p": 0.9, "transformers_version": "5"}"#;
        let c = GenerationConfig::resolve(Some(sampling), &text()).unwrap();
        assert_eq!((c.do_sample, c.temperature, c.top_k, c.top_p), (true, Some(0.7), Some(40), Some(0.9)));
        assert_eq!(c.eos_token_ids, [2], "no eos in the file: the decoder config's");
        assert_eq!(GenerationConfig::resolve(None, &text()).unwrap().eos_token_ids, [2]);
    }

    #[test]
    fn bad_generation_configs_are_clear_errors() {
        let error = |json: &str| GenerationConfig::resolve(Some(json), &text()).unwrap_err().to_string();
        assert!(error(r#"{"eos_token_id": 50}"#).contains("eos_token_id 50 is outside the vocabulary of 50"));
        assert!(error(r#"{"temperature": -1}"#).contains("temperature"));
        assert!(error(r#"{"top_p": 0}"#).contains("top_p"));
        assert!(error(r#"{"eos_token_id": "x"}"#).contains("generation_config.json"));
        assert!(error("[").contains("generation_config.json"));
    }
}
