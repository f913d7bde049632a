//! The browser's entry points: bytes and options in, the explanation JSON of the CLI contract out.
//! The module lives in a Web Worker (www/worker.js), which owns one `Engine` at a time. Errors come
//! back as JS exceptions with the engine's message; nothing here panics on user input.

use crate::backend::cpu::CpuBackend;
use crate::backend::webgpu::WebGpuBackend;
use crate::default_model::default_model_files;
use crate::error::Error;
use crate::explain::{explain_with_fallback_async, Explainer, HeadFusion, ImageInput, Method, MethodOptions, Request};
use crate::heatmap::{encode_png, Colormap, OverlayOptions};
use crate::loader::ModelFiles;
use crate::preprocess::decode_image;
use crate::render::{render_explanation, title, MapChoice};
use crate::scene::{Scene, SceneSpec};
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

/// What the page asks for; field names follow JS conventions.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct ExplainOptions {
    texts: Vec<String>,
    #[serde(default)]
    target: usize,
    method: String,
    steps: Option<usize>,
    seed: Option<u64>,
    head_fusion: Option<String>,
    discard_ratio: Option<f32>,
}

impl ExplainOptions {
    fn from_js(options: JsValue) -> Result<Self, JsError> {
        serde_wasm_bindgen::from_value(options).map_err(|e| JsError::new(&format!("invalid options: {e}")))
    }

    /// The explanation of `image` these options ask for.
    fn request<'a>(&'a self, image: &'a [u8]) -> Result<Request<'a>, JsError> {
        let (method, options) = self.method_options().map_err(js_error)?;
        Ok(Request { image: ImageInput::Encoded(image), texts: &self.texts, target: self.target, method, options })
    }

