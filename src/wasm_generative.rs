//! The browser's entry points for a generative model (LLaVA): a checkpoint's files in, the answer
//! streamed token by token to a JS callback, then the `sightline generate` JSON of the answer and
//! its explained tokens out. The worker (www/worker.js) reads a checkpoint's family first
//! (`Checkpoint.family`) and builds `Engine` (CLIP) or `GenerativeEngine` from it. Errors come
//! back as JS exceptions with the engine's message; nothing here panics on user input.

use crate::api_options::GenerateOptions;
use crate::backend::cpu::CpuBackend;
use crate::backend::webgpu::WebGpuBackend;
use crate::config::ModelFamily;
use crate::error::{Error, Result};
use crate::explain::{Generation, GenerativeExplainer, StreamedToken};
use crate::loader::ModelFiles;
use serde::Serialize;
use std::cell::RefCell;
use std::collections::BTreeMap;
use std::rc::Rc;
use wasm_bindgen::prelude::*;

fn js_error(error: Error) -> JsError {
    JsError::new(&error.to_string())
}

fn to_json<T: Serialize>(value: &T) -> Result<String, JsError> {
    serde_json::to_string(value).map_err(|e| JsError::new(&e.to_string()))
}

/// A model's files before an engine is built from them: a folder's files added by name, or one
/// GGUF file. Consumed by the engine built from it.
#[wasm_bindgen]
pub struct Checkpoint {
    name: String,
    parts: Parts,
}

enum Parts {
    ByName(BTreeMap<String, Vec<u8>>),
    Files(ModelFiles),
}

#[wasm_bindgen]
impl Checkpoint {
    /// An empty folder named `name` (for reports), to `addFile` into.
    #[wasm_bindgen(constructor)]
    pub fn new(name: String) -> Checkpoint {
        Checkpoint { name, parts: Parts::ByName(BTreeMap::new()) }
    }

    /// One GGUF file from `sightline quantize`; its metadata carries the other files.
    pub fn gguf(name: String, bytes: Vec<u8>) -> Result<Checkpoint, JsError> {
        let files = ModelFiles::from_gguf_bytes(name.clone(), bytes).map_err(js_error)?;
        Ok(Checkpoint { name, parts: Parts::Files(files) })
    }

    /// A file of the folder by its name (config.json, model.safetensors, a shard, ...).
    #[wasm_bindgen(js_name = addFile)]
    pub fn add_file(&mut self, file_name: String, bytes: Vec<u8>) -> Result<(), JsError> {
        match &mut self.parts {
            Parts::ByName(files) => {
                files.insert(file_name, bytes);
                Ok(())
            }
            Parts::Files(_) => Err(JsError::new("a GGUF checkpoint is one file: nothing can be added to it")),
        }
    }

    /// "clip" or "llava", from config.json (or the GGUF's copy of it): which engine explains it.
    #[wasm_bindgen(getter)]
    pub fn family(&self) -> Result<String, JsError> {
        let family = match &self.parts {
            Parts::ByName(files) => {
                let config = files
                    .get(crate::loader::CONFIG_FILE)
                    .ok_or_else(|| JsError::new("config.json is missing: it says what kind of model this is"))?;
                let config = std::str::from_utf8(config).map_err(|_| JsError::new("config.json is not UTF-8 text"))?;
                ModelFamily::from_config_json(config)
            }
            Parts::Files(files) => ModelFamily::from_config_json(&files.config_json),
        };
        Ok(family_name(family.map_err(js_error)?).into())
    }
}

impl Checkpoint {
    pub(crate) fn into_model_files(self) -> Result<ModelFiles> {
        match self.parts {
            Parts::ByName(files) => ModelFiles::from_named_files(self.name, files),
            Parts::Files(files) => Ok(files),
        }
    }
}

pub(crate) fn family_name(family: ModelFamily) -> &'static str {
    match family {
        ModelFamily::Clip => "clip",
        ModelFamily::Llava => "llava",
    }
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct GenerativeInfo<'a> {
    model: &'a crate::explain::ModelInfo,
    family: &'static str,
    backend: &'static str,
    image_size: usize,
    patch_size: usize,
    patch_grid: [usize; 2],
    image_tokens: usize,
    vision_layers: usize,
    decoder_layers: usize,
    decoder_heads: usize,
    max_positions: usize,
    /// Whether a question is put into the checkpoint's chat template (else the prompt is given
    /// whole and must contain `<image>`).
    chat_template: bool,
}

/// A generative model: answers a question about an image, streaming each token, and explains
/// any token of an answer.
#[wasm_bindgen]
pub struct GenerativeEngine {
    cpu: Rc<GenerativeExplainer<CpuBackend>>,
    /// The same model on the page's WebGPU device once `attachWebGpu` succeeded; dropped when the
    /// device fails, after which everything runs on the CPU.
    gpu: Rc<RefCell<Option<Rc<GenerativeExplainer<WebGpuBackend>>>>>,
    /// The model's files, kept until `attachWebGpu` uploads them or `releaseModelFiles`.
    files: RefCell<Option<ModelFiles>>,
}

