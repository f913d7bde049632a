//! The browser's entry points: bytes and options in, the explanation JSON of the CLI contract out.
//! The module lives in a Web Worker (www/worker.js), which owns one `Engine` at a time. Errors come
//! back as JS exceptions with the engine's message; nothing here panics on user input.

use crate::api_options::ExplainOptions;
use crate::backend::cpu::CpuBackend;
use crate::backend::webgpu::WebGpuBackend;
use crate::catalog::EngineFacts;
use crate::default_model::default_model_files;
use crate::error::Error;
use crate::eval::curves::map_curves;
use crate::explain::{explain_with_fallback_async, Explainer};
use crate::heatmap::{encode_png, heat_layer, ColorScale, Colormap, OverlayOptions, ScoreMap};
use crate::loader::ModelFiles;
use crate::preprocess::{decode_image, ImageCropRect, ImageLimits};
use crate::render::{crop_in_pixels, enlarged, render_explanation, title, MapChoice};
use crate::scene::{Scene, SceneSpec};
use crate::wasm_generative::{family_name, Checkpoint};
use serde::{Deserialize, Serialize};
use std::cell::RefCell;
use std::rc::Rc;
use wasm_bindgen::prelude::*;

fn js_error(error: Error) -> JsError {
    JsError::new(&error.to_string())
}

fn to_json<T: Serialize>(value: &T) -> Result<String, JsError> {
    serde_json::to_string(value).map_err(|e| JsError::new(&e.to_string()))
}

fn explain_options_from_js(options: JsValue) -> Result<ExplainOptions, JsError> {
    serde_wasm_bindgen::from_value(options).map_err(|e| JsError::new(&format!("invalid options: {e}")))
}

/// How the page wants an explanation drawn for export; field names follow JS conventions.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct OverlayRequest {
    colormap: Option<String>,
    opacity: f32,
    #[serde(default)]
    pixel_map: bool,
    /// At least this wide (the size the page shows the image at); 0 keeps the image's own size.
    #[serde(default)]
    min_width: u32,
    /// Enlarge with square pixels, as the page draws small images.
    #[serde(default)]
    pixelated: bool,
    title: Option<String>,
}

/// `progress(done, total)` for the page's optional callback; a throwing callback is ignored.
fn progress_reporter(progress: &Option<js_sys::Function>) -> impl Fn(usize, usize) + '_ {
    move |done, total| {
        if let Some(callback) = progress {
            let _ = callback.call2(&JsValue::NULL, &(done as u32).into(), &(total as u32).into());
        }
    }
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct EngineInfo<'a> {
    model: &'a crate::explain::ModelInfo,
    family: &'static str,
    backend: &'static str,
    image_size: usize,
    patch_size: usize,
    patch_grid: [usize; 2],
    vision_layers: usize,
    vision_heads: usize,
    text_max_tokens: usize,
    /// The built-in model's configuration (also its quantized copies): it knows only the coloured
    /// shapes of the synthetic scenes.
    shapes_only: bool,
}

#[wasm_bindgen]
pub struct Engine {
    explainer: Rc<Explainer<CpuBackend>>,
    /// The same model on the page's WebGPU device once `attachWebGpu` succeeded; dropped when the
    /// device fails, after which explanations run on the CPU.
    gpu: Rc<RefCell<Option<Rc<Explainer<WebGpuBackend>>>>>,
    /// The model's files, kept from construction until `attachWebGpu` uploads them to the GPU or
    /// `releaseModelFiles` says that will not happen.
    files: RefCell<Option<ModelFiles>>,
}

#[wasm_bindgen]
impl Engine {
    /// The model embedded in the wasm.
    #[wasm_bindgen(js_name = withDefaultModel)]
    pub fn with_default_model() -> Result<Engine, JsError> {
        let files = default_model_files().map_err(js_error)?;
        Self::load(files)
    }

    /// A Hugging Face CLIP checkpoint from fetched or picked files.
    #[wasm_bindgen(js_name = fromFiles)]
    pub fn from_files(
        name: String,
        config_json: String,
        weights: Vec<u8>,
        tokenizer_json: Vec<u8>,
        preprocessor_json: Option<String>,
    ) -> Result<Engine, JsError> {
        let weights = weights.into();
        Self::load(ModelFiles {
            name,
            config_json,
            weights,
            tokenizer_json,
            preprocessor_json,
            generative: Default::default(),
        })
    }

