//! The decoder's `text_config`: transformers' `LlamaConfig` (Llama, SmolLM, Vicuna: the decoders of
//! most LLaVA checkpoints) and `Qwen2Config` (the same blocks with q/k/v biases), each with its own defaults.
//! One struct serves both, so a family is a row of defaults here, not a new model.

use super::rope::RopeConfig;
use crate::error::{Error, Result};
use serde::Deserialize;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DecoderFamily {
    /// `model_type: llama` (also SmolLM's and Vicuna's).
    Llama,
    /// `model_type: qwen2`: biases on q, k and v, none on the output projection.
    Qwen2,
}

#[derive(Clone, Debug)]
pub struct LlamaConfig {
    pub family: DecoderFamily,
    pub vocab_size: usize,
    pub hidden_size: usize,
    pub intermediate_size: usize,
    pub num_hidden_layers: usize,
    pub num_attention_heads: usize,
    /// Grouped-query attention: each key/value head serves num_attention_heads / this many query heads.
    pub num_key_value_heads: usize,
    /// Given, or hidden_size / num_attention_heads.
    pub head_dim: usize,
    pub max_position_embeddings: usize,
    pub rms_norm_eps: f64,
    pub rope: RopeConfig,
    /// The gated MLP's activation as the config names it ("silu"); `Activation::from_config_name`
    /// turns it into the op.
    pub hidden_act: String,
    /// Biases on the q, k and v projections.
    pub qkv_bias: bool,
    /// A bias on the attention output projection `o_proj`.
    pub output_bias: bool,
    /// Biases on gate_proj, up_proj and down_proj.
    pub mlp_bias: bool,
    /// The text config's own flag; `LlavaConfig::tie_word_embeddings` is the one that decides.
    pub tie_word_embeddings: bool,
    pub bos_token_id: Option<u32>,
    /// A number or a list in config.json; possibly empty.
    pub eos_token_ids: Vec<u32>,
    pub pad_token_id: Option<u32>,
}

/// A token id or a list of them, as configs write `eos_token_id`.
#[derive(Clone, Debug, Deserialize)]
#[serde(untagged)]
pub(crate) enum TokenIds {
    One(u32),
    Many(Vec<u32>),
}

impl TokenIds {
    pub(crate) fn into_vec(self) -> Vec<u32> {
        match self {
            TokenIds::One(id) => vec![id],
            TokenIds::Many(ids) => ids,
        }
    }
}

#[derive(Deserialize)]
struct RawText {
    model_type: Option<String>,
    vocab_size: Option<usize>,
    hidden_size: Option<usize>,
    intermediate_size: Option<usize>,
    num_hidden_layers: Option<usize>,
    num_attention_heads: Option<usize>,
    num_key_value_heads: Option<usize>,
    head_dim: Option<usize>,
    max_position_embeddings: Option<usize>,
    rms_norm_eps: Option<f64>,
    hidden_act: Option<String>,
    attention_bias: Option<bool>,
    mlp_bias: Option<bool>,
    tie_word_embeddings: Option<bool>,
    bos_token_id: Option<u32>,
    eos_token_id: Option<TokenIds>,
    pad_token_id: Option<u32>,
    use_sliding_window: Option<bool>,
}

/// What a family's config class assumes for a field the JSON leaves out.
struct FamilyDefaults {
    vocab_size: usize,
    hidden_size: usize,
    intermediate_size: usize,
    num_hidden_layers: usize,
    num_attention_heads: usize,
    /// None: as many as the query heads.
    num_key_value_heads: Option<usize>,
    max_position_embeddings: usize,
    bos_token_id: Option<u32>,
    eos_token_id: Option<u32>,
}

const LLAMA_DEFAULTS: FamilyDefaults = FamilyDefaults {
    vocab_size: 32000,
    hidden_size: 4096,
    intermediate_size: 11008,
    num_hidden_layers: 32,
    num_attention_heads: 32,
    num_key_value_heads: None,
    max_position_embeddings: 2048,
    bos_token_id: Some(1),
    eos_token_id: Some(2),
};

const QWEN2_DEFAULTS: FamilyDefaults = FamilyDefaults {
    vocab_size: 151936,
    hidden_size: 4096,
    intermediate_size: 22016,
    num_hidden_layers: 32,
    num_attention_heads: 32,
    num_key_value_heads: Some(32),
    max_position_embeddings: 32768,
    bos_token_id: None,
    eos_token_id: None,
};

/// Both families' `rms_norm_eps`.
const RMS_NORM_EPS: f64 = 1e-6;

