//! `tokenizer_config.json` (and transformers 4's `special_tokens_map.json`): the special tokens a
//! chat template may print, the tokenizer class transformers rebuilds the pipeline for, and
//! possibly a chat template.

use crate::error::{Error, Result};
use serde::Deserialize;

#[derive(Clone, Debug, Default, PartialEq)]
pub struct TokenizerConfig {
    pub bos_token: Option<String>,
    pub eos_token: Option<String>,
    pub unk_token: Option<String>,
    pub pad_token: Option<String>,
    /// The multimodal tokenizer's `image_token` (a top-level key, or named in `extra_special_tokens`).
    pub image_token: Option<String>,
    /// transformers' class for the tokenizer ("LlamaTokenizer", "GPT2TokenizerFast", ...).
    pub tokenizer_class: Option<String>,
    /// LlamaTokenizer's `legacy` flag (transformers 5 defaults it to false).
    pub legacy: Option<bool>,
    pub add_prefix_space: Option<bool>,
    /// The template under `chat_template` (a string, or the one named "default" in a list).
    pub chat_template: Option<String>,
}

/// A special token as tokenizer configs write it: the text, or an `AddedToken` object.
#[derive(Deserialize)]
#[serde(untagged)]
enum TokenField {
    Text(String),
    Added { content: String },
}

#[derive(Deserialize)]
#[serde(untagged)]
enum TemplateField {
    One(String),
    Named(Vec<NamedTemplate>),
}

#[derive(Deserialize)]
struct NamedTemplate {
    name: String,
    template: String,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum ExtraTokens {
    Named(std::collections::BTreeMap<String, TokenField>),
    /// transformers 5's plain list names no roles.
    Listed(serde::de::IgnoredAny),
}

#[derive(Deserialize)]
struct RawTokenizerConfig {
    bos_token: Option<TokenField>,
    eos_token: Option<TokenField>,
    unk_token: Option<TokenField>,
    pad_token: Option<TokenField>,
    image_token: Option<TokenField>,
    extra_special_tokens: Option<ExtraTokens>,
    tokenizer_class: Option<String>,
    legacy: Option<bool>,
    add_prefix_space: Option<bool>,
    chat_template: Option<TemplateField>,
}

impl TokenizerConfig {
    /// tokenizer_config.json, with special_tokens_map.json filling the tokens it leaves out.
    pub fn from_json(tokenizer_config: Option<&str>, special_tokens_map: Option<&str>) -> Result<Self> {
        let config = match tokenizer_config {
            Some(text) => parse(text, "tokenizer_config.json")?,
            None => TokenizerConfig::default(),
        };
        let Some(map) = special_tokens_map else { return Ok(config) };
        let map = parse(map, "special_tokens_map.json")?;
        Ok(TokenizerConfig {
            bos_token: config.bos_token.or(map.bos_token),
            eos_token: config.eos_token.or(map.eos_token),
            unk_token: config.unk_token.or(map.unk_token),
            pad_token: config.pad_token.or(map.pad_token),
            image_token: config.image_token.or(map.image_token),
            ..config
        })
    }
}

fn parse(text: &str, file: &str) -> Result<TokenizerConfig> {
    let bad = |message: String| Error::Config(format!("{file}: {message}"));
    let raw: RawTokenizerConfig = serde_json::from_str(text).map_err(|e| bad(e.to_string()))?;
    let chat_template = match raw.chat_template {
        None => None,
        Some(TemplateField::One(template)) => Some(template),
        Some(TemplateField::Named(templates)) => {
            let names: Vec<&str> = templates.iter().map(|t| t.name.as_str()).collect();
            let default = templates
                .iter()
                .find(|t| t.name == "default")
                .ok_or_else(|| bad(format!("has chat templates named {names:?} but none named \"default\"")))?;
            Some(default.template.clone())
        }
    };
    let named_extra = match raw.extra_special_tokens {
        Some(ExtraTokens::Named(tokens)) => tokens.into_iter().find(|(k, _)| k == "image_token").map(|(_, t)| t.text()),
        Some(ExtraTokens::Listed(_)) | None => None,
    };
    let image_token = raw.image_token.map(TokenField::text).or(named_extra);
    Ok(TokenizerConfig {
        bos_token: raw.bos_token.map(TokenField::text),
        eos_token: raw.eos_token.map(TokenField::text),
        unk_token: raw.unk_token.map(TokenField::text),
        pad_token: raw.pad_token.map(TokenField::text),
        image_token,
        tokenizer_class: raw.tokenizer_class,
        legacy: raw.legacy,
        add_prefix_space: raw.add_prefix_space,
        chat_template,
    })
}

impl TokenField {
    fn text(self) -> String {
        match self {
            TokenField::Text(text) | TokenField::Added { content: text } => text,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_strings_or_added_token_objects() {
        let json = r#"{"bos_token": {"content": "<s>", "lstrip": false, "__type": "AddedToken"}, "eos_token": "</s>",
                       "pad_token": null, "tokenizer_class": "LlamaTokenizer", "legacy": false,
                       "extra_special_tokens": {"image_token": "<image>"}, "chat_template": "{{ bos_token }}"}"#;
        let c = TokenizerConfig::from_json(Some(json), None).unwrap();
        assert_eq!((c.bos_token.as_deref(), c.eos_token.as_deref(), c.pad_token), (Some("<s>"), Some("</s>"), None));
        assert_eq!((c.tokenizer_class.as_deref(), c.legacy), (Some("LlamaTokenizer"), Some(false)));
        assert_eq!((c.image_token.as_deref(), c.chat_template.as_deref()), (Some("<image>"), Some("{{ bos_token }}")));
        let listed = TokenizerConfig::from_json(Some(r#"{"extra_special_tokens": ["<image>"]}"#), None).unwrap();
        assert_eq!(listed.image_token, None);
        let top_level = TokenizerConfig::from_json(Some(r#"{"image_token": "<img>"}"#), None).unwrap();
        assert_eq!(top_level.image_token.as_deref(), Some("<img>"));
    }

    #[test]
    fn the_special_tokens_map_fills_gaps_only() {
        let c = TokenizerConfig::from_json(
            Some(r#"{"eos_token": "<|end|>"}"#),
            Some(r#"{"bos_token": "<s>", "eos_token": "</s>", "unk_token": {"content": "<unk>"}}"#),
        )
        .unwrap();
        assert_eq!((c.bos_token.as_deref(), c.eos_token.as_deref()), (Some("<s>"), Some("<|end|>")));
        assert_eq!(c.unk_token.as_deref(), Some("<unk>"));
        assert_eq!(TokenizerConfig::from_json(None, None).unwrap(), TokenizerConfig::default());
    }

    #[test]
    fn named_templates_use_the_default_one() {
        let json =
            r#"{"chat_template": [{"name": "tool_use", "template": "T"}, {"name": "default", "template": "D"}]}"#;
        assert_eq!(TokenizerConfig::from_json(Some(json), None).unwrap().chat_template.as_deref(), Some("D"));
        let none = r#"{"chat_template": [{"name": "tool_use", "template": "T"}]}"#;
        let error = TokenizerConfig::from_json(Some(none), None).unwrap_err().to_string();
        assert!(error.contains("none named \"default\"") && error.contains("tool_use"), "{error}");
        let bad = TokenizerConfig::from_json(Some(r#"{"bos_token": 3}"#), None).unwrap_err().to_string();
        assert!(bad.contains("tokenizer_config.json"), "{bad}");
    }
}