    /// One GGUF file from `sightline quantize` (config, tokenizer and preprocessor config in its
    /// metadata). The file's bytes are released once the model is built; quantized weights stay
    /// quantized in memory.
    #[wasm_bindgen(js_name = fromGguf)]
    pub fn from_gguf(name: String, bytes: Vec<u8>) -> Result<Engine, JsError> {
        let files = ModelFiles::from_gguf_bytes(name, bytes).map_err(js_error)?;
        Self::load(files)
    }

    /// A CLIP checkpoint's files (see `Checkpoint`); a generative one is refused, naming the
    /// engine that fits.
    #[wasm_bindgen(js_name = fromCheckpoint)]
    pub fn from_checkpoint(checkpoint: Checkpoint) -> Result<Engine, JsError> {
        let files = checkpoint.into_model_files().map_err(js_error)?;
        let family = crate::config::ModelFamily::from_config_json(&files.config_json).map_err(js_error)?;
        if family != crate::config::ModelFamily::Clip {
            return Err(JsError::new(&format!(
                "{} is a {} checkpoint, which answers questions rather than labelling images",
                files.name,
                family.architecture()
            )));
        }
        Self::load(files)
    }

    fn load(files: ModelFiles) -> Result<Engine, JsError> {
        Ok(Engine {
            explainer: Rc::new(Explainer::load(CpuBackend, &files).map_err(js_error)?),
            gpu: Rc::default(),
            files: RefCell::new(Some(files)),
        })
    }

    /// Loads the same model onto the page's WebGPU device, so that `explainAsync` runs there.
    /// Resolves to the adapter's description; rejects with the reason when there is no adapter
    /// or the model does not fit (the engine then stays on the CPU). Releases the model files.
    #[wasm_bindgen(js_name = attachWebGpu)]
    pub fn attach_web_gpu(&self) -> js_sys::Promise {
        let files = self.files.borrow_mut().take();
        let slot = self.gpu.clone();
        wasm_bindgen_futures::future_to_promise(async move {
            let files = files.ok_or_else(|| JsError::new("the model files were already released"))?;
            let backend = WebGpuBackend::create().await.map_err(js_error)?;
            let description = backend.adapter_description();
            let explainer = Explainer::load(backend, &files).map_err(js_error)?;
            *slot.borrow_mut() = Some(Rc::new(explainer));
            Ok(JsValue::from_str(&description))
        })
    }

    /// Frees the model files kept for `attachWebGpu` when the engine stays on the CPU.
    #[wasm_bindgen(js_name = releaseModelFiles)]
    pub fn release_model_files(&self) {
        self.files.borrow_mut().take();
    }

    /// `explain` on the WebGPU device when one is attached, else on the CPU; resolves to the
    /// explanation JSON. When the device fails (lost, out of memory) the explanation is redone on
    /// the CPU, carries a warning saying so, and later ones stay on the CPU.
    #[wasm_bindgen(js_name = explainAsync)]
    pub fn explain_async(
        &self,
        image: Vec<u8>,
        options: JsValue,
        progress: Option<js_sys::Function>,
    ) -> js_sys::Promise {
        let cpu = self.explainer.clone();
        let slot = self.gpu.clone();
        let gpu = slot.borrow().clone();
        wasm_bindgen_futures::future_to_promise(async move {
            let options = explain_options_from_js(options)?;
            let request = options.request(&image).map_err(js_error)?;
            let report = progress_reporter(&progress);
            let explanation = match gpu {
                // A failed device stays failed: after one fallback, later explanations go
                // straight to the CPU.
                Some(gpu) => explain_with_fallback_async(
                    &gpu,
                    || {
                        slot.borrow_mut().take();
                        Ok(cpu.clone())
                    },
                    &request,
                    &report,
                )
                .await
                .map_err(js_error)?,
                None => cpu.explain_with_progress(&request, &report).map_err(js_error)?,
            };
            Ok(JsValue::from_str(&to_json(&explanation)?))
        })
    }

    /// Whether this model's config is the embedded model's, whose weights are then its
    /// full-precision original.
    #[wasm_bindgen(js_name = hasDefaultConfig)]
    pub fn has_default_config(&self) -> bool {
        crate::default_model::has_default_config(self.explainer.config())
    }