impl LlamaConfig {
    /// The `text_config` object of a LLaVA config.json (absent: transformers' Llama defaults).
    pub fn from_value(value: Option<&serde_json::Value>) -> Result<Self> {
        let empty = serde_json::Map::new();
        let object = match value {
            None | Some(serde_json::Value::Null) => &empty,
            Some(serde_json::Value::Object(object)) => object,
            Some(other) => return Err(Error::Config(format!("text_config must be an object, got {other}"))),
        };
        let bad = |message: String| Error::Config(format!("text_config: {message}"));
        let raw: RawText =
            serde_json::from_value(serde_json::Value::Object(object.clone())).map_err(|e| bad(e.to_string()))?;
        let (family, defaults) = match raw.model_type.as_deref().unwrap_or("llama") {
            "llama" => (DecoderFamily::Llama, &LLAMA_DEFAULTS),
            "qwen2" => (DecoderFamily::Qwen2, &QWEN2_DEFAULTS),
            other => return Err(bad(format!("model_type `{other}` is not supported (supported: llama, qwen2)"))),
        };
        if raw.use_sliding_window == Some(true) {
            return Err(bad("use_sliding_window is not supported".into()));
        }
        let hidden_size = raw.hidden_size.unwrap_or(defaults.hidden_size);
        let num_attention_heads = raw.num_attention_heads.unwrap_or(defaults.num_attention_heads);
        let max_position_embeddings = raw.max_position_embeddings.unwrap_or(defaults.max_position_embeddings);
        let attention_bias = raw.attention_bias.unwrap_or(false);
        let (qkv_bias, output_bias) = match family {
            DecoderFamily::Llama => (attention_bias, attention_bias),
            DecoderFamily::Qwen2 => (true, false),
        };
        let config = LlamaConfig {
            family,
            vocab_size: raw.vocab_size.unwrap_or(defaults.vocab_size),
            hidden_size,
            intermediate_size: raw.intermediate_size.unwrap_or(defaults.intermediate_size),
            num_hidden_layers: raw.num_hidden_layers.unwrap_or(defaults.num_hidden_layers),
            num_attention_heads,
            num_key_value_heads: raw
                .num_key_value_heads
                .or(defaults.num_key_value_heads)
                .unwrap_or(num_attention_heads),
            head_dim: raw.head_dim.unwrap_or(if num_attention_heads == 0 {
                0
            } else {
                hidden_size / num_attention_heads
            }),
            max_position_embeddings,
            rms_norm_eps: raw.rms_norm_eps.unwrap_or(RMS_NORM_EPS),
            rope: RopeConfig::from_config_object(object, max_position_embeddings, "text_config")?,
            hidden_act: raw.hidden_act.unwrap_or_else(|| "silu".into()),
            qkv_bias,
            output_bias,
            mlp_bias: raw.mlp_bias.unwrap_or(false),
            tie_word_embeddings: raw.tie_word_embeddings.unwrap_or(false),
            // An explicit null means "none", not the family's default.
            bos_token_id: if object.contains_key("bos_token_id") { raw.bos_token_id } else { defaults.bos_token_id },
            eos_token_ids: match (raw.eos_token_id, object.contains_key("eos_token_id")) {
                (Some(ids), _) => ids.into_vec(),
                (None, true) => Vec::new(),
                (None, false) => defaults.eos_token_id.into_iter().collect(),
            },
            pad_token_id: raw.pad_token_id,
        };
        config.validate()?;
        Ok(config)
    }

    /// Catches configs that parse but cannot describe a working decoder.
    pub fn validate(&self) -> Result<()> {
        let bad = |message: String| Error::Config(format!("text_config: {message}"));
        let positive = [
            ("vocab_size", self.vocab_size),
            ("hidden_size", self.hidden_size),
            ("intermediate_size", self.intermediate_size),
            ("num_hidden_layers", self.num_hidden_layers),
            ("num_attention_heads", self.num_attention_heads),
            ("num_key_value_heads", self.num_key_value_heads),
            ("head_dim", self.head_dim),
            ("max_position_embeddings", self.max_position_embeddings),
        ];
        for (name, value) in positive {
            if value == 0 {
                return Err(bad(format!("{name} must be positive")));
            }
        }
        // transformers' `validate_architecture`, even when head_dim is given.
        if !self.hidden_size.is_multiple_of(self.num_attention_heads) {
            return Err(bad(format!(
                "hidden_size ({}) is not divisible by num_attention_heads ({})",
                self.hidden_size, self.num_attention_heads
            )));
        }
        if !self.num_attention_heads.is_multiple_of(self.num_key_value_heads) {
            return Err(bad(format!(
                "num_attention_heads ({}) is not a multiple of num_key_value_heads ({})",
                self.num_attention_heads, self.num_key_value_heads
            )));
        }
        if !self.head_dim.is_multiple_of(2) {
            return Err(bad(format!("head_dim ({}) must be even for rotary embeddings", self.head_dim)));
        }
        if !(self.rms_norm_eps.is_finite() && self.rms_norm_eps > 0.0) {
            return Err(bad(format!("rms_norm_eps must be positive, got {}", self.rms_norm_eps)));
        }
        for (name, id) in [("bos_token_id", self.bos_token_id), ("pad_token_id", self.pad_token_id)] {
            if id.is_some_and(|id| id as usize >= self.vocab_size) {
                return Err(bad(format!(
                    "{name} {} is outside the vocabulary of {}",
                    id.unwrap_or(0),
                    self.vocab_size
                )));
            }
        }
        if let Some(id) = self.eos_token_ids.iter().find(|id| **id as usize >= self.vocab_size) {
            return Err(bad(format!("eos_token_id {id} is outside the vocabulary of {}", self.vocab_size)));
        }
        Ok(())
    }

