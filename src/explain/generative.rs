//! The generative explainer: a LLaVA checkpoint answers a question about an image token by
//! token (greedy or sampled, with a key/value cache, each token streamed as it comes), then every
//! answer token — or the one asked for — is explained by any method, exactly: its score is its
//! raw logit at the position that predicts it given the prompt and the tokens before it, and one
//! teacher-forced forward pass serves every token (`subjects/llava.rs`).

use super::maps::Geometry;
use super::methods;
use super::subject::ExplainedImage;
use super::subjects::llava::{AnswerPass, TokenSubject};
use super::timings::Timings;
use super::{ImageInput, Method, MethodOptions, ModelInfo};
use crate::backend::Backend;
use crate::config::{GenerationConfig, LlavaConfig};
use crate::error::{Error, Result};
use crate::generate::{probability, top_candidates, Sampler, SamplingOptions};
use crate::loader::{HostTensor, ModelFiles, Weights};
use crate::model::{ExplainedLogit, KvCache, LlavaModel, Recording};
use crate::preprocess::{decode_image, ImageCropRect, ImageLimits, LlavaProcessor};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Activation memory one batched pass may use before it is split.
const DEFAULT_BATCH_BUDGET_BYTES: usize = 1 << 30;
/// The answer's length when the request does not say.
pub const DEFAULT_MAX_TOKENS: usize = 32;
/// At most this many tokens per answer.
pub const MAX_TOKENS: usize = 1024;
/// Candidates kept per answer token (the "why X rather than Y" choices).
const TOP_CANDIDATES: usize = 5;

pub struct GenerateRequest<'a> {
    pub image: ImageInput<'a>,
    /// The user's question (templated), or the whole prompt with `<image>` for a checkpoint
    /// without a chat template.
    pub prompt: &'a str,
    pub max_tokens: usize,
    pub sampling: SamplingOptions,
    /// The method explaining the answer; `None` only generates.
    pub method: Option<Method>,
    pub options: MethodOptions,
    /// Only this answer token is explained (all when `None`).
    pub token: Option<usize>,
    /// Explain logit(token) − logit(this token) instead of the token's logit ("why X, not Y").
    pub contrast: Option<ContrastToken<'a>>,
    /// Explain this answer (token ids) instead of generating one: another model's answer, or this
    /// model's again with another method. Its tokens are scored by one forward pass.
    pub answer: Option<&'a [u32]>,
}

/// The token whose logit is subtracted from the explained one's.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum ContrastToken<'a> {
    /// Text that must be exactly one token of the vocabulary.
    Text(&'a str),
    /// A vocabulary id (one of a step's candidates).
    Id(u32),
}

/// One candidate for an answer token.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Candidate {
    pub id: u32,
    pub text: String,
    pub prob: f32,
}

/// One token of the answer as it is generated.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct StreamedToken {
    pub index: usize,
    pub id: u32,
    /// The text this token adds to the answer (possibly empty while a character's bytes are
    /// incomplete).
    pub text: String,
    /// Its raw logit and its probability under the model (before any sampling warpers).
    pub logit: f32,
    pub prob: f32,
    /// The most likely tokens at this step, most likely first.
    pub top: Vec<Candidate>,
}

/// One answer token with its explanation, when one was asked.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct AnswerToken {
    #[serde(flatten)]
    pub token: StreamedToken,
    /// The contrasting token, when its logit was subtracted.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub contrast: Option<Candidate>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub patch_scores: Option<Vec<f32>>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub pixel_scores: Option<Vec<f32>>,
    /// The text positions up to this token's predicting position, as tokens.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub text_tokens: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub text_scores: Option<Vec<f32>>,
}

/// A generated answer and its explanations: the JSON of `sightline generate`.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Generation {
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub method: Option<Method>,
    pub backend: String,
    pub model: ModelInfo,
    pub options: MethodOptions,
    /// The formatted prompt (chat template applied, one `<image>`).
    pub prompt: String,
    pub prompt_ids: Vec<u32>,
    pub input_size: [usize; 2],
    pub patch_grid: [usize; 2],
    pub crop: ImageCropRect,
    pub answer: String,
    pub tokens: Vec<AnswerToken>,
    pub warnings: Vec<String>,
    pub timings_ms: BTreeMap<String, f64>,
}

pub struct GenerativeExplainer<B: Backend> {
    backend: B,
    model: LlavaModel<B::Tensor>,
    processor: LlavaProcessor,
    generation: GenerationConfig,
    pub info: ModelInfo,
    pub image_limits: ImageLimits,
    pub batch_budget_bytes: usize,
}