    /// The model's name and geometry, as JSON.
    pub fn info(&self) -> Result<String, JsError> {
        let config = self.explainer.config();
        let vision = &config.vision_config;
        to_json(&EngineInfo {
            model: &self.explainer.info,
            family: family_name(crate::config::ModelFamily::Clip),
            // Where `explainAsync` runs now.
            backend: if self.gpu.borrow().is_some() { "webgpu" } else { "cpu" },
            image_size: vision.image_size,
            patch_size: vision.patch_size,
            patch_grid: [vision.grid_side(), vision.grid_side()],
            vision_layers: vision.num_hidden_layers,
            vision_heads: vision.num_attention_heads,
            text_max_tokens: config.text_config.max_position_embeddings,
            shapes_only: crate::default_model::has_default_config(config),
        })
    }

    /// Explains an encoded image; `progress(done, total)` is called between batches of the
    /// batched methods. Returns the explanation JSON.
    pub fn explain(
        &self,
        image: &[u8],
        options: JsValue,
        progress: Option<js_sys::Function>,
    ) -> Result<String, JsError> {
        let options = explain_options_from_js(options)?;
        let request = options.request(image).map_err(js_error)?;
        let report = progress_reporter(&progress);
        let explanation = self.explainer.explain_with_progress(&request, &report).map_err(js_error)?;
        to_json(&explanation)
    }

    /// Token ids and strings of one text, as JSON `{ids, tokens, pooledPosition, warning}`.
    pub fn tokenize(&self, text: &str) -> Result<String, JsError> {
        let tokenized = self.explainer.tokenize(text).map_err(js_error)?;
        to_json(&serde_json::json!({
            "ids": tokenized.ids,
            "tokens": tokenized.tokens,
            "pooledPosition": tokenized.pooled_position,
            "warning": tokenized.warning,
        }))
    }

    /// Every vision layer's attention probabilities, flattened (layers, heads, T, T).
    #[wasm_bindgen(js_name = attentionMaps)]
    pub fn attention_maps(&self, image: &[u8]) -> Result<Vec<f32>, JsError> {
        let image = decode_image(image, self.explainer.image_limits).map_err(js_error)?;
        let layers = self.explainer.vision_attention(&image).map_err(js_error)?;
        Ok(layers.into_iter().flat_map(|layer| layer.data).collect())
    }

    /// Deletion and insertion curves (`eval::curves::map_curves`, as `sightline curves`) of a
    /// patch map: the target's zero-shot probability among `texts` as the patches are removed from
    /// the image (set to 0 in normalized space) or restored onto an empty one, in order of
    /// decreasing score; with a single text, the cosine similarity of image and text. Returns JSON
    /// `{quantity, order, deletion, insertion, deletion_auc, insertion_auc}`.
    #[wasm_bindgen(js_name = faithfulnessCurves)]
    pub fn faithfulness_curves(
        &self,
        image: &[u8],
        patch_scores: Vec<f32>,
        texts: JsValue,
        target: usize,
    ) -> Result<String, JsError> {
        let texts: Vec<String> =
            serde_wasm_bindgen::from_value(texts).map_err(|e| JsError::new(&format!("invalid texts: {e}")))?;
        let image = decode_image(image, self.explainer.image_limits).map_err(js_error)?;
        to_json(&map_curves(&self.explainer, &image, &patch_scores, &texts, target).map_err(js_error)?)
    }

    /// The explanation drawn over the image, with legend and title, as PNG: at the image's own
    /// resolution, or enlarged to at least `minWidth` pixels (see `render::enlarged`). Options
    /// (`OverlayRequest`): colormap, opacity, pixelMap, minWidth, pixelated, title (the CLI's
    /// title when absent).
    #[wasm_bindgen(js_name = overlayPng)]
    pub fn overlay_png(&self, image: &[u8], explanation_json: &str, options: JsValue) -> Result<Vec<u8>, JsError> {
        overlay_png_of(image, explanation_json, options)
    }
}

/// `Engine.overlayPng` without a model: the explanation JSON (CLIP's fields, which the page also
/// gives a generated word's explanation) drawn over the image.
#[wasm_bindgen(js_name = overlayPng)]
pub fn overlay_png_of(image: &[u8], explanation_json: &str, options: JsValue) -> Result<Vec<u8>, JsError> {
    let request: OverlayRequest =
        serde_wasm_bindgen::from_value(options).map_err(|e| JsError::new(&format!("invalid overlay options: {e}")))?;
    let mut explanation: crate::explain::Explanation =
        serde_json::from_str(explanation_json).map_err(|e| JsError::new(&format!("invalid explanation: {e}")))?;
    let image = decode_image(image, ImageLimits::default()).map_err(js_error)?;
    let (image, crop) = enlarged(&image, explanation.crop, request.min_width, request.pixelated);
    explanation.crop = crop;
    let options = OverlayOptions {
        colormap: colormap_choice(request.colormap)?,
        opacity: request.opacity,
        title: Some(request.title.unwrap_or_else(|| title(&explanation))),
        ..OverlayOptions::default()
    };
    let choice = if request.pixel_map { MapChoice::Pixels } else { MapChoice::Patches };
    let overlay = render_explanation(&image, &explanation, choice, &options).map_err(js_error)?;
    encode_png(&overlay).map_err(|e| js_error(e.into()))
}

