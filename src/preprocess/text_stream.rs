//! Generated ids back to text while they stream: the text of token k is decode(ids[..=k]) minus
//! decode(ids[..k]), so spaces that a decoder adds or strips by context come out as the final
//! answer has them, and text ending inside a UTF-8 character (byte-fallback and byte-level
//! tokens carry single bytes) is held back until the character is complete. Special tokens
//! (end of sequence) add no text, as in transformers' `decode(..., skip_special_tokens=True)`.

use crate::error::{Error, Result};
use tokenizers::Tokenizer;

/// What a decoder writes for bytes that are not (yet) a whole UTF-8 character.
const REPLACEMENT: char = '\u{FFFD}';

pub struct TextStream<'t> {
    tokenizer: &'t Tokenizer,
    ids: Vec<u32>,
    /// The answer's text handed out so far.
    emitted: String,
}

impl<'t> TextStream<'t> {
    pub fn new(tokenizer: &'t Tokenizer) -> Self {
        TextStream { tokenizer, ids: Vec::new(), emitted: String::new() }
    }

    /// The text `id` adds to the answer: empty while the answer ends in an incomplete character
    /// (that text comes with a later token or `finish`).
    pub fn push(&mut self, id: u32) -> Result<String> {
        self.ids.push(id);
        let text = decode(self.tokenizer, &self.ids, true)?;
        if text.ends_with(REPLACEMENT) {
            return Ok(String::new());
        }
        Ok(self.advance_to(text))
    }

    /// Whatever is still held back, incomplete characters shown as U+FFFD, so that the
    /// concatenation of every piece equals [`TextStream::text`].
    pub fn finish(&mut self) -> Result<String> {
        let text = decode(self.tokenizer, &self.ids, true)?;
        Ok(self.advance_to(text))
    }

    /// decode(every id pushed), the answer as transformers decodes it.
    pub fn text(&self) -> Result<String> {
        decode(self.tokenizer, &self.ids, true)
    }

    /// The part of `text` not handed out yet. Hugging Face's decoders only extend the text when
    /// a token is appended; were one to rewrite it, only text past what was shown comes out.
    fn advance_to(&mut self, text: String) -> String {
        let piece = match text.strip_prefix(self.emitted.as_str()) {
            Some(tail) => tail.to_string(),
            None => text.get(self.emitted.len()..).unwrap_or_default().to_string(),
        };
        self.emitted = text;
        piece
    }
}

pub(crate) fn decode(tokenizer: &Tokenizer, ids: &[u32], skip_special_tokens: bool) -> Result<String> {
    tokenizer.decode(ids, skip_special_tokens).map_err(|e| Error::Tokenizer(format!("cannot decode ids {ids:?}: {e}")))
}

/// How one token reads on its own, for labels: its decoded text (special tokens included), or
/// its vocabulary entry ("<0xE2>", "Ã") when it is a piece of a character and decodes to nothing
/// whole; `<unknown id N>` for ids outside the vocabulary.
pub fn token_text(tokenizer: &Tokenizer, id: u32) -> String {
    match decode(tokenizer, &[id], false) {
        Ok(text) if !text.is_empty() && !text.contains(REPLACEMENT) => text,
        _ => tokenizer.id_to_token(id).unwrap_or_else(|| format!("<unknown id {id}>")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// A byte-fallback tokenizer (SentencePiece style): "é" is two byte tokens.
    fn byte_fallback() -> Tokenizer {
        let mut vocab = serde_json::Map::new();
        let tokens = ["<unk>", "<s>", "</s>", "<0xC3>", "<0xA9>", "▁caf", "▁sign", "▁", "<0xE2>", "<0x80>", "<0x94>"];
        for (i, token) in tokens.iter().enumerate() {
            vocab.insert(token.to_string(), i.into());
        }
        let file = json!({
            "version": "1.0", "truncation": null, "padding": null,
            "added_tokens": [{"id": 2, "content": "</s>", "single_word": false, "lstrip": false, "rstrip": false, "normalized": false, "special": true}],
            "normalizer": null,
            "pre_tokenizer": {"type": "Metaspace", "replacement": "▁", "prepend_scheme": "first", "split": false},
            "post_processor": null,
            "decoder": {"type": "Sequence", "decoders": [{"type": "Replace", "pattern": {"String": "▁"}, "content": " "},
                        {"type": "ByteFallback"}, {"type": "Fuse"}, {"type": "Strip", "content": " ", "start": 1, "stop": 0}]},
            "model": {"type": "BPE", "dropout": null, "unk_token": "<unk>", "continuing_subword_prefix": null,
                      "end_of_word_suffix": null, "fuse_unk": true, "byte_fallback": true, "ignore_merges": false,
                      "vocab": vocab, "merges": []}
        });
        Tokenizer::from_bytes(file.to_string().as_bytes()).unwrap()
    }

    #[test]
    fn pieces_hold_back_incomplete_characters_and_add_up_to_the_answer() {
        let tokenizer = byte_fallback();
        let mut stream = TextStream::new(&tokenizer);
        // "▁caf" "<0xC3>" "<0xA9>" "▁sign" "</s>"  →  "café sign"
        let pieces: Vec<String> = [5, 3, 4, 6, 2].iter().map(|id| stream.push(*id).unwrap()).collect();
        assert_eq!(pieces, ["caf", "", "é", " sign", ""]);
        assert_eq!(stream.text().unwrap(), "café sign");
        assert_eq!(stream.finish().unwrap(), "");
    }

    #[test]
    fn an_unfinished_character_comes_out_at_the_end() {
        let tokenizer = byte_fallback();
        let mut stream = TextStream::new(&tokenizer);
        assert_eq!(stream.push(5).unwrap(), "caf");
        assert_eq!(stream.push(8).unwrap(), "", "the first byte of a three-byte dash");
        assert_eq!(stream.push(9).unwrap(), "");
        assert_eq!(stream.finish().unwrap(), "\u{FFFD}\u{FFFD}");
        let mut complete = TextStream::new(&tokenizer);
        let dash: String = [7, 8, 9, 10].iter().map(|id| complete.push(*id).unwrap()).collect();
        assert_eq!(dash, "—", "the leading space is stripped as the decoder strips it");
    }

    #[test]
    fn token_texts_label_single_tokens() {
        let tokenizer = byte_fallback();
        assert_eq!(token_text(&tokenizer, 6), "sign");
        assert_eq!(token_text(&tokenizer, 3), "<0xC3>");
        assert_eq!(token_text(&tokenizer, 2), "</s>");
        assert_eq!(token_text(&tokenizer, 999), "<unknown id 999>");
    }
}
