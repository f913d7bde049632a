//! The only place where inputs become model tensors and outputs become text: images (decode,
//! resize, crop, normalize, as CLIP's image processor does), texts (the checkpoint's
//! tokenizer.json), LLaVA's prompts (chat template, expanded image placeholder) and generated ids
//! back to text.

mod chat_template;
mod decode;
mod image;
mod jpeg_end;
mod llava_processor;
mod llava_processor_config;
mod processor_config;
mod resample;
mod text;
mod text_stream;
mod tokenizer_class;
mod tokenizer_config;

pub use self::image::{CropRect as ImageCropRect, PreparedImage, Preprocessor};
pub use chat_template::{ChatTemplate, TemplateLimits, TemplateTokens};
pub use decode::{decode_image, read_image_file, ImageLimits, MAX_IMAGE_FILE_BYTES};
pub use llava_processor::{LlavaProcessor, LlavaPrompt};
pub use llava_processor_config::LlavaProcessorConfig;
pub use processor_config::{PreprocessorConfig, MAX_RESIZE_EDGE};
pub use text::{load_tokenizer, TextEncoder, TokenizedText, MAX_TEXT_BYTES};
pub use text_stream::{token_text, TextStream};
pub use tokenizer_class::load_tokenizer_of_class;
pub use tokenizer_config::TokenizerConfig;

/// CLIP's normalization constants, used when a checkpoint ships no preprocessor_config.json. Written
/// digit for digit as OpenAI published them.
pub const CLIP_MEAN: [f32; 3] = [0.481_454_66, 0.457_827_5, 0.408_210_73];
#[allow(clippy::excessive_precision)]
pub const CLIP_STD: [f32; 3] = [0.268_629_54, 0.261_302_58, 0.275_777_11];
