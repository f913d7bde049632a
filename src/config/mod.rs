//! Configs mirroring Hugging Face's `config.json` files with transformers' defaults, so published
//! checkpoints load unchanged: CLIP (`clip.rs`), LLaVA (`llava.rs`) with its Llama-family decoder
//! (`llama.rs`, rotary embeddings in `rope.rs`), and `generation_config.json` (`generation.rs`).
//! [`ModelFamily`] tells which of them a folder holds before anything else is read.

mod clip;
mod generation;
mod llama;
mod llava;
mod rope;

pub use clip::{ClipConfig, ClipTextConfig, ClipVisionConfig, EncoderConfig};
pub use generation::GenerationConfig;
pub use llama::{DecoderFamily, LlamaConfig};
pub use llava::{FeatureSelectStrategy, LlavaConfig};
pub use rope::{RopeConfig, RopeFrequencies, RopeScaling};

use crate::error::{Error, Result};

const CLIP_ARCHITECTURE: &str = "CLIPModel";
const LLAVA_ARCHITECTURE: &str = "LlavaForConditionalGeneration";

/// The kinds of checkpoint Sightline runs: a contrastive image–text model it explains against
/// labels, or a generative one it explains token by token.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ModelFamily {
    Clip,
    Llava,
}

impl ModelFamily {
    /// The family a config.json describes, from its `architectures` (first) or `model_type`.
    pub fn from_config_json(text: &str) -> Result<Self> {
        let value: serde_json::Value =
            serde_json::from_str(text).map_err(|e| Error::Config(format!("config.json is not valid JSON: {e}")))?;
        Self::from_config_value(&value)
    }

    pub(crate) fn from_config_value(value: &serde_json::Value) -> Result<Self> {
        let architectures: Vec<&str> = value
            .get("architectures")
            .and_then(|a| a.as_array())
            .map(|a| a.iter().filter_map(|v| v.as_str()).collect())
            .unwrap_or_default();
        let model_type = value.get("model_type").and_then(|m| m.as_str());
        if architectures.contains(&CLIP_ARCHITECTURE) || model_type == Some("clip") {
            return Ok(ModelFamily::Clip);
        }
        if architectures.contains(&LLAVA_ARCHITECTURE) || model_type == Some("llava") {
            return Ok(ModelFamily::Llava);
        }
        let found = match (architectures.first(), model_type) {
            (Some(arch), _) => arch.to_string(),
            (None, Some(kind)) => format!("model_type `{kind}`"),
            (None, None) => {
                return Err(Error::Config(format!(
                    "config.json names neither `architectures` nor `model_type`; expected {CLIP_ARCHITECTURE} or \
                     {LLAVA_ARCHITECTURE}"
                )))
            }
        };
        Err(Error::UnsupportedArchitecture(format!("{found} (supported: {CLIP_ARCHITECTURE}, {LLAVA_ARCHITECTURE})")))
    }

    /// The architecture as Hugging Face names it.
    pub fn architecture(self) -> &'static str {
        match self {
            ModelFamily::Clip => CLIP_ARCHITECTURE,
            ModelFamily::Llava => LLAVA_ARCHITECTURE,
        }
    }

    /// Errors unless a config of this family was expected: `self` is what the config is.
    pub(crate) fn expect(self, expected: ModelFamily) -> Result<()> {
        if self == expected {
            return Ok(());
        }
        let what = match self {
            ModelFamily::Clip => "a CLIP checkpoint (CLIPModel), which scores images against labels",
            ModelFamily::Llava => "a generative LLaVA checkpoint (LlavaForConditionalGeneration)",
        };
        Err(Error::UnsupportedArchitecture(format!("this is {what}, not a {} one", expected.architecture())))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn families_are_told_by_architecture_or_model_type() {
        let family = |json: &str| ModelFamily::from_config_json(json);
        assert_eq!(family(r#"{"architectures": ["CLIPModel"]}"#).unwrap(), ModelFamily::Clip);
        assert_eq!(family(r#"{"model_type": "clip"}"#).unwrap(), ModelFamily::Clip);
        assert_eq!(family(r#"{"architectures": ["LlavaForConditionalGeneration"]}"#).unwrap(), ModelFamily::Llava);
        assert_eq!(family(r#"{"model_type": "llava"}"#).unwrap(), ModelFamily::Llava);
        let unknown = family(r#"{"architectures": ["BertModel"]}"#).unwrap_err().to_string();
        assert!(unknown.contains("BertModel") && unknown.contains("LlavaForConditionalGeneration"), "{unknown}");
        assert!(family(r#"{}"#).unwrap_err().to_string().contains("neither"));
        assert!(family("not json").unwrap_err().to_string().contains("not valid JSON"));
    }

    #[test]
    fn a_config_of_the_other_family_says_what_it_is() {
        let error = ModelFamily::Llava.expect(ModelFamily::Clip).unwrap_err().to_string();
        assert!(error.contains("generative LLaVA checkpoint") && error.contains("not a CLIPModel one"), "{error}");
        assert!(ModelFamily::Clip.expect(ModelFamily::Clip).is_ok());
    }
}
