//! The model that ships inside the binary and the wasm, so nothing needs downloading: a tiny CLIP
//! trained on the synthetic scenes of `crate::scene` (assets/default-model/TRAINING.md says how).

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
        weights: WEIGHTS.to_vec(),
        tokenizer_json: TOKENIZER_JSON.to_vec(),
        preprocessor_json: Some(PREPROCESSOR_JSON.to_string()),
    })
}
