//! transformers' `LlavaConfig` with its defaults: a CLIP vision tower, a projector, a Llama-family
//! decoder, and how image features become the expanded `<image>` tokens. Presets at the sizes of
//! small published models for benchmarks on random weights.

use super::clip::ClipVisionConfig;
use super::llama::LlamaConfig;
use super::{ModelFamily, LLAVA_ARCHITECTURE};
use crate::error::{Error, Result};
use serde::Deserialize;
use serde_json::json;

/// Which rows of the chosen vision layer become image tokens.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FeatureSelectStrategy {
    /// Every patch row; the class token is dropped.
    Default,
    /// The class token and every patch row.
    Full,
}

#[derive(Clone, Debug)]
pub struct LlavaConfig {
    pub vision_config: ClipVisionConfig,
    pub text_config: LlamaConfig,
    /// `image_token_index` (or `image_token_id`): the id the expanded `<image>` tokens carry.
    pub image_token_id: u32,
    /// As the config records it; the count that runs is [`LlavaConfig::image_tokens`].
    pub image_seq_length: usize,
    /// Between the projector's two linears, as the config names it ("gelu").
    pub projector_hidden_act: String,
    /// An index into the vision tower's hidden states (0 = the embeddings after `pre_layrnorm`,
    /// negative from the end), as the config gives it.
    pub vision_feature_layer: i64,
    pub vision_feature_select_strategy: FeatureSelectStrategy,
    /// Biases on the projector's linears.
    pub multimodal_projector_bias: bool,
    /// The top-level flag or the text config's: the output embedding is the token table.
    pub tie_word_embeddings: bool,
    /// The checkpoint's `_name_or_path`, when it records one.
    pub name_or_path: Option<String>,
}

#[derive(Deserialize)]
struct RawLlava {
    image_token_index: Option<u32>,
    image_token_id: Option<u32>,
    image_seq_length: Option<usize>,
    projector_hidden_act: Option<String>,
    vision_feature_layer: Option<serde_json::Value>,
    vision_feature_select_strategy: Option<String>,
    multimodal_projector_bias: Option<bool>,
    tie_word_embeddings: Option<bool>,
    #[serde(rename = "_name_or_path")]
    name_or_path: Option<String>,
}

/// transformers' `LlavaConfig.image_token_index` default (LLaVA-1.5's).
const DEFAULT_IMAGE_TOKEN_ID: u32 = 32000;
const DEFAULT_IMAGE_SEQ_LENGTH: usize = 576;
const DEFAULT_FEATURE_LAYER: i64 = -2;

impl LlavaConfig {
    pub fn from_json(text: &str) -> Result<Self> {
        let value: serde_json::Value =
            serde_json::from_str(text).map_err(|e| Error::Config(format!("config.json is not valid JSON: {e}")))?;
        ModelFamily::from_config_value(&value)?.expect(ModelFamily::Llava)?;
        Self::from_value(&value)
    }

