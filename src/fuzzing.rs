//! The entry points of the fuzz targets (fuzz/fuzz_targets/, one per function) and of their
//! replay in `cargo test` (tests/fuzz_regressions.rs): each takes bytes from outside, runs one
//! parser, or the whole explanation, on them the way the CLI and the wasm API do, and drops the
//! error that comes back. What they look for is a panic, an abort, a hang or an allocation past
//! libFuzzer's limit. A new input kind (a chat template, a generation config) is one more
//! function here and one more file in fuzz/fuzz_targets/.
//!
//! Inputs made of two parts put a 0xFF byte between them: JSON and tokenizer.json are UTF-8,
//! which never contains 0xFF, so the first one ends the text part.

use crate::api_options::ExplainOptions;
use crate::backend::cpu::CpuBackend;
use crate::config::ClipConfig;
use crate::default_model::default_model_files;
use crate::eval::explanation_drift;
use crate::explain::{Explainer, Explanation, MAX_STEPS};
use crate::heatmap::OverlayOptions;
use crate::loader::gguf::{is_gguf, GgufFile, CONFIG_KEY, NAME_KEY, PREPROCESSOR_KEY, QUANTIZATION_KEY, TOKENIZER_KEY};
use crate::loader::{MatrixSource, ModelFiles, QuantizedMatrix, Weights};
use crate::model::ClipModel;
use crate::preprocess::{decode_image, ImageLimits, Preprocessor, PreprocessorConfig, TextEncoder};
use crate::render::{render_explanation, title, MapChoice};
use crate::scene::{Scene, SceneSpec};
use candle_core::quantized::GgmlDType;
use image::RgbImage;
use serde::Deserialize;
use std::sync::OnceLock;

const SEPARATOR: u8 = 0xFF;

/// `data` split at its first 0xFF: the text part (lossily UTF-8) and the rest.
fn split(data: &[u8]) -> (String, &[u8]) {
    let end = data.iter().position(|&b| b == SEPARATOR).unwrap_or(data.len());
    (String::from_utf8_lossy(&data[..end]).into_owned(), data.get(end + 1..).unwrap_or(&[]))
}

fn default_files() -> &'static ModelFiles {
    static FILES: OnceLock<ModelFiles> = OnceLock::new();
    FILES.get_or_init(|| default_model_files().expect("the embedded model's files"))
}

fn default_config() -> ClipConfig {
    ClipConfig::from_json(&default_files().config_json).expect("the embedded model's config")
}

/// The embedded model, loaded once per process.
fn default_explainer() -> &'static Explainer<CpuBackend> {
    static EXPLAINER: OnceLock<Explainer<CpuBackend>> = OnceLock::new();
    EXPLAINER.get_or_init(|| Explainer::load(CpuBackend, default_files()).expect("the embedded model loads"))
}

/// model.safetensors: the header and every tensor as the loader reads them, then the embedded
/// model's architecture built from them (names and shapes checked).
pub fn safetensors(data: &[u8]) {
    if is_gguf(data) {
        return;
    }
    let Ok(weights) = Weights::from_bytes(data) else { return };
    let _ = weights.dtype_name();
    for (name, shape) in weights.tensor_shapes() {
        let _ = weights.get(&name, &shape);
    }
    let _ = ClipModel::new(&CpuBackend, default_config(), &weights);
}

