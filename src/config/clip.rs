//! CLIP's configs (`CLIPConfig`, `CLIPTextConfig`, `CLIPVisionConfig`) with transformers' defaults,
//! and presets at the real sizes of the OpenAI checkpoints for benchmarks. LLaVA's vision tower is a
//! `CLIPVisionConfig` too.

use super::{ModelFamily, CLIP_ARCHITECTURE};
use crate::backend::Activation;
use crate::error::{Error, Result};
use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ClipTextConfig {
    #[serde(default = "defaults::text_vocab_size")]
    pub vocab_size: usize,
    #[serde(default = "defaults::text_hidden_size")]
    pub hidden_size: usize,
    #[serde(default = "defaults::text_intermediate_size")]
    pub intermediate_size: usize,
    #[serde(default = "defaults::text_layers")]
    pub num_hidden_layers: usize,
    #[serde(default = "defaults::text_heads")]
    pub num_attention_heads: usize,
    #[serde(default = "defaults::text_max_positions")]
    pub max_position_embeddings: usize,
    #[serde(default = "defaults::hidden_act")]
    pub hidden_act: String,
    #[serde(default = "defaults::layer_norm_eps")]
    pub layer_norm_eps: f64,
    /// transformers pools the end-of-text token: `eos_token_id == 2` is the legacy marker of the
    /// original OpenAI configs, meaning "the highest token id" (argmax of the ids).
    #[serde(default = "defaults::text_eos_token_id")]
    pub eos_token_id: u32,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ClipVisionConfig {
    #[serde(default = "defaults::vision_hidden_size")]
    pub hidden_size: usize,
    #[serde(default = "defaults::vision_intermediate_size")]
    pub intermediate_size: usize,
    #[serde(default = "defaults::vision_layers")]
    pub num_hidden_layers: usize,
    #[serde(default = "defaults::vision_heads")]
    pub num_attention_heads: usize,
    #[serde(default = "defaults::num_channels")]
    pub num_channels: usize,
    #[serde(default = "defaults::image_size")]
    pub image_size: usize,
    #[serde(default = "defaults::patch_size")]
    pub patch_size: usize,
    #[serde(default = "defaults::hidden_act")]
    pub hidden_act: String,
    #[serde(default = "defaults::layer_norm_eps")]
    pub layer_norm_eps: f64,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ClipConfig {
    #[serde(default)]
    pub architectures: Option<Vec<String>>,
    #[serde(default)]
    pub model_type: Option<String>,
    pub text_config: ClipTextConfig,
    pub vision_config: ClipVisionConfig,
    #[serde(default = "defaults::projection_dim")]
    pub projection_dim: usize,
    /// The checkpoint's `_name_or_path`, when it records one.
    #[serde(default, rename = "_name_or_path")]
    pub name_or_path: Option<String>,
}

/// The parts of one transformer tower that the shared encoder code needs.
#[derive(Clone, Copy, Debug)]
pub struct EncoderConfig {
    pub hidden_size: usize,
    pub intermediate_size: usize,
    pub num_layers: usize,
    pub num_heads: usize,
    pub layer_norm_eps: f64,
    pub activation: Activation,
    pub causal: bool,
}

impl EncoderConfig {
    pub fn head_dim(&self) -> usize {
        self.hidden_size / self.num_heads
    }
}

impl ClipTextConfig {
    pub fn encoder(&self) -> Result<EncoderConfig> {
        Ok(EncoderConfig {
            hidden_size: self.hidden_size,
            intermediate_size: self.intermediate_size,
            num_layers: self.num_hidden_layers,
            num_heads: self.num_attention_heads,
            layer_norm_eps: self.layer_norm_eps,
            activation: Activation::from_config_name(&self.hidden_act)?,
            causal: true,
        })
    }

    /// transformers' rule for the pooled (end-of-text) position.
    pub fn uses_legacy_eos_pooling(&self) -> bool {
        self.eos_token_id == 2
    }
}

impl ClipVisionConfig {
    pub fn encoder(&self) -> Result<EncoderConfig> {
        Ok(EncoderConfig {
            hidden_size: self.hidden_size,
            intermediate_size: self.intermediate_size,
            num_layers: self.num_hidden_layers,
            num_heads: self.num_attention_heads,
            layer_norm_eps: self.layer_norm_eps,
            activation: Activation::from_config_name(&self.hidden_act)?,
            causal: false,
        })
    }

    /// Patches per side: the patch convolution has stride = kernel, so a remainder is ignored.
    pub fn grid_side(&self) -> usize {
        self.image_size / self.patch_size
    }

    pub fn num_patches(&self) -> usize {
        self.grid_side() * self.grid_side()
    }

    /// Catches vision configs that parse but cannot describe a working tower.
    pub fn validate(&self) -> Result<()> {
        let positive = [
            ("hidden_size", self.hidden_size),
            ("intermediate_size", self.intermediate_size),
            ("num_hidden_layers", self.num_hidden_layers),
            ("num_attention_heads", self.num_attention_heads),
            ("image_size", self.image_size),
            ("patch_size", self.patch_size),
        ];
        for (name, value) in positive {
            if value == 0 {
                return Err(Error::Config(format!("vision_config.{name} must be positive")));
            }
        }
        let bounded = [
            ("hidden_size", self.hidden_size, MAX_WIDTH),
            ("intermediate_size", self.intermediate_size, MAX_WIDTH),
            ("num_hidden_layers", self.num_hidden_layers, MAX_LAYERS),
            ("image_size", self.image_size, MAX_IMAGE_SIZE),
        ];
        for (name, value, limit) in bounded {
            if value > limit {
                return Err(Error::Config(format!("vision_config.{name} is {value}; at most {limit} is supported")));
            }
        }
        if !(self.layer_norm_eps.is_finite() && self.layer_norm_eps >= 0.0) {
            return Err(Error::Config(format!(
                "vision_config.layer_norm_eps is {}; it must be finite and not negative",
                self.layer_norm_eps
            )));
        }
        if self.hidden_size % self.num_attention_heads != 0 {
            return Err(Error::Config(format!(
                "vision_config.hidden_size ({}) is not divisible by num_attention_heads ({})",
                self.hidden_size, self.num_attention_heads
            )));
        }
        if self.num_channels != 3 {
            return Err(Error::Config(format!(
                "vision_config.num_channels is {}, only RGB (3) is supported",
                self.num_channels
            )));
        }
        if self.patch_size > self.image_size {
            return Err(Error::Config(format!(
                "vision_config.patch_size ({}) is larger than image_size ({})",
                self.patch_size, self.image_size
            )));
        }
        if self.num_patches() > MAX_PATCHES {
            return Err(Error::Config(format!(
                "vision_config makes {} patches (image_size {} / patch_size {}, squared); at most {MAX_PATCHES} are supported",
                self.num_patches(),
                self.image_size,
                self.patch_size
            )));
        }
        self.encoder()?;
        Ok(())
    }
}

/// The largest sizes a config may declare, far above any published CLIP (ViT-bigG: width 1664,
/// 48 layers, 256 patches) yet small enough that every size derived from them (tokens squared
/// times heads, table sizes) stays far from overflowing. A config beyond them is refused before
/// any weight is read.
pub const MAX_WIDTH: usize = 1 << 16;
pub const MAX_LAYERS: usize = 1024;
pub const MAX_VOCABULARY: usize = 1 << 22;
pub const MAX_TEXT_POSITIONS: usize = 1 << 16;
pub const MAX_IMAGE_SIZE: usize = 4096;
pub const MAX_PATCHES: usize = 1 << 16;

impl ClipConfig {
    pub fn from_json(text: &str) -> Result<Self> {
        let value: serde_json::Value =
            serde_json::from_str(text).map_err(|e| Error::Config(format!("config.json is not valid JSON: {e}")))?;
        ModelFamily::from_config_value(&value)?.expect(ModelFamily::Clip)?;
        let config: ClipConfig =
            serde_json::from_value(value).map_err(|e| Error::Config(format!("config.json: {e}")))?;
        config.validate()?;
        Ok(config)
    }

    /// Catches configs that parse but cannot describe a working model, before any weight is read.
    pub fn validate(&self) -> Result<()> {
        let text = &self.text_config;
        let positive = [
            ("text_config.vocab_size", text.vocab_size),
            ("text_config.hidden_size", text.hidden_size),
            ("text_config.intermediate_size", text.intermediate_size),
            ("text_config.num_hidden_layers", text.num_hidden_layers),
            ("text_config.num_attention_heads", text.num_attention_heads),
            ("text_config.max_position_embeddings", text.max_position_embeddings),
            ("projection_dim", self.projection_dim),
        ];
        for (name, value) in positive {
            if value == 0 {
                return Err(Error::Config(format!("{name} must be positive")));
            }
        }
        let bounded = [
            ("text_config.vocab_size", text.vocab_size, MAX_VOCABULARY),
            ("text_config.hidden_size", text.hidden_size, MAX_WIDTH),
            ("text_config.intermediate_size", text.intermediate_size, MAX_WIDTH),
            ("text_config.num_hidden_layers", text.num_hidden_layers, MAX_LAYERS),
            ("text_config.max_position_embeddings", text.max_position_embeddings, MAX_TEXT_POSITIONS),
            ("projection_dim", self.projection_dim, MAX_WIDTH),
        ];
        for (name, value, limit) in bounded {
            if value > limit {
                return Err(Error::Config(format!("{name} is {value}; at most {limit} is supported")));
            }
        }
        if !(text.layer_norm_eps.is_finite() && text.layer_norm_eps >= 0.0) {
            return Err(Error::Config(format!(
                "text_config.layer_norm_eps is {}; it must be finite and not negative",
                text.layer_norm_eps
            )));
        }
        if text.hidden_size % text.num_attention_heads != 0 {
            return Err(Error::Config(format!(
                "text_config.hidden_size ({}) is not divisible by num_attention_heads ({})",
                text.hidden_size, text.num_attention_heads
            )));
        }
        self.vision_config.validate()?;
        text.encoder()?;
        Ok(())
    }

    /// A config at the sizes of a published OpenAI checkpoint, for benchmarks on random weights.
    pub fn preset(name: &str) -> Result<Self> {
        let patch_size = match name {
            "clip-vit-b32" => 32,
            "clip-vit-b16" => 16,
            _ => {
                return Err(Error::InvalidOption(format!(
                    "unknown architecture preset `{name}` (known: clip-vit-b32, clip-vit-b16)"
                )))
            }
        };
        let mut config: ClipConfig = serde_json::from_value(serde_json::json!({
            "architectures": [CLIP_ARCHITECTURE],
            "model_type": "clip",
            "text_config": { "eos_token_id": 2 },
            "vision_config": { "patch_size": patch_size },
        }))
        .map_err(|e| Error::Config(e.to_string()))?;
        config.name_or_path = Some(format!("random {name}"));
        Ok(config)
    }
}

mod defaults {
    pub fn text_vocab_size() -> usize {
        49408
    }
    pub fn text_hidden_size() -> usize {
        512
    }
    pub fn text_intermediate_size() -> usize {
        2048
    }
    pub fn text_layers() -> usize {
        12
    }
    pub fn text_heads() -> usize {
        8
    }
    pub fn text_max_positions() -> usize {
        77
    }
    pub fn text_eos_token_id() -> u32 {
        49407
    }
    pub fn vision_hidden_size() -> usize {
        768
    }
    pub fn vision_intermediate_size() -> usize {
        3072
    }
    pub fn vision_layers() -> usize {
        12
    }
    pub fn vision_heads() -> usize {
        12
    }
    pub fn num_channels() -> usize {
        3
    }
    pub fn image_size() -> usize {
        224
    }
    pub fn patch_size() -> usize {
        32
    }
    pub fn hidden_act() -> String {
        "quick_gelu".into()
    }
    pub fn layer_norm_eps() -> f64 {
        1e-5
    }
    pub fn projection_dim() -> usize {
        512
    }
}
