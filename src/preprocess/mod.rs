//! The only place where inputs become model tensors: images (decode, resize, crop, normalize, as
//! CLIP's image processor does) and texts (the checkpoint's tokenizer.json).

mod decode;
mod image;
mod jpeg_end;
mod processor_config;
mod resample;
mod text;

pub use self::image::{CropRect as ImageCropRect, PreparedImage, Preprocessor};
pub use decode::{decode_image, read_image_file, ImageLimits, MAX_IMAGE_FILE_BYTES};
pub use processor_config::{PreprocessorConfig, MAX_RESIZE_EDGE};
pub use text::{load_tokenizer, TextEncoder, TokenizedText, MAX_TEXT_BYTES};

/// CLIP's normalization constants, used when a checkpoint ships no preprocessor_config.json. Written
/// digit for digit as OpenAI published them.
pub const CLIP_MEAN: [f32; 3] = [0.481_454_66, 0.457_827_5, 0.408_210_73];
#[allow(clippy::excessive_precision)]
pub const CLIP_STD: [f32; 3] = [0.268_629_54, 0.261_302_58, 0.275_777_11];
