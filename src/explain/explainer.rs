//! Runs one explanation: tokenize, preprocess, forward both towers recording what the method
//! needs, backward where it needs gradients, then the method's own arithmetic. Batched methods
//! (integrated gradients, SmoothGrad, occlusion) run their inputs as batches, split only when a
//! batch would exceed the activation-memory budget.

use super::device_relevance::{
    attention_relevance, chefer_relevance, download_probs, gradcam_relevance, rollout_relevance,
};
use super::maps::{max_abs_over_channels, pixels_to_patches, sum_over_channels, Geometry, PatchReduction};
use super::noise::standard_normals;
use super::timings::Timings;
use super::{Explanation, Method, MethodOptions, ModelInfo};
use crate::backend::cosine::{scaled_cosine, scaled_cosine_with_gradients};
use crate::backend::Backend;
use crate::config::ClipConfig;
use crate::error::{Error, Result};
use crate::loader::{HostTensor, ModelFiles, Weights};
use crate::model::{ClipModel, Recording};
use crate::preprocess::{
    decode_image, ImageLimits, PreparedImage, Preprocessor, PreprocessorConfig, TextEncoder, TokenizedText,
};
use image::RgbImage;
use std::future::Future;
use std::task::{Context, Poll, Waker};

/// Activation memory one batched pass may use before it is split.
const DEFAULT_BATCH_BUDGET_BYTES: usize = 1 << 30;
/// At most this many texts per explanation (zero-shot label sets).
pub const MAX_TEXTS: usize = 64;

pub struct Explainer<B: Backend> {
    backend: B,
    model: ClipModel<B::Tensor>,
    text_encoder: TextEncoder,
    preprocessor: Preprocessor,
    pub info: ModelInfo,
    pub image_limits: ImageLimits,
    pub batch_budget_bytes: usize,
}

pub enum ImageInput<'a> {
    /// An encoded file (PNG, JPEG, ...), decoded under `image_limits`.
    Encoded(&'a [u8]),
    Decoded(&'a RgbImage),
}

pub struct Request<'a> {
    pub image: ImageInput<'a>,
    pub texts: &'a [String],
    pub target: usize,
    pub method: Method,
    pub options: MethodOptions,
}

impl<B: Backend> Explainer<B> {
    pub fn load(backend: B, files: &ModelFiles) -> Result<Self> {
        let config = ClipConfig::from_json(&files.config_json)?;
        let weights = Weights::from_files(&files.weights)?;
        let image_size = config.vision_config.image_size;
        let preprocessor_config = match &files.preprocessor_json {
            Some(text) => PreprocessorConfig::from_json(text, image_size)?,
            None => PreprocessorConfig::clip_default(image_size),
        };
        let text_encoder = TextEncoder::new(&files.tokenizer_json, &config.text_config)?;
        let info = ModelInfo {
            name: config.name_or_path.clone().filter(|n| !n.is_empty()).unwrap_or_else(|| files.name.clone()),
            architecture: "CLIPModel".into(),
            dtype: weights.dtype_name(),
        };
        let model = ClipModel::new(&backend, config, &weights)?;
        Ok(Explainer {
            backend,
            model,
            text_encoder,
            preprocessor: Preprocessor::new(preprocessor_config),
            info,
            image_limits: ImageLimits::default(),
            batch_budget_bytes: DEFAULT_BATCH_BUDGET_BYTES,
        })
    }

    /// An explainer for a config with the given weights, e.g. random ones for benchmarks.
    pub fn from_parts(
        backend: B,
        config: ClipConfig,
        weights: &Weights,
        tokenizer_json: &[u8],
        info: ModelInfo,
    ) -> Result<Self> {
        let image_size = config.vision_config.image_size;
        let text_encoder = TextEncoder::new(tokenizer_json, &config.text_config)?;
        let model = ClipModel::new(&backend, config, weights)?;
        Ok(Explainer {
            backend,
            model,
            text_encoder,
            preprocessor: Preprocessor::new(PreprocessorConfig::clip_default(image_size)),
            info,
            image_limits: ImageLimits::default(),
            batch_budget_bytes: DEFAULT_BATCH_BUDGET_BYTES,
        })
    }

    pub fn config(&self) -> &ClipConfig {
        &self.model.config
    }

    pub fn backend(&self) -> &B {
        &self.backend
    }

    pub fn geometry(&self) -> Geometry {
        let vision = &self.model.config.vision_config;
        Geometry { image_size: vision.image_size, patch_size: vision.patch_size, grid_side: vision.grid_side() }
    }

