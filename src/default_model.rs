//! The model that ships inside the binary and the wasm, so nothing needs downloading: a tiny CLIP
//! trained on the synthetic scenes of `crate::scene` (assets/default-model/TRAINING.md says how).

use crate::config::ClipConfig;
use crate::error::Result;
use crate::loader::ModelFiles;

/// The name reports give the embedded model.
pub const DEFAULT_MODEL_NAME: &str = "sightline-default";

const CONFIG_JSON: &str = include_str!("../assets/default-model/config.json");
const WEIGHTS: &[u8] = include_bytes!("../assets/default-model/model.safetensors");
const TOKENIZER_JSON: &[u8] = include_bytes!("../assets/default-model/tokenizer.json");
const PREPROCESSOR_JSON: &str = include_str!("../assets/default-model/preprocessor_config.json");

/// The embedded model's files. Returns a `Result` like every other source of model files, though
/// only a broken build could make it fail.
pub fn default_model_files() -> Result<ModelFiles> {
    Ok(ModelFiles {
        name: DEFAULT_MODEL_NAME.to_string(),
        config_json: CONFIG_JSON.to_string(),
        weights: WEIGHTS.to_vec().into(),
        tokenizer_json: TOKENIZER_JSON.to_vec(),
        preprocessor_json: Some(PREPROCESSOR_JSON.to_string()),
        generative: Default::default(),
    })
}

/// Bytes of all the embedded files (config, weights, tokenizer, preprocessor config): what a
/// download of this model would weigh, to set beside the size of a GGUF file, which carries the
/// same four.
pub fn default_model_size() -> usize {
    CONFIG_JSON.len() + WEIGHTS.len() + TOKENIZER_JSON.len() + PREPROCESSOR_JSON.len()
}

/// Whether `config` is the embedded model's (e.g. of a GGUF file that `sightline quantize
/// --model default` wrote, whose config.json is the embedded one verbatim), so that the embedded
/// weights are its full-precision original.
pub fn has_default_config(config: &ClipConfig) -> bool {
    // Compared as parsed values: the same model may have been written with other whitespace or
    // key order.
    match (ClipConfig::from_json(CONFIG_JSON), serde_json::to_value(config)) {
        (Ok(default), Ok(given)) => serde_json::to_value(default).is_ok_and(|default| default == given),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn knows_its_own_config_and_no_other() {
        let own = ClipConfig::from_json(CONFIG_JSON).unwrap();
        assert!(has_default_config(&own));
        let mut wider = own.clone();
        wider.vision_config.num_hidden_layers += 1;
        assert!(!has_default_config(&wider));
        assert!(!has_default_config(&ClipConfig::preset("clip-vit-b32").unwrap()));
    }

    #[test]
    fn its_size_is_the_sum_of_its_files() {
        let files = default_model_files().unwrap();
        let total = files.config_json.len()
            + files.weights.byte_len()
            + files.tokenizer_json.len()
            + files.preprocessor_json.map_or(0, |p| p.len());
        assert_eq!(default_model_size(), total);
        assert!(default_model_size() > 1_000_000);
    }
}