impl<B: Backend> GenerativeExplainer<B> {
    pub fn load(backend: B, files: &ModelFiles) -> Result<Self> {
        let config = LlavaConfig::from_json(&files.config_json)?;
        let weights = Weights::from_files(&files.weights)?;
        let processor = LlavaProcessor::new(files, &config)?;
        let generation =
            GenerationConfig::resolve(files.generative.generation_config_json.as_deref(), &config.text_config)?;
        let info = ModelInfo {
            name: config.name_or_path.clone().filter(|n| !n.is_empty()).unwrap_or_else(|| files.name.clone()),
            architecture: "LlavaForConditionalGeneration".into(),
            dtype: weights.dtype_name(),
        };
        let model = LlavaModel::new(&backend, config, &weights)?;
        Ok(GenerativeExplainer {
            backend,
            model,
            processor,
            generation,
            info,
            image_limits: ImageLimits::default(),
            batch_budget_bytes: DEFAULT_BATCH_BUDGET_BYTES,
        })
    }

    pub fn geometry(&self) -> Geometry {
        let vision = &self.model.config.vision_config;
        Geometry { image_size: vision.image_size, patch_size: vision.patch_size, grid_side: vision.grid_side() }
    }

    pub fn backend(&self) -> &B {
        &self.backend
    }

    pub fn processor(&self) -> &LlavaProcessor {
        &self.processor
    }

    pub fn config(&self) -> &LlavaConfig {
        &self.model.config
    }

    /// `generate_async`, on a backend that never has to wait (the CPU, or WebGPU natively).
    pub fn generate(
        &self,
        request: &GenerateRequest,
        on_token: &mut dyn FnMut(&StreamedToken) -> bool,
    ) -> Result<Generation> {
        super::explainer::now(self.generate_async(request, on_token, &|_, _| {}))
    }

