//! A LLaVA checkpoint's inputs as transformers' `LlavaProcessor` makes them: the chat template
//! turns the question into the prompt, its one `<image>` placeholder is expanded (as text, before
//! tokenizing) into one token per image feature, the tokenizer adds BOS unless the template wrote
//! it, and the image is preprocessed as the checkpoint's image processor does. Generated ids go
//! back to text through [`TextStream`].

use super::chat_template::{ChatTemplate, TemplateLimits, TemplateTokens};
use super::decode::{decode_image, ImageLimits};
use super::image::{PreparedImage, Preprocessor};
use super::llava_processor_config::{LlavaProcessorConfig, DEFAULT_IMAGE_TOKEN};
use super::processor_config::PreprocessorConfig;
use super::text_stream::{decode, token_text, TextStream};
use super::tokenizer_class::load_tokenizer_of_class;
use super::tokenizer_config::TokenizerConfig;
use crate::config::{FeatureSelectStrategy, LlavaConfig};
use crate::error::{Error, Result};
use crate::loader::{
    ModelFiles, CHAT_TEMPLATE_JINJA_FILE, CHAT_TEMPLATE_JSON_FILE, PROCESSOR_FILE, TOKENIZER_CONFIG_FILE,
};
use image::RgbImage;
use tokenizers::Tokenizer;

pub struct LlavaProcessor {
    tokenizer: Tokenizer,
    /// None: the prompt is used as given.
    chat_template: Option<ChatTemplate>,
    template_tokens: TemplateTokens,
    image_token: String,
    image_token_id: u32,
    /// Placeholders per image (= image features the model yields).
    image_tokens: usize,
    max_positions: usize,
    images: Preprocessor,
    pad_to_square: bool,
}

/// One question about one image, ready for the model.
#[derive(Clone, Debug, PartialEq)]
pub struct LlavaPrompt {
    /// The chat-templated text with its single image placeholder (transformers' `formatted_prompt`).
    pub formatted: String,
    /// After expanding the placeholder and tokenizing.
    pub ids: Vec<u32>,
    /// Positions in `ids` of the image tokens, in order: image feature i goes to `image_positions[i]`.
    pub image_positions: Vec<usize>,
    /// Whether the tokenizer added its special tokens (BOS) — not when the template wrote BOS.
    pub added_special_tokens: bool,
}

impl LlavaProcessor {
    pub fn new(files: &ModelFiles, config: &LlavaConfig) -> Result<Self> {
        Self::with_limits(files, config, TemplateLimits::default())
    }

    pub fn with_limits(files: &ModelFiles, config: &LlavaConfig, limits: TemplateLimits) -> Result<Self> {
        let extra = &files.generative;
        let tokenizer_config = TokenizerConfig::from_json(
            extra.tokenizer_config_json.as_deref(),
            extra.special_tokens_map_json.as_deref(),
        )?;
        let processor =
            LlavaProcessorConfig::from_json(extra.processor_json.as_deref(), files.preprocessor_json.as_deref())?;
        let tokenizer = load_tokenizer_of_class(&files.tokenizer_json, &tokenizer_config)?;
        let vocab = tokenizer.get_vocab_size(true);
        if vocab > config.text_config.vocab_size {
            return Err(Error::Config(format!(
                "tokenizer.json has {vocab} tokens but text_config.vocab_size is {}",
                config.text_config.vocab_size
            )));
        }
        let image_token = tokenizer_config
            .image_token
            .clone()
            .or_else(|| processor.image_token.clone())
            .unwrap_or_else(|| DEFAULT_IMAGE_TOKEN.to_string());
        let image_token_id = tokenizer.token_to_id(&image_token).ok_or_else(|| {
            Error::Tokenizer(format!("the tokenizer has no token `{image_token}` for the image placeholder"))
        })?;
        if image_token_id != config.image_token_id {
            return Err(Error::Config(format!(
                "the tokenizer gives `{image_token}` id {image_token_id} but config.json's image_token_index is {}",
                config.image_token_id
            )));
        }
        let image_tokens = image_token_count(&processor, config)?;
        let chat_template = chat_template_source(files, &processor, &tokenizer_config)?
            .map(|(source, origin)| ChatTemplate::new(&source, origin, limits))
            .transpose()?;
        let image_size = config.vision_config.image_size;
        let images = Preprocessor::new(match &processor.image_processor_json {
            Some(json) => PreprocessorConfig::from_json(json, image_size)?,
            None => PreprocessorConfig::clip_default(image_size),
        });
        let template_tokens = TemplateTokens {
            bos_token: tokenizer_config.bos_token,
            eos_token: tokenizer_config.eos_token,
            unk_token: tokenizer_config.unk_token,
            pad_token: tokenizer_config.pad_token,
            image_token: Some(image_token.clone()),
        };
        Ok(LlavaProcessor {
            tokenizer,
            chat_template,
            template_tokens,
            image_token,
            image_token_id,
            image_tokens,
            max_positions: config.text_config.max_position_embeddings,
            images,
            pad_to_square: processor.pad_to_square,
        })
    }