    fn method_options(&self) -> Result<(Method, MethodOptions), Error> {
        let defaults = MethodOptions::default();
        let options = MethodOptions {
            steps: self.steps.unwrap_or(defaults.steps),
            seed: self.seed.unwrap_or(defaults.seed),
            head_fusion: match &self.head_fusion {
                Some(name) => name.parse::<HeadFusion>()?,
                None => defaults.head_fusion,
            },
            discard_ratio: self.discard_ratio.unwrap_or(defaults.discard_ratio),
        };
        options.validate()?;
        Ok((self.method.parse()?, options))
    }
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
    backend: &'static str,
    image_size: usize,
    patch_size: usize,
    patch_grid: [usize; 2],
    vision_layers: usize,
    vision_heads: usize,
    text_max_tokens: usize,
    methods: Vec<&'static str>,
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
        Self::load(ModelFiles { name, config_json, weights, tokenizer_json, preprocessor_json, generative: Default::default() })
    }

    /// One GGUF file from `sightline quantize` (config, tokenizer and preprocessor config in its
    /// metadata). The file's bytes are released once the model is built; quantized weights stay
    /// quantized in memory.
    #[wasm_bindgen(js_name = fromGguf)]
    pub fn from_gguf(name: String, bytes: Vec<u8>) -> Result<Engine, JsError> {
        let files = ModelFiles::from_gguf_bytes(name, bytes).map_err(js_error)?;
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
            let options = ExplainOptions::from_js(options)?;
            let request = options.request(&image)?;
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

    /// For tests: destroys the attached WebGPU device as a driver reset would.
    #[wasm_bindgen(js_name = loseWebGpuDeviceForTest)]
    pub fn lose_web_gpu_device_for_test(&self) -> bool {
        match self.gpu.borrow().as_ref() {
            Some(gpu) => {
                gpu.backend().simulate_device_loss();
                true
            }
            None => false,
        }
    }

    /// The model's name and geometry, as JSON.
    pub fn info(&self) -> Result<String, JsError> {
        let config = self.explainer.config();
        let vision = &config.vision_config;
        to_json(&EngineInfo {
            model: &self.explainer.info,
            // Where `explainAsync` runs now.
            backend: if self.gpu.borrow().is_some() { "webgpu" } else { "cpu" },
            image_size: vision.image_size,
            patch_size: vision.patch_size,
            patch_grid: [vision.grid_side(), vision.grid_side()],
            vision_layers: vision.num_hidden_layers,
            vision_heads: vision.num_attention_heads,
            text_max_tokens: config.text_config.max_position_embeddings,
            methods: Method::ALL.iter().map(|m| m.name()).collect(),
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
        let options = ExplainOptions::from_js(options)?;
        let request = options.request(image)?;
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

    /// Deletion and insertion curves (RISE; `eval::curves`) of a patch map: the target's zero-shot
    /// probability among `texts` as the patches are removed from the image (set to 0 in normalized
    /// space) or restored onto an empty one, in order of decreasing score. With a single text
    /// (whose probability is always 1) the cosine similarity of image and text is traced instead.
    /// Returns JSON `{quantity, order, deletion, insertion, deletionAuc, insertionAuc}`.
    #[wasm_bindgen(js_name = faithfulnessCurves)]
    pub fn faithfulness_curves(
        &self,
        image: &[u8],
        patch_scores: Vec<f32>,
        texts: JsValue,
        target: usize,
    ) -> Result<String, JsError> {
        use crate::eval::curves::{deletion_insertion, perturbed_input, DeletionInsertion};
        use crate::eval::metrics::relevance_order;
        let texts: Vec<String> =
            serde_wasm_bindgen::from_value(texts).map_err(|e| JsError::new(&format!("invalid texts: {e}")))?;
        if target >= texts.len() {
            return Err(JsError::new(&format!("target {target} is out of range: there are {} texts", texts.len())));
        }
        let geometry = self.explainer.geometry();
        if patch_scores.len() != geometry.patches() {
            return Err(JsError::new(&format!(
                "the map has {} patch scores; this model has {} patches",
                patch_scores.len(),
                geometry.patches()
            )));
        }
        let image = decode_image(image, self.explainer.image_limits).map_err(js_error)?;
        let pixels = self.explainer.prepare_image(&image).pixels.data;
        let order = relevance_order(&patch_scores);
        let text_embeddings = self.explainer.text_embeddings(&texts).map_err(js_error)?;
        let (quantity, curves) = if texts.len() > 1 {
            (
                "probability",
                deletion_insertion(&self.explainer, &pixels, &order, &text_embeddings, target).map_err(js_error)?,
            )
        } else {
            let points = order.len() + 1;
            let embeddings = self
                .explainer
                .image_embeddings(2 * points, |k| {
                    let (deleting, steps) = if k < points { (true, k) } else { (false, k - points) };
                    perturbed_input(&pixels, geometry, &order, steps, deleting)
                })
                .map_err(js_error)?;
            let cosine: Vec<f64> = embeddings.iter().map(|e| cosine(e, &text_embeddings[0])).collect();
            let (deletion, insertion) = cosine.split_at(points);
            ("cosine", DeletionInsertion { deletion: deletion.to_vec(), insertion: insertion.to_vec() })
        };
        to_json(&serde_json::json!({
            "quantity": quantity,
            "order": order,
            "deletionAuc": curves.deletion_auc().map_err(js_error)?,
            "insertionAuc": curves.insertion_auc().map_err(js_error)?,
            "deletion": curves.deletion,
            "insertion": curves.insertion,
        }))
    }

    /// The explanation drawn over the image at full resolution, with legend and title, as PNG.
    #[wasm_bindgen(js_name = overlayPng)]
    pub fn overlay_png(
        &self,
        image: &[u8],
        explanation_json: &str,
        colormap: Option<String>,
        opacity: f32,
        pixel_map: bool,
    ) -> Result<Vec<u8>, JsError> {
        let explanation =
            serde_json::from_str(explanation_json).map_err(|e| JsError::new(&format!("invalid explanation: {e}")))?;
        let image = decode_image(image, self.explainer.image_limits).map_err(js_error)?;
        let options = OverlayOptions {
            colormap: colormap.as_deref().map(Colormap::from_name).transpose().map_err(|e| js_error(e.into()))?,
            opacity,
            title: Some(title(&explanation)),
            ..OverlayOptions::default()
        };
        let choice = if pixel_map { MapChoice::Pixels } else { MapChoice::Patches };
        let overlay = render_explanation(&image, &explanation, choice, &options).map_err(js_error)?;
        encode_png(&overlay).map_err(|e| js_error(e.into()))
    }
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

/// The colormap as 256 RGB triples, so the page paints exactly the CLI's colours.
#[wasm_bindgen(js_name = colormapTable)]
pub fn colormap_table(name: &str) -> Result<Vec<u8>, JsError> {
    let colormap = Colormap::from_name(name).map_err(|e| js_error(e.into()))?;
    Ok((0..256).flat_map(|i| colormap.sample(i as f32 / 255.0).0).collect())
}

fn cosine(a: &[f32], b: &[f32]) -> f64 {
    let dot: f64 = a.iter().zip(b).map(|(x, y)| f64::from(*x) * f64::from(*y)).sum();
    let norm = |v: &[f32]| v.iter().map(|x| f64::from(*x).powi(2)).sum::<f64>().sqrt();
    dot / (norm(a) * norm(b)).max(f64::MIN_POSITIVE)
}

/// Token ids of `texts` under a tokenizer.json, as JSON `[[ids...], ...]`: lets tests compare the
/// browser's tokenization (fancy-regex on wasm) with the native one.
#[wasm_bindgen(js_name = tokenizeWith)]
pub fn tokenize_with(tokenizer_json: &[u8], texts: Vec<String>) -> Result<String, JsError> {
    let tokenizer = tokenizers::Tokenizer::from_bytes(tokenizer_json)
        .map_err(|e| js_error(Error::Tokenizer(format!("tokenizer.json cannot be loaded: {e}"))))?;
    let ids = texts
        .iter()
        .map(|text| {
            tokenizer
                .encode(text.as_str(), true)
                .map(|encoding| encoding.get_ids().to_vec())
                .map_err(|e| js_error(Error::Tokenizer(format!("cannot tokenize `{text}`: {e}"))))
        })
        .collect::<Result<Vec<_>, _>>()?;
    to_json(&ids)
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
    let files = ModelFiles { name, config_json, weights, tokenizer_json, preprocessor_json, generative: Default::default() };
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
