//! Tokenization with the checkpoint's own tokenizer.json, truncation to the model's position
//! limit (with a warning, never silently), and the pooled end-of-text position.

use crate::config::ClipTextConfig;
use crate::error::{Error, Result};
use tokenizers::Tokenizer;

/// Texts longer than this are refused before tokenization: a CLIP reads at most its position
/// limit (77 tokens, a few hundred bytes), and a huge text would only cost time and memory.
pub const MAX_TEXT_BYTES: usize = 16 << 10;

pub struct TextEncoder {
    tokenizer: Tokenizer,
    max_positions: usize,
    eos_token_id: u32,
    legacy_pooling: bool,
}

#[derive(Clone, Debug)]
pub struct TokenizedText {
    pub ids: Vec<u32>,
    pub tokens: Vec<String>,
    /// The position whose final hidden state is the text embedding.
    pub pooled_position: usize,
    pub warning: Option<String>,
}

/// tokenizer.json through the tokenizers crate, whose deserializers panic on a syntax error
/// inside some parts (a decoder's `expect("Helper")`), which no caller could catch in wasm: the
/// JSON's syntax is checked first.
pub fn load_tokenizer(tokenizer_json: &[u8]) -> Result<Tokenizer> {
    serde_json::from_slice::<serde::de::IgnoredAny>(tokenizer_json)
        .map_err(|e| Error::Tokenizer(format!("tokenizer.json is not valid JSON: {e}")))?;
    Tokenizer::from_bytes(tokenizer_json).map_err(|e| Error::Tokenizer(format!("tokenizer.json cannot be loaded: {e}")))
}

impl TextEncoder {
    pub fn new(tokenizer_json: &[u8], config: &ClipTextConfig) -> Result<Self> {
        let tokenizer = load_tokenizer(tokenizer_json)?;
        let vocab = tokenizer.get_vocab_size(true);
        if vocab > config.vocab_size {
            return Err(Error::Config(format!(
                "tokenizer.json has {vocab} tokens but text_config.vocab_size is {}",
                config.vocab_size
            )));
        }
        Ok(TextEncoder {
            tokenizer,
            max_positions: config.max_position_embeddings,
            eos_token_id: config.eos_token_id,
            legacy_pooling: config.uses_legacy_eos_pooling(),
        })
    }

    pub fn encode(&self, text: &str) -> Result<TokenizedText> {
        if text.trim().is_empty() {
            return Err(Error::Text("the text is empty".into()));
        }
        if text.len() > MAX_TEXT_BYTES {
            return Err(Error::Text(format!(
                "text `{}` is {} bytes long; at most {MAX_TEXT_BYTES} are accepted (the model reads at most {} tokens)",
                shorten(text),
                text.len(),
                self.max_positions
            )));
        }
        let encoding = self
            .tokenizer
            .encode(text, true)
            .map_err(|e| Error::Tokenizer(format!("cannot tokenize `{text}`: {e}")))?;
        let mut ids = encoding.get_ids().to_vec();
        let mut tokens = encoding.get_tokens().to_vec();
        let mut warning = None;
        if ids.len() > self.max_positions {
            // As transformers' truncation does: keep the leading tokens and the closing special token.
            let total = ids.len();
            let last_id = ids[total - 1];
            let last_token = tokens[total - 1].clone();
            ids.truncate(self.max_positions - 1);
            tokens.truncate(self.max_positions - 1);
            ids.push(last_id);
            tokens.push(last_token);
            warning = Some(format!(
                "text `{}` has {total} tokens; truncated to the model's limit of {}",
                shorten(text),
                self.max_positions
            ));
        }
        let pooled_position = self.pooled_position(&ids)?;
        Ok(TokenizedText { ids, tokens, pooled_position, warning })
    }

    fn pooled_position(&self, ids: &[u32]) -> Result<usize> {
        let position = if self.legacy_pooling {
            // argmax, first occurrence, as torch.argmax.
            ids.iter().enumerate().fold(0, |best, (i, id)| if *id > ids[best] { i } else { best })
        } else {
            ids.iter().position(|id| *id == self.eos_token_id).ok_or_else(|| {
                Error::Tokenizer(format!(
                    "the tokenizer did not emit the end-of-text token {} that the model pools",
                    self.eos_token_id
                ))
            })?
        };
        Ok(position)
    }
}

fn shorten(text: &str) -> String {
    const SHOWN: usize = 40;
    if text.chars().count() <= SHOWN {
        text.to_string()
    } else {
        format!("{}…", text.chars().take(SHOWN).collect::<String>())
    }
}