    /// The model's input for `question` about one image: through the chat template when the
    /// checkpoint has one, else `question` itself, which must then hold the image placeholder.
    pub fn prompt(&self, question: &str) -> Result<LlavaPrompt> {
        let formatted = match &self.chat_template {
            Some(template) => template.render_image_question(question, &self.template_tokens)?,
            None => question.to_string(),
        };
        let placeholders = formatted.matches(self.image_token.as_str()).count();
        match (placeholders, &self.chat_template) {
            (1, _) => {}
            (0, None) => {
                return Err(Error::Text(format!(
                "the prompt has no `{}` placeholder; this checkpoint has no chat template, so the prompt is used as \
                     given and must say where the image goes",
                self.image_token
            )))
            }
            (0, Some(_)) => {
                return Err(Error::ChatTemplate(format!(
                    "the template placed no `{}` for the image: one image but no placeholder",
                    self.image_token
                )))
            }
            (n, _) => {
                return Err(Error::Text(format!(
                    "the prompt has {n} `{}` placeholders but there is one image{}",
                    self.image_token,
                    if self.chat_template.is_some() {
                        " (the chat template places it: leave it out of the question)"
                    } else {
                        ""
                    }
                )))
            }
        }
        let expanded = formatted.replacen(self.image_token.as_str(), &self.image_token.repeat(self.image_tokens), 1);
        // processor.apply_chat_template: a template that writes BOS itself gets none added.
        let bos_written =
            self.template_tokens.bos_token.as_ref().is_some_and(|bos| formatted.starts_with(bos.as_str()));
        let added_special_tokens = self.chat_template.is_none() || !bos_written;
        let encoding = self
            .tokenizer
            .encode(expanded.as_str(), added_special_tokens)
            .map_err(|e| Error::Tokenizer(format!("cannot tokenize the prompt: {e}")))?;
        let ids = encoding.get_ids().to_vec();
        let image_positions: Vec<usize> =
            ids.iter().enumerate().filter(|(_, id)| **id == self.image_token_id).map(|(i, _)| i).collect();
        if image_positions.len() != self.image_tokens {
            return Err(Error::Tokenizer(format!(
                "the prompt holds {} image tokens (id {}) after tokenizing, not the {} placed; the tokenizer must keep \
                 `{}` as one token, and the question may not contain it",
                image_positions.len(),
                self.image_token_id,
                self.image_tokens,
                self.image_token
            )));
        }
        if ids.len() > self.max_positions {
            return Err(Error::Text(format!(
                "the prompt is {} tokens ({} for the image, {} of text) but the model takes at most \
                 max_position_embeddings = {}",
                ids.len(),
                self.image_tokens,
                ids.len() - self.image_tokens,
                self.max_positions
            )));
        }
        Ok(LlavaPrompt { formatted, ids, image_positions, added_special_tokens })
    }

    /// Decodes `bytes` under `limits` and preprocesses the image.
    pub fn prepare_image(&self, bytes: &[u8], limits: ImageLimits) -> Result<PreparedImage> {
        Ok(self.prepare_decoded(&decode_image(bytes, limits)?))
    }

    /// The image processor's pixels for a decoded image: LLaVA's optional padding to a square of
    /// the mean colour, then CLIP's resize, crop, rescale and normalize.
    pub fn prepare_decoded(&self, image: &RgbImage) -> PreparedImage {
        if !self.pad_to_square || image.width() == image.height() {
            return self.images.prepare(image);
        }
        let side = image.width().max(image.height());
        let (left, top) = ((side - image.width()) / 2, (side - image.height()) / 2);
        // transformers' `tuple(int(x * 255) for x in image_mean)`: truncated, not rounded.
        let fill = image::Rgb(self.images.config.mean.map(|m| (m as f64 * 255.0).clamp(0.0, 255.0) as u8));
        let mut square = RgbImage::from_pixel(side, side, fill);
        image::imageops::replace(&mut square, image, left as i64, top as i64);
        let mut prepared = self.images.prepare(&square);
        prepared.crop.x -= left as f32;
        prepared.crop.y -= top as f32;
        prepared
    }