    /// Answers the request's question, calling `on_token` with every token as it comes (returning
    /// false stops the answer there), then explains the answer's tokens with the request's method.
    pub async fn generate_async(
        &self,
        request: &GenerateRequest<'_>,
        on_token: &mut dyn FnMut(&StreamedToken) -> bool,
        progress: &dyn Fn(usize, usize),
    ) -> Result<Generation> {
        request.options.validate()?;
        request.sampling.validate()?;
        if let Some(method) = request.method.filter(|m| !Method::GENERATIVE.contains(m)) {
            let known: Vec<&str> = Method::GENERATIVE.iter().map(|m| m.name()).collect();
            return Err(Error::InvalidOption(format!(
                "{method} explains CLIP scores; a generated token is explained by {}",
                known.join(", ")
            )));
        }
        if request.max_tokens == 0 || request.max_tokens > MAX_TOKENS {
            return Err(Error::InvalidOption(format!(
                "max tokens must be between 1 and {MAX_TOKENS}, got {}",
                request.max_tokens
            )));
        }
        let timings = Timings::new();
        let backend = &self.backend;
        let decoded;
        let image = match request.image {
            ImageInput::Encoded(bytes) => {
                decoded = decode_image(bytes, self.image_limits)?;
                &decoded
            }
            ImageInput::Decoded(image) => image,
        };
        let prepared = self.processor.prepare_decoded(image);
        let prompt = self.processor.prompt(request.prompt)?;
        let contrast = match request.contrast {
            Some(ContrastToken::Text(text)) => Some(self.processor.single_token(text)?),
            Some(ContrastToken::Id(id)) if (id as usize) < self.model.config.text_config.vocab_size => Some(id),
            Some(ContrastToken::Id(id)) => {
                return Err(Error::InvalidOption(format!(
                    "contrast token id {id} is outside the vocabulary of {} tokens",
                    self.model.config.text_config.vocab_size
                )))
            }
            None => None,
        };
        if contrast.is_some() && request.token.is_none() {
            return Err(Error::InvalidOption("a contrast needs the answer token it explains (--token K)".into()));
        }
        let image_positions: Vec<u32> = prompt.image_positions.iter().map(|&p| p as u32).collect();
        timings.lap("preprocess");

        let pixels = backend.upload(&batch_of_one(&prepared.pixels))?;
        let room = self.processor.max_positions().saturating_sub(prompt.ids.len());
        if let Some(given) = request.answer {
            if given.is_empty() || given.len() > room {
                return Err(Error::InvalidOption(format!(
                    "a given answer must have 1 to {room} tokens (what the model's {} positions leave after the \
                     prompt's {}), got {}",
                    self.processor.max_positions(),
                    prompt.ids.len(),
                    given.len()
                )));
            }
            let vocabulary = self.model.config.text_config.vocab_size;
            if let Some(id) = given.iter().find(|&&id| id as usize >= vocabulary) {
                return Err(Error::InvalidOption(format!(
                    "answer token {id} is outside the vocabulary of {vocabulary}"
                )));
            }
        }
        let max_tokens = request.answer.map_or(request.max_tokens, <[u32]>::len).min(room);
        let mut warnings = Vec::new();
        if max_tokens < request.max_tokens {
            warnings.push(format!(
                "the answer was limited to {max_tokens} tokens: the prompt's {} tokens leave no more room in the \
                 model's {} positions",
                prompt.ids.len(),
                self.processor.max_positions()
            ));
        }
        let steps = GenerationSteps {
            prompt: &prompt.ids,
            image_positions: &image_positions,
            max_tokens,
            watched: contrast,
            given: request.answer,
        };
        let answer = self.answer(&pixels, steps, request.sampling, on_token, &timings).await?;
        timings.lap_after_device(backend, "generate").await?;

        let geometry = self.geometry();
        let mut tokens: Vec<AnswerToken> = answer
            .into_iter()
            .map(|(token, watched_prob)| AnswerToken {
                contrast: contrast.zip(watched_prob).map(|(id, prob)| Candidate {
                    id,
                    text: self.processor.token_text(id),
                    prob,
                }),
                token,
                patch_scores: None,
                pixel_scores: None,
                text_tokens: None,
                text_scores: None,
            })
            .collect();
        if let Some(method) = request.method.filter(|_| !tokens.is_empty()) {
            let explained: Vec<usize> = match request.token {
                Some(k) if k < tokens.len() => vec![k],
                Some(k) => {
                    return Err(Error::InvalidOption(format!(
                        "token {k} is out of range: the answer has {} tokens (counting from 0)",
                        tokens.len()
                    )))
                }
                None => (0..tokens.len()).collect(),
            };
            let explained_ids: Vec<u32> = tokens.iter().map(|t| t.token.id).collect();
            // The last explained token's predicting position ends the sequence: a causal decoder's
            // rows up to it never see what follows.
            let last = *explained.last().unwrap_or(&0);
            let sequence: Vec<u32> = prompt.ids.iter().chain(&explained_ids[..last]).copied().collect();
            let logits: Vec<ExplainedLogit> = explained
                .iter()
                .map(|&k| ExplainedLogit { position: prompt.ids.len() + k - 1, id: explained_ids[k], contrast })
                .collect();
            let image = ExplainedImage { geometry, pixels: prepared.pixels.clone(), on_device: pixels };
            let recording = method.recording();
            let answer_pass = AnswerPass::new(
                backend,
                &self.model,
                image,
                sequence,
                &prompt.image_positions,
                logits,
                recording,
                self.batch_budget_bytes,
                &timings,
            )
            .await?;
            timings.lap_after_device(backend, "answer_forward").await?;
            for (index, &k) in explained.iter().enumerate() {
                let subject = TokenSubject::new(&answer_pass, index);
                let maps = methods::run(&subject, &(), method, &request.options, &timings, progress).await?;
                let text_positions = subject.text_positions();
                let token = &mut tokens[k];
                token.text_tokens =
                    Some(text_positions.iter().map(|&p| self.processor.token_text(answer_pass.ids()[p])).collect());
                token.patch_scores = Some(maps.patch_scores);
                token.pixel_scores = maps.pixel_scores;
                token.text_scores = maps.text_scores;
            }
            timings.lap_after_device(backend, "method").await?;
        }
        let ids: Vec<u32> = tokens.iter().map(|t| t.token.id).collect();
        Ok(Generation {
            method: request.method,
            backend: backend.name().into(),
            model: self.info.clone(),
            options: request.options,
            prompt: prompt.formatted,
            prompt_ids: prompt.ids,
            input_size: [geometry.image_size, geometry.image_size],
            patch_grid: [geometry.grid_side, geometry.grid_side],
            crop: prepared.crop,
            answer: self.processor.decode(&ids)?,
            tokens,
            warnings,
            timings_ms: timings.finish(),
        })
    }

