//! The CLIP explainer: tokenize, preprocess, encode the texts, then explain the image's score for
//! the target text with any method (`methods/`, written against the `Subject` that
//! `subjects/clip.rs` implements for CLIP).

use super::device_relevance::download_probs;
use super::maps::Geometry;
use super::methods::{self, batch_ranges, stack_inputs};
use super::subject::{ExplainedImage, Subject};
use super::subjects::clip::ClipSubject;
use super::timings::Timings;
use super::{Explanation, Method, MethodOptions, ModelInfo};
use crate::backend::cosine::scaled_cosine;
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
        let target_pass = target_pass.ok_or_else(|| Error::Internal("the target text was not encoded".into()))?;
        timings.lap_after_device(backend, "text_forward").await?;

        let geometry = self.geometry();
        let on_device = backend.upload(&batch_of(&prepared.pixels, 1))?;
        timings.lap_after_device(backend, "upload").await?;
        let image = ExplainedImage { geometry, pixels: prepared.pixels, on_device };
        let subject = ClipSubject::new(
            backend,
            &self.model,
            image,
            target_pass,
            (target.ids.len(), target.pooled_position),
            text_embeds[request.target].clone(),
            self.batch_budget_bytes,
        );
        let pass = subject.forward(request.method.recording(), &timings).await?;
        let logits: Vec<f32> =
            text_embeds.iter().map(|t| scaled_cosine(self.model.logit_multiplier, &pass.image_embed, t)).collect();
        let score = subject.score(&pass);
        timings.lap_after_device(backend, "image_forward").await?;

        let maps = methods::run(&subject, &pass, request.method, &request.options, &timings, progress).await?;
        timings.lap_after_device(backend, "method").await?;

        let probs = (texts.len() > 1).then(|| softmax(&logits));
        Ok(Explanation {
            method: request.method,
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
            patch_scores: maps.patch_scores,
            pixel_scores: maps.pixel_scores,
            text_tokens: target.tokens.clone(),
            text_scores: maps.text_scores,
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
        let probs = pass
            .trace
            .encoder
            .layers
            .iter()
            .map(|layer| layer.probs.as_ref().ok_or_else(|| Error::Internal("attention was not recorded".into())))
            .collect::<Result<Vec<_>>>()?;
        now(download_probs(backend, &Timings::new(), &probs))
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
        let chunk = self.model.vision.transformer.images_per_batch(
            Recording::Nothing,
            self.batch_budget_bytes,
            self.backend.max_tensor_bytes(),
        );
        for range in batch_ranges(count, chunk) {
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

fn softmax(logits: &[f32]) -> Vec<f32> {
    let max = logits.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    let exps: Vec<f64> = logits.iter().map(|l| ((l - max) as f64).exp()).collect();
    let total: f64 = exps.iter().sum();
    exps.iter().map(|e| (e / total) as f32).collect()
}