    pub fn tokenize(&self, text: &str) -> Result<TokenizedText> {
        self.text_encoder.encode(text)
    }

    pub fn explain(&self, request: &Request) -> Result<Explanation> {
        self.explain_with_progress(request, &|_, _| {})
    }

    /// As `explain`, reporting (done, total) inputs after each batch of the batched methods.
    pub fn explain_with_progress(&self, request: &Request, progress: &dyn Fn(usize, usize)) -> Result<Explanation> {
        now(self.explain_async(request, progress))
    }

    /// `explain_with_progress` for a backend that must be awaited (WebGPU in the browser); on
    /// every other backend the future is ready the first time it is polled.
    pub async fn explain_async(&self, request: &Request<'_>, progress: &dyn Fn(usize, usize)) -> Result<Explanation> {
        request.options.validate()?;
        let texts = request.texts;
        if texts.is_empty() {
            return Err(Error::Text("no text given: pass at least one".into()));
        }
        if texts.len() > MAX_TEXTS {
            return Err(Error::Text(format!("{} texts given; at most {MAX_TEXTS} are supported", texts.len())));
        }
        if request.target >= texts.len() {
            return Err(Error::InvalidOption(format!(
                "target {} is out of range: there are {} texts (targets count from 0)",
                request.target,
                texts.len()
            )));
        }
        let timings = Timings::new();
        let decoded;
        let image = match request.image {
            ImageInput::Encoded(bytes) => {
                decoded = decode_image(bytes, self.image_limits)?;
                &decoded
            }
            ImageInput::Decoded(image) => image,
        };
        let prepared = self.preprocessor.prepare(image);
        let tokenized = texts.iter().map(|t| self.text_encoder.encode(t)).collect::<Result<Vec<_>>>()?;
        let warnings: Vec<String> = tokenized.iter().filter_map(|t| t.warning.clone()).collect();
        timings.lap("preprocess");

        let backend = &self.backend;
        let method = request.method;
        let target = &tokenized[request.target];
        let mut text_embeds = Vec::with_capacity(texts.len());
        let mut target_pass = None;
        for (i, text) in tokenized.iter().enumerate() {
            let recording = if i == request.target { Recording::Backward } else { Recording::Nothing };
            let pass = self.model.encode_text(backend, &text.ids, text.pooled_position, recording)?;
            text_embeds.push(timings.read(backend, &pass.embeds).await?.data);
            if i == request.target {
                target_pass = Some(pass);
            }
        }
        let target_pass = target_pass.expect("the target text was encoded");
        let target_embed = &text_embeds[request.target];
        timings.lap_after_device(backend, "text_forward").await?;

        let geometry = self.geometry();
        let pixels = &prepared.pixels;
        let image_recording = match method {
            Method::Attention | Method::Rollout => Recording::Attention,
            Method::Gradient | Method::GradXInput | Method::Chefer | Method::Gradcam => Recording::Backward,
            Method::IntegratedGradients | Method::Smoothgrad | Method::Occlusion => Recording::Nothing,
        };
        let pixels_on_device = backend.upload(&batch_of(pixels, 1))?;
        timings.lap_after_device(backend, "upload").await?;
        let image_pass = self.model.encode_image(backend, &pixels_on_device, image_recording)?;
        let image_embed = timings.read(backend, &image_pass.embeds).await?.data;
        let logits: Vec<f32> =
            text_embeds.iter().map(|t| scaled_cosine(self.model.logit_multiplier, &image_embed, t)).collect();
        let score = logits[request.target];
        timings.lap_after_device(backend, "image_forward").await?;

        let patches_of = |token_scores: Vec<f32>| token_scores[1..].to_vec();
        let pooled = target.pooled_position;
        let vision_tokens = geometry.patches() + 1;

        let (patch_scores, pixel_scores, text_scores) = match method {
            Method::Attention => {
                let vision = patches_of(attention_relevance(backend, &timings, &image_pass.encoder.layers, 0).await?);
                let text = attention_relevance(backend, &timings, &target_pass.encoder.layers, pooled).await?;
                (vision, None, Some(text))
            }
            Method::Rollout => {
                let (fusion, discard) = (request.options.head_fusion, request.options.discard_ratio);
                let (image_layers, text_layers) = (&image_pass.encoder.layers, &target_pass.encoder.layers);
                let vision = patches_of(
                    rollout_relevance(backend, &timings, image_layers, 0, vision_tokens, fusion, discard).await?,
                );
                let text = rollout_relevance(backend, &timings, text_layers, pooled, target.ids.len(), fusion, discard)
                    .await?;
                (vision, None, Some(text))
            }
            Method::Gradient | Method::GradXInput | Method::Chefer | Method::Gradcam => {
                let gradients = scaled_cosine_with_gradients(self.model.logit_multiplier, &image_embed, target_embed);
                let d_image = backend.upload(&HostTensor::new(gradients.d_image, vec![1, image_embed.len()]))?;
                let d_text = backend.upload(&HostTensor::new(gradients.d_text, vec![1, target_embed.len()]))?;
                let vision_grads = self.model.image_backward(backend, &image_pass, &d_image)?;
                let text_grads = self.model.text_backward(backend, &target_pass, &d_text)?;
                timings.lap_after_device(backend, "backward").await?;
                match method {
                    Method::Gradient => {
                        let g = timings.read(backend, &vision_grads.d_pixels).await?.data;
                        let pixel = max_abs_over_channels(&g, geometry);
                        let d_e = timings.read(backend, &text_grads.d_token_embeddings).await?;
                        let text = rows(&d_e).map(|row| row.iter().map(|v| v * v).sum::<f32>().sqrt()).collect();
                        (pixels_to_patches(&pixel, geometry, PatchReduction::Mean), Some(pixel), Some(text))
                    }
                    Method::GradXInput => {
                        let g = timings.read(backend, &vision_grads.d_pixels).await?.data;
                        let product: Vec<f32> = g.iter().zip(&pixels.data).map(|(g, x)| g * x).collect();
                        let pixel = sum_over_channels(&product, geometry);
                        let d_e = timings.read(backend, &text_grads.d_token_embeddings).await?;
                        let e = timings.read(backend, &target_pass.token_embeddings).await?;
                        let text =
                            rows(&d_e).zip(rows(&e)).map(|(g, e)| g.iter().zip(e).map(|(g, e)| g * e).sum()).collect();
                        (pixels_to_patches(&pixel, geometry, PatchReduction::Sum), Some(pixel), Some(text))
                    }
                    Method::Chefer => {
                        let vision = chefer_relevance(
                            backend,
                            &timings,
                            &image_pass.encoder.layers,
                            &vision_grads.encoder.d_probs,
                            0,
                        )
                        .await?;
                        let text = chefer_relevance(
                            backend,
                            &timings,
                            &target_pass.encoder.layers,
                            &text_grads.encoder.d_probs,
                            pooled,
                        )
                        .await?;
                        (patches_of(vision), None, Some(text))
                    }
                    _ => {
                        let last = image_pass.encoder.layers.last().expect("a model has at least one layer");
                        let d_hidden =
                            vision_grads.encoder.d_layer_inputs.last().expect("a model has at least one layer");
                        let relevance =
                            gradcam_relevance(backend, &timings, &last.input, d_hidden, vision_tokens).await?;
                        (patches_of(relevance), None, None)
                    }
                }
            }
            Method::IntegratedGradients => {
                let steps = request.options.steps;
                let alphas: Vec<f32> = (1..=steps).map(|k| k as f32 / steps as f32).collect();
                let total = self.gradient_sum(
                    steps,
                    |range| backend.scaled_copies(&pixels_on_device, &alphas[range]),
                    &target_pass.embeds,
                    false,
                    progress,
                )?;
                let total = timings.read(backend, &total).await?.data;
                let ig: Vec<f32> = total.iter().zip(&pixels.data).map(|(g, x)| x * g / steps as f32).collect();
                let pixel = sum_over_channels(&ig, geometry);
                (pixels_to_patches(&pixel, geometry, PatchReduction::Sum), Some(pixel), None)
            }
            Method::Smoothgrad => {
                let steps = request.options.steps;
                let n = pixels.data.len();
                let (lo, hi) =
                    pixels.data.iter().fold((f32::INFINITY, f32::NEG_INFINITY), |(lo, hi), v| (lo.min(*v), hi.max(*v)));
                let sigma = 0.15 * (hi - lo);
                let noise = standard_normals(request.options.seed, steps * n);
                let noisy = |k: usize| -> Vec<f32> {
                    pixels.data.iter().zip(&noise[k * n..(k + 1) * n]).map(|(x, z)| x + sigma * *z as f32).collect()
                };
                let total = self.gradient_sum(
                    steps,
                    |range| backend.upload(&stack_inputs(range, &noisy, geometry)),
                    &target_pass.embeds,
                    true,
                    progress,
                )?;
                let mean: Vec<f32> =
                    timings.read(backend, &total).await?.data.iter().map(|v| v / steps as f32).collect();
                let pixel = max_abs_over_channels(&mean, geometry);
                (pixels_to_patches(&pixel, geometry, PatchReduction::Mean), Some(pixel), None)
            }
            Method::Occlusion => {
                let mut patch_scores = Vec::with_capacity(geometry.patches());
                for occluded_scores in &self.occlusion_scores(&pixels_on_device, &target_pass.embeds, progress)? {
                    patch_scores
                        .extend(timings.read(backend, occluded_scores).await?.data.iter().map(|s_p| score - s_p));
                }
                (patch_scores, None, None)
            }
        };
        timings.lap_after_device(backend, "method").await?;

        let probs = (texts.len() > 1).then(|| softmax(&logits));
        Ok(Explanation {
            method,
            backend: backend.name().into(),
            model: self.info.clone(),
            options: request.options,
            texts: texts.to_vec(),
            target: request.target,
            score,
            logits,
            probs,
            input_size: [geometry.image_size, geometry.image_size],
            patch_grid: [geometry.grid_side, geometry.grid_side],
            crop: prepared.crop,
            patch_scores,
            pixel_scores,
            text_tokens: target.tokens.clone(),
            text_scores,
            warnings,
            timings_ms: timings.finish(),
        })
    }