    fn from_value(value: &serde_json::Value) -> Result<Self> {
        let raw: RawLlava =
            serde_json::from_value(value.clone()).map_err(|e| Error::Config(format!("config.json: {e}")))?;
        let vision_config = vision_config(value.get("vision_config"))?;
        let text_config = LlamaConfig::from_value(value.get("text_config"))?;
        let image_token_id = match (raw.image_token_index, raw.image_token_id) {
            (Some(index), Some(id)) if index != id => {
                return Err(Error::Config(format!(
                    "config.json gives image_token_index {index} and image_token_id {id}; they name one token"
                )))
            }
            (index, id) => index.or(id).unwrap_or(DEFAULT_IMAGE_TOKEN_ID),
        };
        let vision_feature_layer = match raw.vision_feature_layer {
            None | Some(serde_json::Value::Null) => DEFAULT_FEATURE_LAYER,
            Some(serde_json::Value::Array(layers)) => {
                return Err(Error::Config(format!(
                    "vision_feature_layer is a list ({} layers); concatenated feature layers are not supported yet",
                    layers.len()
                )))
            }
            Some(other) => other
                .as_i64()
                .ok_or_else(|| Error::Config(format!("vision_feature_layer must be an integer, got {other}")))?,
        };
        let strategy = match raw.vision_feature_select_strategy.as_deref().unwrap_or("default") {
            "default" => FeatureSelectStrategy::Default,
            "full" => FeatureSelectStrategy::Full,
            other => {
                return Err(Error::Config(format!(
                    "vision_feature_select_strategy `{other}` is not supported (supported: default, full)"
                )))
            }
        };
        let tie_word_embeddings = raw.tie_word_embeddings.unwrap_or(false) || text_config.tie_word_embeddings;
        let config = LlavaConfig {
            vision_config,
            text_config,
            image_token_id,
            image_seq_length: raw.image_seq_length.unwrap_or(DEFAULT_IMAGE_SEQ_LENGTH),
            projector_hidden_act: raw.projector_hidden_act.unwrap_or_else(|| "gelu".into()),
            vision_feature_layer,
            vision_feature_select_strategy: strategy,
            multimodal_projector_bias: raw.multimodal_projector_bias.unwrap_or(true),
            tie_word_embeddings,
            name_or_path: raw.name_or_path,
        };
        config.validate()?;
        Ok(config)
    }

    /// Catches configs that parse but cannot describe a working model, before any weight is read.
    pub fn validate(&self) -> Result<()> {
        self.vision_config.validate()?;
        self.text_config.validate()?;
        self.vision_layers_used()?;
        if self.image_token_id as usize >= self.text_config.vocab_size {
            return Err(Error::Config(format!(
                "image_token_index {} is outside the decoder's vocabulary of {}",
                self.image_token_id, self.text_config.vocab_size
            )));
        }
        if self.image_tokens() > self.text_config.max_position_embeddings {
            return Err(Error::Config(format!(
                "one image is {} tokens but the decoder takes at most {} positions",
                self.image_tokens(),
                self.text_config.max_position_embeddings
            )));
        }
        Ok(())
    }

    /// How many vision encoder layers run to produce the features: `hidden_states[k]` is the
    /// output of layer k (k = 0: the embeddings after `pre_layrnorm`), so k layers.
    pub fn vision_layers_used(&self) -> Result<usize> {
        let layers = self.vision_config.num_hidden_layers as i64;
        let index = self.vision_feature_layer;
        let used = if index < 0 { layers + 1 + index } else { index };
        if !(0..=layers).contains(&used) {
            return Err(Error::Config(format!(
                "vision_feature_layer {index} is outside the vision tower's hidden states (-{} to {layers})",
                layers + 1
            )));
        }
        Ok(used as usize)
    }

    /// Image tokens per image: one per patch, plus the class token for the `full` strategy.
    pub fn image_tokens(&self) -> usize {
        let patches = self.vision_config.num_patches();
        match self.vision_feature_select_strategy {
            FeatureSelectStrategy::Default => patches,
            FeatureSelectStrategy::Full => patches + 1,
        }
    }

    /// A config at the sizes of a small published model, for benchmarks on random weights:
    /// `llava-smol` = CLIP ViT-B/16 at 224 px (196 image tokens) + a SmolLM2-135M-sized decoder.
    pub fn preset(name: &str) -> Result<Self> {
        Self::from_value(&Self::preset_json(name)?)
    }