/// A GGUF file: the parser, its metadata, every tensor expanded or kept in blocks, a few rows of
/// each quantized matrix, then the model as `Engine.fromGguf` and `--model x.gguf` load it: the
/// files from the metadata, the config, the model built from the tensors. (The tokenizer.json
/// it carries is left to the tokenizer target: parsing it here would cost most of each run.)
pub fn gguf(data: &[u8]) {
    let Ok(file) = GgufFile::parse(data) else { return };
    for key in [CONFIG_KEY, TOKENIZER_KEY, PREPROCESSOR_KEY, NAME_KEY, QUANTIZATION_KEY] {
        let _ = file.metadata_string(key);
    }
    let Ok(weights) = Weights::from_bytes(data) else { return };
    let _ = weights.dtype_name();
    for (name, shape) in weights.tensor_shapes() {
        let _ = weights.get(&name, &shape);
        if let [rows, cols] = shape[..] {
            if let Ok(MatrixSource::Quantized(matrix)) = weights.get_matrix(&name, [rows, cols]) {
                read_rows(&matrix);
            }
        }
    }
    let Ok(files) = ModelFiles::from_gguf_bytes(String::new(), data.to_vec()) else { return };
    let Ok(config) = ClipConfig::from_json(&files.config_json) else { return };
    if let Some(json) = &files.preprocessor_json {
        let _ = PreprocessorConfig::from_json(json, config.vision_config.image_size);
    }
    let _ = ClipModel::new(&CpuBackend, config, &weights);
}

/// The ggml block formats a model file may hold, by the first byte of a dequantizer input.
const BLOCK_FORMATS: [GgmlDType; 11] = [
    GgmlDType::Q4_0,
    GgmlDType::Q4_1,
    GgmlDType::Q5_0,
    GgmlDType::Q5_1,
    GgmlDType::Q8_0,
    GgmlDType::Q2K,
    GgmlDType::Q3K,
    GgmlDType::Q4K,
    GgmlDType::Q5K,
    GgmlDType::Q6K,
    GgmlDType::F16,
];

/// The dequantizers on raw blocks: byte 0 picks the format, byte 1 the blocks per row, the rest
/// are the blocks (any bytes are a valid block). The same bytes as f32 values go through the
/// quantizer `sightline quantize` runs on a checkpoint's weights (NaN and infinities included).
pub fn gguf_blocks(data: &[u8]) {
    let [format, blocks_per_row, blocks @ ..] = data else { return };
    let dtype = BLOCK_FORMATS[usize::from(*format) % BLOCK_FORMATS.len()];
    let cols = dtype.block_size() * (usize::from(*blocks_per_row) % 4 + 1);
    let row_bytes = cols / dtype.block_size() * dtype.type_size();
    let rows = blocks.len() / row_bytes;
    if let Ok(matrix) = QuantizedMatrix::from_blocks(dtype, rows, cols, &blocks[..rows * row_bytes], "fuzzed") {
        read_rows(&matrix);
        let _ = matrix.dequantize();
    }
    let values: Vec<f32> = blocks.chunks_exact(4).map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]])).collect();
    let rows = values.len() / cols;
    let _ = QuantizedMatrix::quantize(&values[..rows * cols], rows, cols, dtype);
}

/// The reads a model makes of a quantized matrix: token rows (one past the end included) and a
/// backward pass's chunks.
fn read_rows(matrix: &QuantizedMatrix) {
    let (rows, _) = matrix.shape();
    let last = u32::try_from(rows).unwrap_or(u32::MAX);
    let _ = matrix.rows(&[0, last.saturating_sub(1), last]);
    let _ = matrix.row_range(rows / 2, rows);
    let _ = matrix.for_each_row_chunk(|_, _| Ok(()));
}

/// config.json: parsed and validated, every derived size computed, then the embedded model's
/// weights loaded under it (they match only the embedded config; everything else must be a
/// clear error).
pub fn config_json(data: &[u8]) {
    let Ok(config) = ClipConfig::from_json(&String::from_utf8_lossy(data)) else { return };
    let vision = &config.vision_config;
    let _ = (config.text_config.encoder(), vision.encoder(), vision.num_patches());
    let _ = crate::default_model::has_default_config(&config);
    let Ok(weights) = Weights::from_files(&default_files().weights) else { return };
    let _ = ClipModel::new(&CpuBackend, config, &weights);
}

/// preprocessor_config.json for the embedded model's input size, then a few small images (a
/// square, a wide and a tall one) through the pixel pipeline it describes.
pub fn preprocessor_config(data: &[u8]) {
    let image_size = default_config().vision_config.image_size;
    let Ok(config) = PreprocessorConfig::from_json(&String::from_utf8_lossy(data), image_size) else { return };
    let preprocessor = Preprocessor::new(config);
    for (width, height) in [(5, 5), (7, 2), (1, 9)] {
        let _ = preprocessor.prepare(&RgbImage::from_pixel(width, height, image::Rgb([200, 100, 50])));
    }
}