    /// Every vision layer's attention probabilities for one image, (1, H, T, T) per layer: what an
    /// attention explorer shows.
    pub fn vision_attention(&self, image: &RgbImage) -> Result<Vec<HostTensor>> {
        let prepared = self.preprocessor.prepare(image);
        let backend = &self.backend;
        let pass =
            self.model.encode_image(backend, &backend.upload(&batch_of(&prepared.pixels, 1))?, Recording::Attention)?;
        now(download_probs(backend, &Timings::new(), &pass.encoder.layers))
    }

    /// Images per batched pass that fit the memory budget when `recording` is kept.
    fn batch_size(&self, recording: Recording) -> usize {
        let vision = &self.model.config.vision_config;
        let (t, d, i, h) =
            (vision.num_patches() + 1, vision.hidden_size, vision.intermediate_size, vision.num_attention_heads);
        let per_layer_floats = match recording {
            Recording::Backward => 5 * t * d + i * t + 2 * h * t * t,
            _ => 0,
        };
        // Transient buffers of the widest op in flight, plus the recorded layers.
        let per_image_bytes = 4 * (vision.num_hidden_layers * per_layer_floats + 3 * (t * i + h * t * t));
        let by_budget = self.batch_budget_bytes / per_image_bytes.max(1);
        // No single activation may outgrow what the backend holds in one piece.
        let largest_tensor_bytes = 4 * (t * i).max(h * t * t).max(3 * vision.image_size * vision.image_size);
        let by_tensor = self.backend.max_tensor_bytes() / largest_tensor_bytes.max(1);
        by_budget.min(by_tensor).max(1)
    }