    /// [`Self::preset`]'s config.json.
    pub fn preset_json(name: &str) -> Result<serde_json::Value> {
        Ok(match name {
            "llava-smol" => json!({
                "architectures": [LLAVA_ARCHITECTURE],
                "model_type": "llava",
                "_name_or_path": "random llava-smol",
                "vision_config": { "model_type": "clip_vision_model", "patch_size": 16, "image_size": 224 },
                "text_config": {
                    "model_type": "llama", "vocab_size": 49152, "hidden_size": 576, "intermediate_size": 1536,
                    "num_hidden_layers": 30, "num_attention_heads": 9, "num_key_value_heads": 3,
                    "max_position_embeddings": 8192, "rms_norm_eps": 1e-5, "rope_theta": 100000.0,
                    "tie_word_embeddings": true, "bos_token_id": 1, "eos_token_id": 2
                },
                // The last id of the vocabulary stands for <image>.
                "image_token_index": 49151,
                "image_seq_length": 196,
                "vision_feature_layer": -2,
                "vision_feature_select_strategy": "default"
            }),
            _ => return Err(Error::InvalidOption(format!("unknown architecture preset `{name}` (known: llava-smol)"))),
        })
    }
}

/// LLaVA's vision tower: a CLIP vision config; absent, transformers' LLaVA-1.5 tower.
fn vision_config(value: Option<&serde_json::Value>) -> Result<ClipVisionConfig> {
    let value = match value {
        None | Some(serde_json::Value::Null) => json!({
            "hidden_size": 1024, "intermediate_size": 4096, "patch_size": 14, "image_size": 336,
            "num_hidden_layers": 24, "num_attention_heads": 16
        }),
        Some(value) => value.clone(),
    };
    match value.get("model_type").and_then(|m| m.as_str()) {
        None | Some("clip_vision_model") => {}
        Some(other) => {
            return Err(Error::UnsupportedArchitecture(format!(
                "vision tower `{other}` (supported: clip_vision_model)"
            )))
        }
    }
    serde_json::from_value(value).map_err(|e| Error::Config(format!("vision_config: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn llava(extra: serde_json::Value) -> Result<LlavaConfig> {
        let mut value = json!({
            "architectures": ["LlavaForConditionalGeneration"],
            "vision_config": {"hidden_size": 32, "intermediate_size": 37, "num_hidden_layers": 2,
                              "num_attention_heads": 4, "image_size": 30, "patch_size": 6},
            "text_config": {"model_type": "llama", "vocab_size": 100, "hidden_size": 32, "intermediate_size": 37,
                            "num_hidden_layers": 2, "num_attention_heads": 4, "num_key_value_heads": 2},
            "image_token_index": 99
        });
        for (key, v) in extra.as_object().unwrap() {
            value[key] = v.clone();
        }
        LlavaConfig::from_json(&value.to_string())
    }

    #[test]
    fn defaults_are_transformers() {
        let c = llava(json!({})).unwrap();
        assert_eq!((c.vision_feature_layer, c.vision_feature_select_strategy), (-2, FeatureSelectStrategy::Default));
        assert_eq!((c.projector_hidden_act.as_str(), c.multimodal_projector_bias), ("gelu", true));
        assert_eq!((c.tie_word_embeddings, c.image_seq_length), (false, 576));
        assert_eq!((c.image_tokens(), c.vision_layers_used().unwrap()), (25, 1));
        // transformers' bare defaults put <image> (32000) just past Llama's 32000-token vocabulary, a
        // model that could not embed its own image token: refused, while llava-1.5's 32064 works.
        let refused = LlavaConfig::from_json(r#"{"model_type": "llava"}"#).unwrap_err().to_string();
        assert!(refused.contains("image_token_index 32000 is outside the decoder's vocabulary of 32000"), "{refused}");
        let bare = LlavaConfig::from_json(r#"{"model_type": "llava", "text_config": {"vocab_size": 32064}}"#).unwrap();
        assert_eq!((bare.vision_config.hidden_size, bare.vision_config.patch_size), (1024, 14));
        assert_eq!((bare.image_token_id, bare.image_tokens(), bare.text_config.vocab_size), (32000, 576, 32064));
        // A vision_config object keeps CLIPVisionConfig's own defaults for what it leaves out.
        let partial = llava(json!({"vision_config": {"model_type": "clip_vision_model"}})).unwrap();
        assert_eq!((partial.vision_config.hidden_size, partial.vision_config.patch_size), (768, 32));
    }

    #[test]
    fn full_strategy_keeps_the_class_token_and_layers_count_from_either_end() {
        let c = llava(json!({"vision_feature_select_strategy": "full", "vision_feature_layer": -1})).unwrap();
        assert_eq!((c.image_tokens(), c.vision_layers_used().unwrap()), (26, 2));
        assert_eq!(llava(json!({"vision_feature_layer": 0})).unwrap().vision_layers_used().unwrap(), 0);
        assert_eq!(llava(json!({"vision_feature_layer": -3})).unwrap().vision_layers_used().unwrap(), 0);
    }

    #[test]
    fn the_image_token_has_two_names_and_tying_two_places() {
        assert_eq!(llava(json!({"image_token_index": null, "image_token_id": 98})).unwrap().image_token_id, 98);
        let clash = llava(json!({"image_token_id": 98})).unwrap_err().to_string();
        assert!(clash.contains("image_token_index 99 and image_token_id 98"), "{clash}");
        assert!(llava(json!({"tie_word_embeddings": true})).unwrap().tie_word_embeddings);
        let nested = llava(json!({"text_config": {"vocab_size": 100, "hidden_size": 32, "num_attention_heads": 4,
                                                  "tie_word_embeddings": true}}));
        assert!(nested.unwrap().tie_word_embeddings);
    }

    #[test]
    fn unsupported_choices_are_clear_errors() {
        let error = |extra: serde_json::Value| llava(extra).unwrap_err().to_string();
        assert!(error(json!({"vision_feature_layer": [-2, -5]})).contains("not supported yet"));
        assert!(
            error(json!({"vision_feature_layer": 3})).contains("outside the vision tower's hidden states (-3 to 2)")
        );
        assert!(error(json!({"vision_feature_layer": -4})).contains("outside"));
        assert!(error(json!({"vision_feature_layer": "last"})).contains("must be an integer"));
        let strategy = error(json!({"vision_feature_select_strategy": "cls"}));
        assert!(strategy.contains("`cls` is not supported (supported: default, full)"), "{strategy}");
        assert!(error(json!({"image_token_index": 100})).contains("outside the decoder's vocabulary of 100"));
        assert!(error(json!({"vision_config": {"model_type": "siglip_vision_model"}})).contains("siglip"));
        assert!(error(json!({"vision_config": {"patch_size": 0}})).contains("patch_size must be positive"));
        let too_many = error(json!({"text_config": {"vocab_size": 100, "hidden_size": 32, "num_attention_heads": 4,
                                                    "max_position_embeddings": 20}}));
        assert!(too_many.contains("one image is 25 tokens"), "{too_many}");
        let clip = LlavaConfig::from_json(r#"{"architectures": ["CLIPModel"]}"#).unwrap_err().to_string();
        assert!(clip.contains("CLIP checkpoint"), "{clip}");
    }

    #[test]
    fn the_benchmark_preset_has_smollm2_135m_and_vit_b16_sizes() {
        let c = LlavaConfig::preset("llava-smol").unwrap();
        let t = &c.text_config;
        assert_eq!((t.hidden_size, t.num_hidden_layers, t.num_attention_heads, t.num_key_value_heads), (576, 30, 9, 3));
        assert_eq!((t.intermediate_size, t.vocab_size, t.head_dim, t.rope.theta), (1536, 49152, 64, 100000.0));
        assert!(c.tie_word_embeddings);
        assert_eq!((c.vision_config.hidden_size, c.vision_config.num_hidden_layers, c.image_tokens()), (768, 12, 196));
        assert!(LlavaConfig::preset("llava-huge").unwrap_err().to_string().contains("known: llava-smol"));
    }
}