    /// Image tokens per image.
    pub fn image_tokens(&self) -> usize {
        self.image_tokens
    }

    pub fn image_token_id(&self) -> u32 {
        self.image_token_id
    }

    /// The longest sequence (prompt and answer) the decoder takes.
    pub fn max_positions(&self) -> usize {
        self.max_positions
    }

    pub fn has_chat_template(&self) -> bool {
        self.chat_template.is_some()
    }

    /// The one token `text` is on its own (no special tokens added), e.g. a `--contrast` word;
    /// an error naming its pieces when it is several tokens or none.
    pub fn single_token(&self, text: &str) -> Result<u32> {
        let encoding = self
            .tokenizer
            .encode(text, false)
            .map_err(|e| Error::Tokenizer(format!("cannot tokenize `{text}`: {e}")))?;
        match encoding.get_ids() {
            [id] => Ok(*id),
            ids => Err(Error::Text(format!(
                "`{text}` is {} tokens ({}), not one; use a single token",
                ids.len(),
                encoding.get_tokens().iter().map(|t| format!("`{t}`")).collect::<Vec<_>>().join(" ")
            ))),
        }
    }

    /// How token `id` reads on its own, for labels.
    pub fn token_text(&self, id: u32) -> String {
        token_text(&self.tokenizer, id)
    }

    /// A stream turning generated ids into the answer's text piece by piece.
    pub fn text_stream(&self) -> TextStream<'_> {
        TextStream::new(&self.tokenizer)
    }

    /// The answer's text for generated `ids`, special tokens left out.
    pub fn decode(&self, ids: &[u32]) -> Result<String> {
        decode(&self.tokenizer, ids, true)
    }

    pub fn tokenizer(&self) -> &Tokenizer {
        &self.tokenizer
    }
}

/// The image tokens `LlavaProcessor` places, which must be the features the model yields (or
/// transformers fails with "Image features and image tokens do not match"). Without a patch size
/// in processor_config.json the model's own count is used.
fn image_token_count(processor: &LlavaProcessorConfig, config: &LlavaConfig) -> Result<usize> {
    let features = config.image_tokens();
    let side = config.vision_config.image_size;
    let Some(placed) = processor.image_tokens(side, side) else { return Ok(features) };
    if placed != features {
        let strategy = match config.vision_feature_select_strategy {
            FeatureSelectStrategy::Default => "default: patches only",
            FeatureSelectStrategy::Full => "full: patches and the class token",
        };
        return Err(Error::Config(format!(
            "processor_config.json places {placed} image tokens (patch_size {:?}, num_additional_image_tokens {}, \
             strategy {:?}) but the model yields {features} image features ({strategy})",
            processor.patch_size, processor.num_additional_image_tokens, processor.vision_feature_select_strategy
        )));
    }
    Ok(placed)
}

/// The first chat template of chat_template.jinja, chat_template.json, processor_config.json and
/// tokenizer_config.json, with the file it came from.
fn chat_template_source(
    files: &ModelFiles,
    processor: &LlavaProcessorConfig,
    tokenizer: &TokenizerConfig,
) -> Result<Option<(String, &'static str)>> {
    let extra = &files.generative;
    let from_json = match extra.chat_template_json.as_deref() {
        None => None,
        Some(text) => {
            let value: serde_json::Value = serde_json::from_str(text)
                .map_err(|e| Error::ChatTemplate(format!("{CHAT_TEMPLATE_JSON_FILE} is not valid JSON: {e}")))?;
            let template = value.get("chat_template").and_then(|t| t.as_str()).ok_or_else(|| {
                Error::ChatTemplate(format!("{CHAT_TEMPLATE_JSON_FILE} has no `chat_template` string"))
            })?;
            Some(template.to_string())
        }
    };
    Ok([
        (extra.chat_template_jinja.clone(), CHAT_TEMPLATE_JINJA_FILE),
        (from_json, CHAT_TEMPLATE_JSON_FILE),
        (processor.chat_template.clone(), PROCESSOR_FILE),
        (tokenizer.chat_template.clone(), TOKENIZER_CONFIG_FILE),
    ]
    .into_iter()
    .find_map(|(source, origin)| source.map(|s| (s, origin))))
}