    /// Σ_k ∂s_k/∂x_k (or Σ_k |∂s_k/∂x_k|), as (3, S, S), over `count` inputs that `batch(range)`
    /// makes on the device, run as batches split only at the activation budget. Nothing is read
    /// back: the scores' gradients are seeded and the sum kept where the batches run.
    fn gradient_sum(
        &self,
        count: usize,
        batch: impl Fn(std::ops::Range<usize>) -> Result<B::Tensor>,
        text_embed: &B::Tensor,
        absolute: bool,
        progress: &dyn Fn(usize, usize),
    ) -> Result<B::Tensor> {
        let chunk = self.batch_size(Recording::Backward);
        let backend = &self.backend;
        let mut total = None;
        for range in batch_ranges(count, chunk) {
            let end = range.end;
            let pass = self.model.encode_image(backend, &batch(range)?, Recording::Backward)?;
            let (_, d_embeds) =
                backend.scaled_cosine_with_gradients(&pass.embeds, text_embed, self.model.logit_multiplier)?;
            let d_pixels = self.model.image_backward(backend, &pass, &d_embeds)?.d_pixels;
            total = Some(backend.sum_batch(&d_pixels, absolute, total.as_ref())?);
            backend.submit()?;
            progress(end, count);
        }
        total.ok_or_else(|| Error::InvalidOption("at least one step is needed".into()))
    }

