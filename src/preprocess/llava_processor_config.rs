//! `processor_config.json` of `LlavaProcessor` (image token, patch size, extra tokens, strategy;
//! in transformers 5 also the image processor nested under `image_processor` and possibly a chat
//! template), and which image processor config applies: the nested one first, then
//! `preprocessor_config.json`, as transformers 5 looks for them.

use crate::error::{Error, Result};
use serde::Deserialize;

/// `LlavaProcessor`'s default placeholder.
pub const DEFAULT_IMAGE_TOKEN: &str = "<image>";

/// Image processors whose pixels `Preprocessor` reproduces (resize the short side, centre crop,
/// rescale, normalize; LLaVA's may first pad to a square).
const SUPPORTED_IMAGE_PROCESSORS: [&str; 5] = [
    "CLIPImageProcessor",
    "CLIPImageProcessorFast",
    "LlavaImageProcessor",
    "LlavaImageProcessorFast",
    "LlavaImageProcessorPil",
];

#[derive(Clone, Debug, Default, PartialEq)]
pub struct LlavaProcessorConfig {
    /// None: the tokenizer's `image_token`, else `<image>`.
    pub image_token: Option<String>,
    pub patch_size: Option<usize>,
    /// transformers' default is 0, even for CLIP towers (whose class token makes it 1).
    pub num_additional_image_tokens: usize,
    pub vision_feature_select_strategy: Option<String>,
    pub chat_template: Option<String>,
    /// The image processor's JSON (nested here, or preprocessor_config.json).
    pub image_processor_json: Option<String>,
    /// LlavaImageProcessor's `do_pad`: pad to a square of the image mean before resizing.
    pub pad_to_square: bool,
}

#[derive(Deserialize)]
struct RawProcessor {
    image_token: Option<String>,
    patch_size: Option<usize>,
    num_additional_image_tokens: Option<usize>,
    vision_feature_select_strategy: Option<String>,
    chat_template: Option<String>,
    image_processor: Option<serde_json::Value>,
}

#[derive(Deserialize)]
struct RawImageProcessor {
    image_processor_type: Option<String>,
    do_pad: Option<bool>,
}

impl LlavaProcessorConfig {
    pub fn from_json(processor_json: Option<&str>, preprocessor_json: Option<&str>) -> Result<Self> {
        let bad = |file: &str, message: String| Error::Config(format!("{file}: {message}"));
        let raw: Option<RawProcessor> = processor_json
            .map(|text| serde_json::from_str(text).map_err(|e| bad("processor_config.json", e.to_string())))
            .transpose()?;
        let (nested, raw) = match raw {
            Some(mut raw) => (raw.image_processor.take().filter(|v| !v.is_null()), Some(raw)),
            None => (None, None),
        };
        let image_processor_json = match nested {
            Some(value) => Some(value.to_string()),
            None => preprocessor_json.map(str::to_string),
        };
        let mut pad_to_square = false;
        if let Some(json) = &image_processor_json {
            let image: RawImageProcessor =
                serde_json::from_str(json).map_err(|e| bad("image processor config", e.to_string()))?;
            let kind = image.image_processor_type.as_deref();
            if let Some(kind) = kind.filter(|k| !SUPPORTED_IMAGE_PROCESSORS.contains(k)) {
                return Err(Error::Config(format!(
                    "image processor {kind} is not supported (supported: {})",
                    SUPPORTED_IMAGE_PROCESSORS.join(", ")
                )));
            }
            pad_to_square = kind.is_some_and(|k| k.starts_with("Llava")) && image.do_pad.unwrap_or(false);
        }
        let Some(raw) = raw else {
            return Ok(LlavaProcessorConfig { image_processor_json, pad_to_square, ..Default::default() });
        };
        if raw.patch_size == Some(0) {
            return Err(bad("processor_config.json", "patch_size must be positive".into()));
        }
        Ok(LlavaProcessorConfig {
            image_token: raw.image_token,
            patch_size: raw.patch_size,
            num_additional_image_tokens: raw.num_additional_image_tokens.unwrap_or(0),
            vision_feature_select_strategy: raw.vision_feature_select_strategy,
            chat_template: raw.chat_template,
            image_processor_json,
            pad_to_square,
        })
    }

    /// Placeholders per image as `LlavaProcessor.replace_image_token` counts them for a
    /// `height` × `width` input, or None without a patch size.
    pub fn image_tokens(&self, height: usize, width: usize) -> Option<usize> {
        let patch = self.patch_size?;
        let count = (height / patch) * (width / patch) + self.num_additional_image_tokens;
        Some(if self.vision_feature_select_strategy.as_deref() == Some("default") {
            count.saturating_sub(1)
        } else {
            count
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_nested_image_processor_wins_over_preprocessor_config() {
        let processor = r#"{"image_processor": {"image_processor_type": "LlavaImageProcessor", "do_pad": true,
                            "size": {"shortest_edge": 24}}, "patch_size": 6, "num_additional_image_tokens": 1,
                            "vision_feature_select_strategy": "default", "image_token": "<img>"}"#;
        let c = LlavaProcessorConfig::from_json(Some(processor), Some(r#"{"size": 30}"#)).unwrap();
        assert!(c.image_processor_json.unwrap().contains("24") && c.pad_to_square);
        assert_eq!(
            (c.image_token.as_deref(), c.patch_size, c.num_additional_image_tokens),
            (Some("<img>"), Some(6), 1)
        );
        let legacy = LlavaProcessorConfig::from_json(Some(r#"{"patch_size": 14}"#), Some(r#"{"size": 30}"#)).unwrap();
        assert_eq!(legacy.image_processor_json.as_deref(), Some(r#"{"size": 30}"#));
        assert!(!legacy.pad_to_square);
        let none = LlavaProcessorConfig::from_json(None, None).unwrap();
        assert_eq!(none, LlavaProcessorConfig::default());
    }

    #[test]
    fn image_tokens_follow_llava_processor() {
        let c = |extra: usize, strategy: Option<&str>| LlavaProcessorConfig {
            patch_size: Some(14),
            num_additional_image_tokens: extra,
            vision_feature_select_strategy: strategy.map(str::to_string),
            ..Default::default()
        };
        assert_eq!(c(1, Some("default")).image_tokens(336, 336), Some(576));
        assert_eq!(c(1, Some("full")).image_tokens(336, 336), Some(577));
        assert_eq!(c(0, Some("default")).image_tokens(336, 336), Some(575), "transformers' default of 0 extra tokens");
        assert_eq!(c(0, None).image_tokens(336, 336), Some(576));
        assert_eq!(LlavaProcessorConfig::default().image_tokens(336, 336), None);
    }

    #[test]
    fn bad_processor_configs_are_clear_errors() {
        let error = |processor: &str, pre: Option<&str>| {
            LlavaProcessorConfig::from_json(Some(processor), pre).unwrap_err().to_string()
        };
        assert!(error("{", None).contains("processor_config.json"));
        assert!(error(r#"{"patch_size": 0}"#, None).contains("patch_size must be positive"));
        let siglip = error("{}", Some(r#"{"image_processor_type": "SiglipImageProcessor"}"#));
        assert!(siglip.contains("SiglipImageProcessor is not supported"), "{siglip}");
    }
}