/// A generated scene for the bundled examples: the PNG and its objects and captions.
#[wasm_bindgen]
pub struct SceneExample {
    png: Vec<u8>,
    json: String,
}

#[wasm_bindgen]
impl SceneExample {
    pub fn png(&self) -> Vec<u8> {
        self.png.clone()
    }

    pub fn json(&self) -> String {
        self.json.clone()
    }
}

#[wasm_bindgen(js_name = generateScene)]
pub fn generate_scene(seed: u64, size: u32, min_objects: usize, max_objects: usize) -> Result<SceneExample, JsError> {
    let spec = SceneSpec { min_objects, max_objects, ..SceneSpec::default() };
    let scene = Scene::generate(seed, size, &spec).map_err(|e| js_error(e.into()))?;
    let png = encode_png(&scene.image).map_err(|e| js_error(e.into()))?;
    let captions: Vec<&str> = scene.captions.iter().map(|c| c.text.as_str()).collect();
    let objects: Vec<serde_json::Value> =
        scene.objects.iter().map(|o| serde_json::json!({ "phrase": o.phrase(), "bbox": o.bbox })).collect();
    let json = to_json(&serde_json::json!({ "seed": seed, "size": size, "captions": captions, "objects": objects }))?;
    Ok(SceneExample { png, json })
}

/// An image file's pixels as the engine explains them (upright by its EXIF orientation, 8 bits,
/// transparency over white), for the page to display: what is shown is what is explained.
#[wasm_bindgen]
pub struct DecodedImage {
    width: u32,
    height: u32,
    rgba: Vec<u8>,
}

#[wasm_bindgen]
impl DecodedImage {
    #[wasm_bindgen(getter)]
    pub fn width(&self) -> u32 {
        self.width
    }

    #[wasm_bindgen(getter)]
    pub fn height(&self) -> u32 {
        self.height
    }

    /// Opaque RGBA, row-major, ready for `ImageData`; the object is consumed (read the sizes first).
    #[wasm_bindgen(js_name = intoRgba)]
    pub fn into_rgba(self) -> Vec<u8> {
        self.rgba
    }
}

#[wasm_bindgen(js_name = decodeImage)]
pub fn decode_image_for_display(bytes: &[u8]) -> Result<DecodedImage, JsError> {
    let image = decode_image(bytes, ImageLimits::default()).map_err(js_error)?;
    let (width, height) = image.dimensions();
    let rgba = image.pixels().flat_map(|p| [p.0[0], p.0[1], p.0[2], 255]).collect();
    Ok(DecodedImage { width, height, rgba })
}

// ---------------------------------------------------------------- facts and painting, without a model
//
// The page instantiates the module a second time on its own thread (www/local-engine.js) for these:
// they are quick, pure and must not wait behind an explanation in the worker.

/// What the engine offers (`catalog::EngineFacts`) as JSON: methods, options, colormaps, scenes.
#[wasm_bindgen(js_name = engineFacts)]
pub fn engine_facts() -> Result<String, JsError> {
    to_json(&EngineFacts::get())
}

fn colormap_choice(name: Option<String>) -> Result<Option<Colormap>, JsError> {
    name.as_deref().map(Colormap::from_name).transpose().map_err(|e| js_error(e.into()))
}

#[derive(Serialize)]
struct ScaleJson {
    min: f32,
    max: f32,
    colormap: &'static str,
    signed: bool,
    diverging: bool,
    degenerate: bool,
}

/// The colour scale the CLI's overlay fits to `scores` (`colormap`: a name, or none for inferno
/// or, with a negative score, coolwarm), as JSON `{min, max, colormap, signed, diverging,
/// degenerate}`.
#[wasm_bindgen(js_name = colorScale)]
pub fn color_scale(scores: &[f32], colormap: Option<String>) -> Result<String, JsError> {
    let scale = ColorScale::fit(scores, None, colormap_choice(colormap)?);
    to_json(&ScaleJson {
        min: scale.min,
        max: scale.max,
        colormap: scale.colormap.name(),
        signed: scale.is_signed(),
        diverging: scale.colormap.is_diverging(),
        degenerate: scale.is_degenerate(),
    })
}