    /// Query heads per key/value head.
    pub fn query_groups(&self) -> usize {
        self.num_attention_heads / self.num_key_value_heads
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::RopeScaling;
    use serde_json::json;

    fn text(value: serde_json::Value) -> Result<LlamaConfig> {
        LlamaConfig::from_value(Some(&value))
    }

    #[test]
    fn an_absent_text_config_is_llama_7b() {
        let c = LlamaConfig::from_value(None).unwrap();
        assert_eq!(c.family, DecoderFamily::Llama);
        assert_eq!((c.vocab_size, c.hidden_size, c.num_hidden_layers, c.head_dim), (32000, 4096, 32, 128));
        assert_eq!((c.num_key_value_heads, c.max_position_embeddings), (32, 2048));
        assert_eq!((c.bos_token_id, c.eos_token_ids.as_slice(), c.pad_token_id), (Some(1), &[2][..], None));
        assert_eq!((c.rms_norm_eps, c.hidden_act.as_str(), c.qkv_bias, c.mlp_bias), (1e-6, "silu", false, false));
        assert_eq!(c.rope, RopeConfig::plain(10_000.0));
    }

    #[test]
    fn head_dim_and_key_value_heads_are_read_or_derived() {
        let c = text(json!({"hidden_size": 64, "num_attention_heads": 4, "num_key_value_heads": 1, "head_dim": 24,
                            "eos_token_id": [2, 5], "vocab_size": 10}))
        .unwrap();
        assert_eq!((c.head_dim, c.num_key_value_heads, c.query_groups()), (24, 1, 4));
        assert_eq!(c.eos_token_ids, [2, 5]);
        let derived = text(json!({"hidden_size": 64, "num_attention_heads": 4})).unwrap();
        assert_eq!((derived.head_dim, derived.num_key_value_heads), (16, 4));
    }

    #[test]
    fn llama_attention_bias_covers_every_projection_and_qwen2_biases_only_qkv() {
        let llama = text(json!({"attention_bias": true, "mlp_bias": true})).unwrap();
        assert_eq!((llama.qkv_bias, llama.output_bias, llama.mlp_bias), (true, true, true));
        let qwen = text(json!({"model_type": "qwen2", "hidden_size": 896, "num_attention_heads": 14,
                               "num_key_value_heads": 2, "rope_theta": 1000000.0, "eos_token_id": 151645}))
        .unwrap();
        assert_eq!(
            (qwen.family, qwen.qkv_bias, qwen.output_bias, qwen.head_dim),
            (DecoderFamily::Qwen2, true, false, 64)
        );
        assert_eq!((qwen.vocab_size, qwen.bos_token_id, qwen.rope.theta), (151936, None, 1e6));
        let none = text(json!({"bos_token_id": null, "eos_token_id": null})).unwrap();
        assert_eq!((none.bos_token_id, none.eos_token_ids.len()), (None, 0));
        let qwen_defaults = text(json!({"model_type": "qwen2"})).unwrap();
        assert_eq!((qwen_defaults.num_key_value_heads, qwen_defaults.eos_token_ids.len()), (32, 0));
    }

    #[test]
    fn rope_fields_reach_the_rope_config() {
        let c = text(json!({"rope_parameters": {"rope_type": "linear", "factor": 2.0, "rope_theta": 5000.0}})).unwrap();
        assert_eq!((c.rope.theta, &c.rope.scaling), (5000.0, &RopeScaling::Linear { factor: 2.0 }));
    }

    #[test]
    fn impossible_decoders_are_clear_errors() {
        let error = |value: serde_json::Value| text(value).unwrap_err().to_string();
        assert!(error(json!({"model_type": "mistral"})).contains("`mistral` is not supported"));
        assert!(error(json!({"hidden_size": 0})).contains("hidden_size must be positive"));
        assert!(error(json!({"hidden_size": 10, "num_attention_heads": 3})).contains("not divisible"));
        assert!(error(json!({"num_attention_heads": 32, "num_key_value_heads": 5})).contains("not a multiple"));
        assert!(error(json!({"hidden_size": 64, "num_attention_heads": 4, "head_dim": 7})).contains("must be even"));
        assert!(error(json!({"rms_norm_eps": -1.0})).contains("rms_norm_eps"));
        assert!(error(json!({"vocab_size": 10, "eos_token_id": 10})).contains("outside the vocabulary"));
        assert!(error(json!({"vocab_size": 10, "bos_token_id": 12})).contains("bos_token_id 12"));
        assert!(error(json!({"eos_token_id": -1})).contains("text_config"));
        assert!(error(json!({"model_type": "qwen2", "use_sliding_window": true})).contains("use_sliding_window"));
        assert!(LlamaConfig::from_value(Some(&json!([1]))).unwrap_err().to_string().contains("must be an object"));
    }
}