/// tokenizer.json, then the text after the separator (or a fixed caption) tokenized with it, as
/// `TextEncoder` does for a model whose config accepts any vocabulary size.
pub fn tokenizer_json(data: &[u8]) {
    let end = data.iter().position(|&b| b == SEPARATOR).unwrap_or(data.len());
    let (json, text) = (&data[..end], data.get(end + 1..));
    let mut config = default_config().text_config;
    config.vocab_size = usize::MAX;
    let Ok(encoder) = TextEncoder::new(json, &config) else { return };
    let text = text.map(String::from_utf8_lossy).unwrap_or("a red circle and a blue square".into());
    let _ = encoder.encode(&text);
}

/// An image file (PNG, JPEG, GIF, BMP, WebP or anything else) decoded under the engine's
/// limits, then resized, cropped and normalized as the embedded model's processor does.
pub fn image(data: &[u8]) {
    let Ok(decoded) = decode_image(data, ImageLimits::default()) else { return };
    let image_size = default_config().vision_config.image_size;
    let config = match &default_files().preprocessor_json {
        Some(json) => PreprocessorConfig::from_json(json, image_size).expect("the embedded processor config"),
        None => PreprocessorConfig::clip_default(image_size),
    };
    let _ = Preprocessor::new(config).prepare(&decoded);
}

/// The arguments of the wasm API's `generateScene(seed, size, minObjects, maxObjects)`.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct SceneArguments {
    seed: u64,
    size: u32,
    min_objects: usize,
    max_objects: usize,
}

/// Scenes larger than this are only validated, not drawn, to keep runs fast.
const FUZZ_SCENE_SIDE: u32 = 128;

/// The JSON objects the wasm API takes: explain options (checked as `Engine.explain` checks
/// them), explanation JSON (`overlayPng` draws it with a title over a small image,
/// `explanationDrift` compares it with itself) and `generateScene`'s arguments.
pub fn api_json(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    if let Ok(options) = serde_json::from_str::<ExplainOptions>(&text) {
        let _ = options.request(&[]);
    }
    if let Ok(scene) = serde_json::from_str::<SceneArguments>(&text) {
        let spec = SceneSpec { min_objects: scene.min_objects, max_objects: scene.max_objects, ..SceneSpec::default() };
        if scene.size <= FUZZ_SCENE_SIDE {
            let _ = Scene::generate(scene.seed, scene.size, &spec);
        } else {
            let _ = spec.validate(scene.size);
        }
    }
    if let Ok(explanation) = serde_json::from_str::<Explanation>(&text) {
        let _ = explanation_drift(&explanation, &explanation);
        let image = RgbImage::from_pixel(13, 9, image::Rgb([90, 120, 150]));
        for choice in [MapChoice::Patches, MapChoice::Pixels] {
            let options = OverlayOptions { title: Some(title(&explanation)), ..OverlayOptions::default() };
            let _ = render_explanation(&image, &explanation, choice, &options);
        }
    }
}

/// Steps of the batched methods in fuzzed requests: enough to batch, few enough to keep
/// thousands of runs a minute. Counts outside 1..=MAX_STEPS are kept, so their refusal is
/// exercised too.
const FUZZ_STEPS: usize = 3;

/// The whole `explain` of the embedded model, as `Engine.explain` runs it: explain options as
/// JSON, the separator, then the image file.
pub fn explain(data: &[u8]) {
    let (json, image) = split(data);
    let Ok(mut options) = serde_json::from_str::<ExplainOptions>(&json) else { return };
    options.steps = Some(match options.steps {
        Some(steps) if (1..=MAX_STEPS).contains(&steps) => steps.min(FUZZ_STEPS),
        Some(refused) => refused,
        None => FUZZ_STEPS,
    });
    let Ok(request) = options.request(image) else { return };
    let _ = default_explainer().explain(&request);
}