/// A `rows` × `cols` score grid resampled to `width` × `height` and coloured on the scale fitted
/// to it, as the CLI's overlay paints it: RGBA bytes, transparent for an all-zero map.
#[wasm_bindgen(js_name = heatLayer)]
pub fn heat_layer_rgba(
    scores: &[f32],
    rows: usize,
    cols: usize,
    width: u32,
    height: u32,
    colormap: Option<String>,
) -> Result<Vec<u8>, JsError> {
    let scale = ColorScale::fit(scores, None, colormap_choice(colormap)?);
    heat_layer(ScoreMap::Patches { rows, cols, scores }, width, height, &scale).map_err(|e| js_error(e.into()))
}

/// The RGB colour of each of `values` on the scale fitted to `scale_scores`: token chips (scaled
/// on the ordinary tokens) and legends (values from the scale's minimum to its maximum).
#[wasm_bindgen(js_name = scoreColours)]
pub fn score_colours(values: &[f32], scale_scores: &[f32], colormap: Option<String>) -> Result<Vec<u8>, JsError> {
    let scale = ColorScale::fit(scale_scores, None, colormap_choice(colormap)?);
    Ok(values.iter().flat_map(|&value| scale.colour(value).0).collect())
}

/// An explanation's crop rectangle snapped to whole pixels inside a `width` × `height` image, as
/// the CLI's overlay places it: `[x, y, width, height]`.
#[wasm_bindgen(js_name = cropInPixels)]
pub fn crop_in_pixels_of(x: f32, y: f32, crop_width: f32, crop_height: f32, width: u32, height: u32) -> Vec<u32> {
    let crop = crop_in_pixels(ImageCropRect { x, y, width: crop_width, height: crop_height }, width, height);
    vec![crop.x, crop.y, crop.width, crop.height]
}

// ---------------------------------------------------------------- comparing with full precision

fn quantize_options(format: &str) -> Result<crate::quantize::QuantizeOptions, JsError> {
    let format: crate::quantize::QuantFormat = format.parse().map_err(js_error)?;
    Ok(crate::quantize::QuantizeOptions { format, quantize_embeddings: false })
}

/// The embedded model quantized in the browser, exactly as `sightline quantize --model default
/// --to <format>` writes it: the GGUF file's bytes, for `Engine.fromGguf`.
#[wasm_bindgen(js_name = quantizeDefaultModel)]
pub fn quantize_default_model(format: &str) -> Result<Vec<u8>, JsError> {
    let files = default_model_files().map_err(js_error)?;
    let model = crate::quantize::quantize_model(&files, &quantize_options(format)?).map_err(js_error)?;
    Ok(model.bytes)
}

/// A full-precision checkpoint from fetched or picked files, quantized as `sightline quantize`
/// does: the GGUF file's bytes.
#[wasm_bindgen(js_name = quantizeModel)]
pub fn quantize_model_files(
    name: String,
    config_json: String,
    weights: Vec<u8>,
    tokenizer_json: Vec<u8>,
    preprocessor_json: Option<String>,
    format: &str,
) -> Result<Vec<u8>, JsError> {
    let options = quantize_options(format)?;
    let weights = weights.into();
    let files =
        ModelFiles { name, config_json, weights, tokenizer_json, preprocessor_json, generative: Default::default() };
    let model = crate::quantize::quantize_model(&files, &options).map_err(js_error)?;
    Ok(model.bytes)
}

/// Bytes of all the embedded model's files, to set beside a GGUF file's size.
#[wasm_bindgen(js_name = defaultModelSize)]
pub fn default_model_size() -> usize {
    crate::default_model::default_model_size()
}

/// `eval::explanation_drift` of two explanation JSONs (the same request explained by two versions
/// of one model), as JSON `{spearman, top_patch_a, top_patch_b, top_patch_agrees,
/// score_difference, max_probability_difference}`.
#[wasm_bindgen(js_name = explanationDrift)]
pub fn explanation_drift(a_json: &str, b_json: &str) -> Result<String, JsError> {
    let parse = |json: &str| -> Result<crate::explain::Explanation, JsError> {
        serde_json::from_str(json).map_err(|e| JsError::new(&format!("invalid explanation: {e}")))
    };
    let drift = crate::eval::explanation_drift(&parse(a_json)?, &parse(b_json)?).map_err(js_error)?;
    to_json(&drift)
}