#[wasm_bindgen]
impl GenerativeEngine {
    /// Builds the model; refuses a checkpoint that is not generative, naming what it is.
    #[wasm_bindgen(js_name = fromCheckpoint)]
    pub fn from_checkpoint(checkpoint: Checkpoint) -> Result<GenerativeEngine, JsError> {
        let files = checkpoint.into_model_files().map_err(js_error)?;
        let family = ModelFamily::from_config_json(&files.config_json).map_err(js_error)?;
        if family != ModelFamily::Llava {
            return Err(JsError::new(&format!(
                "{} is a {} checkpoint, which labels images rather than answering questions",
                files.name,
                family.architecture()
            )));
        }
        let cpu = GenerativeExplainer::load(CpuBackend, &files).map_err(js_error)?;
        Ok(GenerativeEngine { cpu: Rc::new(cpu), gpu: Rc::default(), files: RefCell::new(Some(files)) })
    }

    /// Loads the same model onto the page's WebGPU device, so that `generateAsync` runs there.
    /// Resolves to the adapter's description; rejects with the reason when there is no adapter or
    /// the model does not fit (the engine then stays on the CPU). Releases the model files.
    #[wasm_bindgen(js_name = attachWebGpu)]
    pub fn attach_web_gpu(&self) -> js_sys::Promise {
        let files = self.files.borrow_mut().take();
        let slot = self.gpu.clone();
        wasm_bindgen_futures::future_to_promise(async move {
            let files = files.ok_or_else(|| JsError::new("the model files were already released"))?;
            let backend = WebGpuBackend::create().await.map_err(js_error)?;
            let description = backend.adapter_description();
            let explainer = GenerativeExplainer::load(backend, &files).map_err(js_error)?;
            *slot.borrow_mut() = Some(Rc::new(explainer));
            Ok(JsValue::from_str(&description))
        })
    }

    /// Frees the model files kept for `attachWebGpu` when the engine stays on the CPU.
    #[wasm_bindgen(js_name = releaseModelFiles)]
    pub fn release_model_files(&self) {
        self.files.borrow_mut().take();
    }

    /// The model's name and geometry, as JSON.
    pub fn info(&self) -> Result<String, JsError> {
        let config = self.cpu.config();
        let vision = &config.vision_config;
        let processor = self.cpu.processor();
        to_json(&GenerativeInfo {
            model: &self.cpu.info,
            family: family_name(ModelFamily::Llava),
            backend: if self.gpu.borrow().is_some() { "webgpu" } else { "cpu" },
            image_size: vision.image_size,
            patch_size: vision.patch_size,
            patch_grid: [vision.grid_side(), vision.grid_side()],
            image_tokens: processor.image_tokens(),
            vision_layers: vision.num_hidden_layers,
            decoder_layers: config.text_config.num_hidden_layers,
            decoder_heads: config.text_config.num_attention_heads,
            max_positions: processor.max_positions(),
            chat_template: processor.has_chat_template(),
        })
    }

    /// Answers `options.prompt` about the encoded `image` (or takes `options.answer`), calling
    /// `onToken(tokenJson)` with each token as it comes — a return of `false` (or a throw) stops
    /// the answer there — then explains its tokens when `options.method` is given. Resolves to
    /// the `sightline generate` JSON. On WebGPU when attached; when the device fails (lost, out of
    /// memory) the whole request is redone on the CPU, its tokens streamed again from index 0,
    /// with a warning saying so, and later requests stay on the CPU.
    #[wasm_bindgen(js_name = generateAsync)]
    pub fn generate_async(
        &self,
        image: Vec<u8>,
        options: JsValue,
        on_token: js_sys::Function,
        progress: Option<js_sys::Function>,
    ) -> js_sys::Promise {
        let cpu = self.cpu.clone();
        let slot = self.gpu.clone();
        let gpu = slot.borrow().clone();
        wasm_bindgen_futures::future_to_promise(async move {
            let options: GenerateOptions =
                serde_wasm_bindgen::from_value(options).map_err(|e| JsError::new(&format!("invalid options: {e}")))?;
            let request = options.request(&image).map_err(js_error)?;
            let mut stream = |token: &StreamedToken| match serde_json::to_string(token) {
                Ok(json) => on_token.call1(&JsValue::NULL, &JsValue::from_str(&json)).is_ok_and(|v| v != false),
                Err(_) => false,
            };
            let report = |done: usize, total: usize| {
                if let Some(callback) = &progress {
                    let _ = callback.call2(&JsValue::NULL, &(done as u32).into(), &(total as u32).into());
                }
            };
            let on_gpu = match &gpu {
                Some(gpu) => Some(gpu.generate_async(&request, &mut stream, &report).await),
                None => None,
            };
            let generation: Generation = match on_gpu {
                Some(Ok(generation)) => generation,
                Some(Err(Error::Device(reason))) => {
                    // A failed device stays failed: later requests go straight to the CPU.
                    slot.borrow_mut().take();
                    let mut generation = cpu.generate_async(&request, &mut stream, &report).await.map_err(js_error)?;
                    generation
                        .warnings
                        .push(format!("the webgpu backend failed ({reason}); this answer was computed on the cpu"));
                    generation
                }
                Some(Err(other)) => return Err(js_error(other).into()),
                None => cpu.generate_async(&request, &mut stream, &report).await.map_err(js_error)?,
            };
            Ok(JsValue::from_str(&to_json(&generation)?))
        })
    }
}
