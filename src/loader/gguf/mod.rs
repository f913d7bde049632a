//! GGUF: one file holding a checkpoint's tensors under their Hugging Face names (dense or in
//! ggml's quantized block formats) with config.json, tokenizer.json and preprocessor_config.json
//! carried as metadata strings, so a browser fetches a single file.

mod cursor;
mod parse;
mod tensor_type;
mod write;

pub use parse::{GgufFile, MetadataValue, TensorInfo, DEFAULT_ALIGNMENT, MAGIC, MAX_DIMS};
pub use tensor_type::{is_dense, type_name};
pub use write::{write_gguf, MetadataToWrite, TensorToWrite};

/// The Hugging Face config.json, verbatim.
pub const CONFIG_KEY: &str = "sightline.huggingface.config_json";
/// The Hugging Face tokenizer.json, verbatim, under the key llama.cpp uses for it.
pub const TOKENIZER_KEY: &str = "tokenizer.huggingface.json";
/// The Hugging Face preprocessor_config.json, when the checkpoint has one.
pub const PREPROCESSOR_KEY: &str = "sightline.huggingface.preprocessor_config_json";
/// A generative checkpoint's other text files, each under its own key when it has the file.
pub const PROCESSOR_KEY: &str = "sightline.huggingface.processor_config_json";
pub const GENERATION_CONFIG_KEY: &str = "sightline.huggingface.generation_config_json";
pub const TOKENIZER_CONFIG_KEY: &str = "sightline.huggingface.tokenizer_config_json";
pub const SPECIAL_TOKENS_MAP_KEY: &str = "sightline.huggingface.special_tokens_map_json";
pub const CHAT_TEMPLATE_JSON_KEY: &str = "sightline.huggingface.chat_template_json";
/// chat_template.jinja, under the key llama.cpp reads a chat template from.
pub const CHAT_TEMPLATE_KEY: &str = "tokenizer.chat_template";
pub const NAME_KEY: &str = "general.name";
pub const ARCHITECTURE_KEY: &str = "general.architecture";
/// The format `sightline quantize` was asked for ("q4_0", ...); tensors may differ (fallbacks).
pub const QUANTIZATION_KEY: &str = "sightline.quantization";

/// Whether `bytes` start like a GGUF file.
pub fn is_gguf(bytes: &[u8]) -> bool {
    bytes.starts_with(MAGIC)
}