    /// The logits that predict each of `answer`'s tokens after `prompt`, from one forward pass
    /// over the whole sequence without a cache (teacher forcing): what an answer's tokens score,
    /// and the reference the cached generation must equal. One (V) row per answer token.
    pub fn teacher_forced_logits(&self, image: ImageInput, prompt: &str, answer: &[u32]) -> Result<Vec<Vec<f32>>> {
        let backend = &self.backend;
        let decoded;
        let image = match image {
            ImageInput::Encoded(bytes) => {
                decoded = decode_image(bytes, self.image_limits)?;
                &decoded
            }
            ImageInput::Decoded(image) => image,
        };
        let prepared = self.processor.prepare_decoded(image);
        let prompt = self.processor.prompt(prompt)?;
        let ids: Vec<u32> = prompt.ids.iter().chain(answer).copied().collect();
        if ids.len() > self.processor.max_positions() {
            return Err(Error::Text(format!(
                "the prompt and answer are {} tokens; the model reads at most {}",
                ids.len(),
                self.processor.max_positions()
            )));
        }
        let positions: Vec<u32> = prompt.image_positions.iter().map(|&p| p as u32).collect();
        let pixels = backend.upload(&batch_of_one(&prepared.pixels))?;
        let pass = self.model.forward(backend, &pixels, &ids, &positions, Recording::Nothing)?;
        (0..answer.len())
            .map(|k| {
                let state = backend.select_token(&pass.decoder.output, prompt.ids.len() + k - 1)?;
                Ok(backend.download(&self.model.decoder.logits(backend, &state)?)?.data)
            })
            .collect()
    }

    /// Generates up to `max_tokens` tokens with the key/value cache, stopping at an end-of-sequence
    /// token (kept as the last token) or when `on_token` says so. Each token comes with the
    /// probability of the watched token at its step.
    async fn answer(
        &self,
        pixels: &B::Tensor,
        steps: GenerationSteps<'_>,
        sampling: SamplingOptions,
        on_token: &mut dyn FnMut(&StreamedToken) -> bool,
        timings: &Timings,
    ) -> Result<Vec<(StreamedToken, Option<f32>)>> {
        let GenerationSteps { prompt, image_positions, max_tokens, watched, given } = steps;
        let backend = &self.backend;
        let mut sampler = Sampler::new(sampling)?;
        let mut cache = KvCache::new();
        let mut stream = self.processor.text_stream();
        let mut tokens = Vec::new();
        // A given answer is scored by one forward pass over it; a generated one step by step.
        let forced = match given {
            Some(ids) => {
                let sequence: Vec<u32> = prompt.iter().chain(&ids[..ids.len() - 1]).copied().collect();
                let pass = self.model.forward(backend, pixels, &sequence, image_positions, Recording::Nothing)?;
                let rows = (0..ids.len())
                    .map(|k| {
                        self.model
                            .decoder
                            .logits(backend, &backend.select_token(&pass.decoder.output, prompt.len() + k - 1)?)
                    })
                    .collect::<Result<Vec<_>>>()?;
                Some(rows)
            }
            None => None,
        };
        let mut logits = match &forced {
            Some(rows) => rows[0].clone(),
            None => self.model.prefill(backend, pixels, prompt, image_positions, &mut cache)?,
        };
        for index in 0..max_tokens {
            let values = timings.read(backend, &logits).await?.data;
            let id = match given {
                Some(ids) => ids[index],
                None => sampler.pick(&values)?,
            };
            let token = StreamedToken {
                index,
                id,
                text: stream.push(id)?,
                logit: values[id as usize],
                prob: probability(&values, id),
                top: top_candidates(&values, TOP_CANDIDATES)
                    .into_iter()
                    .map(|(id, prob)| Candidate { id, text: self.processor.token_text(id), prob })
                    .collect(),
            };
            let keep_going = on_token(&token);
            tokens.push((token, watched.map(|id| probability(&values, id))));
            let ended = given.is_none() && self.generation.is_eos(id);
            if !keep_going || ended || index + 1 == max_tokens {
                break;
            }
            logits = match &forced {
                Some(rows) => rows[index + 1].clone(),
                None => self.model.decode(backend, id, &mut cache)?,
            };
        }
        Ok(tokens)
    }
}

/// What one answer starts from and how long it may get.
struct GenerationSteps<'a> {
    prompt: &'a [u32],
    image_positions: &'a [u32],
    max_tokens: usize,
    /// The answer to score instead of generating one.
    given: Option<&'a [u32]>,
    /// A token whose probability is reported at every step (the contrast).
    watched: Option<u32>,
}

fn batch_of_one(pixels: &HostTensor) -> HostTensor {
    HostTensor::new(pixels.data.clone(), [&[1], pixels.shape.as_slice()].concat())
}