    /// s(x_p) for the image `pixels` (1, 3, S, S) with each patch p occluded in turn, as one
    /// tensor of scores per batch; the inputs are made and scored where the batches run, so
    /// nothing is read back.
    fn occlusion_scores(
        &self,
        pixels: &B::Tensor,
        text_embed: &B::Tensor,
        progress: &dyn Fn(usize, usize),
    ) -> Result<Vec<B::Tensor>> {
        let geometry = self.geometry();
        let patches = geometry.patches();
        let backend = &self.backend;
        let mut scores = Vec::new();
        for range in batch_ranges(patches, self.batch_size(Recording::Nothing)) {
            let end = range.end;
            let batch = backend.occluded_copies(pixels, range.start, range.len(), geometry.patch_size)?;
            let pass = self.model.encode_image(backend, &batch, Recording::Nothing)?;
            scores.push(backend.scaled_cosine_with_gradients(&pass.embeds, text_embed, self.model.logit_multiplier)?.0);
            backend.submit()?;
            progress(end, patches);
        }
        Ok(scores)
    }

    /// The normalized model input (3, S, S) of `image`, exactly as `explain` prepares it.
    pub fn prepare_image(&self, image: &RgbImage) -> PreparedImage {
        self.preprocessor.prepare(image)
    }

    /// The projected embedding of each text, without recording anything.
    pub fn text_embeddings(&self, texts: &[String]) -> Result<Vec<Vec<f32>>> {
        texts
            .iter()
            .map(|text| {
                let tokenized = self.text_encoder.encode(text)?;
                let pass = self.model.encode_text(
                    &self.backend,
                    &tokenized.ids,
                    tokenized.pooled_position,
                    Recording::Nothing,
                )?;
                Ok(self.backend.download(&pass.embeds)?.data)
            })
            .collect()
    }

    /// The projected embeddings of `count` normalized inputs (3·S·S values each) made by
    /// `input(k)`, run as batches split only at the activation budget, without recording anything.
    pub fn image_embeddings(&self, count: usize, input: impl Fn(usize) -> Vec<f32>) -> Result<Vec<Vec<f32>>> {
        let geometry = self.geometry();
        let backend = &self.backend;
        let mut all = Vec::with_capacity(count);
        for range in batch_ranges(count, self.batch_size(Recording::Nothing)) {
            let batch = stack_inputs(range, &input, geometry);
            let pass = self.model.encode_image(backend, &backend.upload(&batch)?, Recording::Nothing)?;
            let embeds = backend.download(&pass.embeds)?;
            let width = embeds.shape[1];
            all.extend(embeds.data.chunks_exact(width).map(<[f32]>::to_vec));
        }
        Ok(all)
    }

    /// Softmax over the texts of logits_per_image for one image embedding: the zero-shot
    /// probabilities `explain` reports as `probs`.
    pub fn zero_shot_probabilities(&self, image_embedding: &[f32], text_embeddings: &[Vec<f32>]) -> Vec<f32> {
        let logits: Vec<f32> =
            text_embeddings.iter().map(|t| scaled_cosine(self.model.logit_multiplier, image_embedding, t)).collect();
        softmax(&logits)
    }
}

fn batch_of(pixels: &HostTensor, count: usize) -> HostTensor {
    let mut shape = vec![count];
    shape.extend(&pixels.shape);
    HostTensor::new(pixels.data.repeat(count), shape)
}

/// `0..count` in consecutive ranges of at most `chunk`: the batches of a batched pass.
fn batch_ranges(count: usize, chunk: usize) -> impl Iterator<Item = std::ops::Range<usize>> {
    (0..count).step_by(chunk).map(move |start| start..(start + chunk).min(count))
}

fn stack_inputs(range: std::ops::Range<usize>, input: &impl Fn(usize) -> Vec<f32>, geometry: Geometry) -> HostTensor {
    let count = range.len();
    let data: Vec<f32> = range.flat_map(input).collect();
    HostTensor::new(data, vec![count, 3, geometry.image_size, geometry.image_size])
}

/// Runs a future that never has to wait: every backend answers at once except a GPU in the
/// browser, which is refused here with an error rather than blocking the thread forever.
pub(super) fn now<T>(future: impl Future<Output = Result<T>>) -> Result<T> {
    let mut future = std::pin::pin!(future);
    match future.as_mut().poll(&mut Context::from_waker(Waker::noop())) {
        Poll::Ready(result) => result,
        Poll::Pending => {
            Err(Error::Internal("this backend reads back asynchronously: await `explain_async` instead".into()))
        }
    }
}

/// The rows of a (1, T, D) tensor.
fn rows(t: &HostTensor) -> impl Iterator<Item = &[f32]> {
    t.data.chunks_exact(*t.shape.last().expect("tensor has dimensions"))
}

fn softmax(logits: &[f32]) -> Vec<f32> {
    let max = logits.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    let exps: Vec<f64> = logits.iter().map(|l| ((l - max) as f64).exp()).collect();
    let total: f64 = exps.iter().sum();
    exps.iter().map(|e| (e / total) as f32).collect()
}
