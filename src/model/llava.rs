//! LLaVA (Liu et al. 2023, <https://arxiv.org/abs/2304.08485>) as transformers'
//! `LlavaForConditionalGeneration`: a CLIP vision transformer read at `vision_feature_layer`
//! (every token; the class token dropped by the `default` strategy), the multi-modal projector
//! (linear_1 → act → linear_2), whose rows replace the prompt's expanded `<image>` tokens in
//! order, and a Llama-family decoder with its vocabulary head.

use super::clip_vision::{VisionGrads, VisionTrace, VisionTransformer};
use super::encoder::{Readout, Recording};
use super::llama::{DecoderGrads, DecoderTrace, KvCache, LlamaDecoder};
use super::{Linear, WeightLoader};
use crate::backend::{Activation, Backend};
use crate::config::{FeatureSelectStrategy, LlavaConfig};
use crate::error::{Error, Result};
use crate::loader::{HostTensor, LlavaTensorNames, Weights};

/// What one explained score of a generated token reads: the logit of token `id` at `position`
/// (the position that predicts it), minus the logit of `contrast` there when one is given.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ExplainedLogit {
    pub position: usize,
    pub id: u32,
    pub contrast: Option<u32>,
}

/// linear_1 → act → linear_2, token by token.
struct Projector<T> {
    /// (D_text, D_vision), (D_text, D_text)
    linear_1: Linear<T>,
    linear_2: Linear<T>,
    activation: Activation,
}

/// The image through the vision tower and the projector.
pub struct ImagePass<T> {
    pub vision: VisionTrace<T>,
    /// The activation's derivative at linear_1's output, when recorded for the backward pass.
    activation_derivative: Option<T>,
    /// The rows that replace the image tokens, (B, N_img, D_text).
    pub features: T,
}

/// The prompt and answer as one sequence through the whole model.
pub struct SequencePass<T> {
    pub image: ImagePass<T>,
    /// The sequence's token embeddings e (1, T, D): what ∂s/∂e is taken against (the image
    /// positions hold the image token's embedding, which the features replace).
    pub token_embeddings: T,
    pub decoder: DecoderTrace<T>,
}

/// K backward passes through a `SequencePass`, one per seed.
pub struct SequenceGrads<T> {
    /// ∂s/∂pixel_values, (K, 3, S, S).
    pub d_pixels: T,
    /// ∂s/∂e, (K, T, D); zero at the image positions, whose embeddings the features replaced.
    pub d_token_embeddings: T,
    pub decoder: DecoderGrads<T>,
    pub vision: VisionGrads<T>,
}

pub struct LlavaModel<T> {
    pub vision: VisionTransformer<T>,
    projector: Projector<T>,
    pub decoder: LlamaDecoder<T>,
    pub config: LlavaConfig,
    /// How many vision layers feed the features.
    feature_layers: usize,
}

impl<T: Clone> LlavaModel<T> {
    pub fn new<B: Backend<Tensor = T>>(backend: &B, config: LlavaConfig, weights: &Weights) -> Result<Self> {
        let names = weights.tensor_shapes();
        let layout = LlavaTensorNames::resolve(names.iter().map(|(name, _)| name.as_str()), &config)?;
        let loader = WeightLoader::new(backend, weights);
        let vision = VisionTransformer::new(&loader.pp(&layout.vision_tower), &config.vision_config)?;
        let projector_loader = loader.pp(&layout.projector);
        let (dv, dt) = (config.vision_config.hidden_size, config.text_config.hidden_size);
        let bias = config.multimodal_projector_bias;
        let projector = Projector {
            linear_1: Linear::new(projector_loader.pp("linear_1"), dv, dt, bias)?,
            linear_2: Linear::new(projector_loader.pp("linear_2"), dt, dt, bias)?,
            activation: Activation::from_config_name(&config.projector_hidden_act)?,
        };
        let head = (!config.tie_word_embeddings).then(|| loader.pp(&layout.lm_head));
        let decoder = LlamaDecoder::new(backend, &loader.pp(&layout.decoder), head, &config.text_config)?;
        let feature_layers = config.vision_layers_used()?;
        Ok(LlavaModel { vision, projector, decoder, config, feature_layers })
    }

    /// How many image patches the vision tower sees (the grid, row-major).
    pub fn patch_tokens(&self) -> usize {
        self.config.vision_config.num_patches()
    }

    /// pixels (B, 3, S, S) → the rows of the image tokens (B, N_img, D_text).
    pub fn image_features<B: Backend<Tensor = T>>(
        &self,
        backend: &B,
        pixels: &T,
        recording: Recording,
    ) -> Result<ImagePass<T>> {
        let readout = Readout::AllTokens { layers: self.feature_layers };
        let vision = self.vision.forward(backend, pixels, readout, recording)?;
        let selected = match self.config.vision_feature_select_strategy {
            FeatureSelectStrategy::Default => backend.drop_first_token(&vision.encoder.output)?,
            FeatureSelectStrategy::Full => vision.encoder.output.clone(),
        };
        let hidden = self.projector.linear_1.forward(backend, &selected)?;
        let (activated, activation_derivative) = if recording == Recording::Backward {
            let (activated, derivative) = backend.activation_with_derivative(&hidden, self.projector.activation)?;
            (activated, Some(derivative))
        } else {
            (backend.activation(&hidden, self.projector.activation)?, None)
        };
        let features = self.projector.linear_2.forward(backend, &activated)?;
        Ok(ImagePass { vision, activation_derivative, features })
    }

    /// The decoder's input for `ids` with the image tokens at `image_positions` replaced by
    /// `features` (B, N, D) in order: (B, T, D), and the token embeddings e (1, T, D).
    pub fn embed_sequence<B: Backend<Tensor = T>>(
        &self,
        backend: &B,
        ids: &[u32],
        features: &T,
        image_positions: &[u32],
    ) -> Result<(T, T)> {
        let token_embeddings = self.decoder.embed(backend, ids)?;
        let batch = backend.dims(features).first().copied().unwrap_or(1);
        let repeated = if batch == 1 {
            token_embeddings.clone()
        } else {
            backend.scaled_copies(&token_embeddings, &vec![1.0; batch])?
        };
        Ok((backend.replace_rows(&repeated, features, image_positions)?, token_embeddings))
    }

    /// The whole sequence `ids` (prompt and answer, teacher-forced) with the image `pixels`
    /// (B, 3, S, S), recording what `recording` asks for in the vision tower and the decoder.
    pub fn forward<B: Backend<Tensor = T>>(
        &self,
        backend: &B,
        pixels: &T,
        ids: &[u32],
        image_positions: &[u32],
        recording: Recording,
    ) -> Result<SequencePass<T>> {
        let image = self.image_features(backend, pixels, recording)?;
        let (input, token_embeddings) = self.embed_sequence(backend, ids, &image.features, image_positions)?;
        let decoder = self.decoder.forward(backend, &input, recording)?;
        Ok(SequencePass { image, token_embeddings, decoder })
    }

    /// Backpropagates `d_output` (K, T, D), K gradients of the decoder's last layer output,
    /// through a pass recorded with `Recording::Backward`.
    pub fn backward<B: Backend<Tensor = T>>(
        &self,
        backend: &B,
        pass: &SequencePass<T>,
        image_positions: &[u32],
        d_output: &T,
    ) -> Result<SequenceGrads<T>> {
        let decoder = self.decoder.backward(backend, &pass.decoder, d_output)?;
        let (d_token_embeddings, d_features) = backend.replace_rows_backward(&decoder.d_input, image_positions)?;
        let derivative = pass
            .image
            .activation_derivative
            .as_ref()
            .ok_or_else(|| Error::Internal("backward needs a forward recorded with Recording::Backward".into()))?;
        let d_activated = self.projector.linear_2.backward(backend, &d_features)?;
        let d_hidden = backend.multiply(&d_activated, derivative)?;
        let d_selected = self.projector.linear_1.backward(backend, &d_hidden)?;
        let d_vision_output = match self.config.vision_feature_select_strategy {
            FeatureSelectStrategy::Default => backend.prepend_class(&d_selected, &self.zero_vision_row(backend)?)?,
            FeatureSelectStrategy::Full => d_selected,
        };
        let vision = self.vision.backward(backend, &pass.image.vision, &d_vision_output)?;
        Ok(SequenceGrads { d_pixels: vision.d_pixels.clone(), d_token_embeddings, decoder, vision })
    }

    /// The class token's gradient when the `default` strategy dropped it: zero.
    fn zero_vision_row<B: Backend<Tensor = T>>(&self, backend: &B) -> Result<T> {
        let width = self.config.vision_config.hidden_size;
        backend.upload(&HostTensor::new(vec![0.0; width], vec![width]))
    }

    /// The rows of the vocabulary head whose dot product with the normed state is each token's
    /// explained score: W[id], or W[id] − W[contrast], (1, K, D). Every token has a contrast or
    /// none does.
    fn score_rows<B: Backend<Tensor = T>>(&self, backend: &B, tokens: &[ExplainedLogit]) -> Result<T> {
        let ids: Vec<u32> = tokens.iter().map(|t| t.id).collect();
        let rows = self.decoder.head_rows(backend, &ids)?;
        let contrasts: Option<Vec<u32>> = tokens.iter().map(|t| t.contrast).collect();
        match contrasts {
            Some(contrasts) => {
                let subtracted = backend.scaled_copies(&self.decoder.head_rows(backend, &contrasts)?, &[-1.0])?;
                backend.add(&rows, &subtracted)
            }
            None if tokens.iter().all(|t| t.contrast.is_none()) => Ok(rows),
            None => Err(Error::Internal("contrasted and plain tokens in one batch".into())),
        }
    }

    /// The seeds of the backward passes of `tokens` through a pass of batch 1: for token k,
    /// ∂s_k/∂h_L at its position (the final norm's VJP of its score rows), zero at other
    /// positions, (K, T, D).
    fn token_seeds<B: Backend<Tensor = T>>(
        &self,
        backend: &B,
        pass: &SequencePass<T>,
        tokens: &[ExplainedLogit],
    ) -> Result<T> {
        let positions: Vec<u32> = tokens.iter().map(|t| t.position as u32).collect();
        let hidden = backend.select_rows(&pass.decoder.output, &positions)?;
        let d_hidden = self.decoder.norm_backward(backend, &hidden, &self.score_rows(backend, tokens)?)?;
        let width = self.config.text_config.hidden_size;
        let sequence = backend.dims(&pass.decoder.output).get(1).copied().unwrap_or(0);
        backend.place_tokens(&backend.reshape(&d_hidden, &[tokens.len(), width])?, &positions, sequence)
    }

    /// The gradients of each of `tokens`' scores, one backward pass each run as one batch through
    /// `pass` (batch 1, recorded with `Recording::Backward`).
    pub fn token_gradients<B: Backend<Tensor = T>>(
        &self,
        backend: &B,
        pass: &SequencePass<T>,
        image_positions: &[u32],
        tokens: &[ExplainedLogit],
    ) -> Result<SequenceGrads<T>> {
        let seeds = self.token_seeds(backend, pass, tokens)?;
        self.backward(backend, pass, image_positions, &seeds)
    }

    /// Each token's explained score from the teacher-forced pass, on the device, (K).
    pub fn token_scores<B: Backend<Tensor = T>>(
        &self,
        backend: &B,
        pass: &SequencePass<T>,
        tokens: &[ExplainedLogit],
    ) -> Result<Vec<T>> {
        tokens
            .iter()
            .map(|token| {
                let state = backend.select_rows(&pass.decoder.output, &[token.position as u32])?;
                self.scores_of_states(backend, &state, token)
            })
            .collect()
    }

    /// s for states (B, 1, D) at the explained position: norm, then the score row, (B).
    fn scores_of_states<B: Backend<Tensor = T>>(&self, backend: &B, states: &T, token: &ExplainedLogit) -> Result<T> {
        let batch = backend.dims(states).first().copied().unwrap_or(1);
        let width = self.config.text_config.hidden_size;
        let row = backend.reshape(&self.score_rows(backend, std::slice::from_ref(token))?, &[1, width])?;
        let scores = backend.linear(&self.decoder.normed(backend, states)?, &row, None)?;
        backend.reshape(&scores, &[batch])
    }

    /// The logit of `token.id` read through the head at each of `positions` of the pass,
    /// lm_head(norm(h_L))[p, id], (N).
    pub fn scores_at<B: Backend<Tensor = T>>(
        &self,
        backend: &B,
        pass: &SequencePass<T>,
        positions: &std::ops::Range<usize>,
        token: &ExplainedLogit,
    ) -> Result<T> {
        let rows: Vec<u32> = positions.clone().map(|p| p as u32).collect();
        let states = backend.select_rows(&pass.decoder.output, &rows)?;
        let width = self.config.text_config.hidden_size;
        let head_row = backend.reshape(&self.decoder.head_rows(backend, &[token.id])?, &[1, width])?;
        let scores = backend.linear(&self.decoder.normed(backend, &states)?, &head_row, None)?;
        backend.reshape(&scores, &[rows.len()])
    }

    /// ∂s/∂pixels for each image of a batch (B, 3, S, S) with the sequence `ids` fixed: one pass
    /// forward and back per batch, (B, 3, S, S).
    pub fn input_gradients<B: Backend<Tensor = T>>(
        &self,
        backend: &B,
        pixels: &T,
        ids: &[u32],
        image_positions: &[u32],
        token: &ExplainedLogit,
    ) -> Result<T> {
        let pass = self.forward(backend, pixels, ids, image_positions, Recording::Backward)?;
        let batch = backend.dims(pixels).first().copied().unwrap_or(1);
        let position = [token.position as u32];
        let states = backend.select_rows(&pass.decoder.output, &position)?;
        let rows = backend.scaled_copies(&self.score_rows(backend, std::slice::from_ref(token))?, &vec![1.0; batch])?;
        let d_states = self.decoder.norm_backward(backend, &states, &rows)?;
        let width = self.config.text_config.hidden_size;
        let d_state = backend.reshape(&d_states, &[batch, width])?;
        let seeds = backend.place_tokens(&d_state, &vec![token.position as u32; batch], ids.len())?;
        Ok(self.backward(backend, &pass, image_positions, &seeds)?.d_pixels)
    }

    /// s for each image of a batch (B, 3, S, S) with the sequence `ids` fixed, (B).
    pub fn input_scores<B: Backend<Tensor = T>>(
        &self,
        backend: &B,
        pixels: &T,
        ids: &[u32],
        image_positions: &[u32],
        token: &ExplainedLogit,
    ) -> Result<T> {
        let pass = self.forward(backend, pixels, ids, image_positions, Recording::Nothing)?;
        let states = backend.select_rows(&pass.decoder.output, &[token.position as u32])?;
        self.scores_of_states(backend, &states, token)
    }

    /// How many sequences of `tokens` tokens one batched pass may hold with `recording` kept,
    /// within `budget_bytes` of activations and no activation above `max_tensor_bytes`.
    pub fn sequences_per_batch(
        &self,
        tokens: usize,
        recording: Recording,
        budget_bytes: usize,
        max_tensor_bytes: usize,
    ) -> usize {
        let vision = self.vision.images_per_batch(recording, budget_bytes, max_tensor_bytes);
        let c = &self.config.text_config;
        let (t, d, i, h) = (tokens, c.hidden_size, c.intermediate_size, c.num_attention_heads);
        let kv = c.num_key_value_heads * c.head_dim;
        let per_layer_floats = match recording {
            Recording::Backward => 4 * t * d + 2 * t * kv + 3 * t * i + 2 * h * t * t,
            Recording::Attention => t * d + h * t * t,
            Recording::Nothing => 0,
        };
        // Transient buffers of the widest op in flight (the gated MLP, the attention maps), plus
        // the recorded layers.
        let per_sequence_bytes = 4 * (c.num_hidden_layers * per_layer_floats + 4 * t * i + 2 * h * t * t);
        let largest_tensor_bytes = 4 * (t * i).max(h * t * t).max(t * d);
        let by_budget = budget_bytes / per_sequence_bytes.max(1);
        let by_tensor = max_tensor_bytes / largest_tensor_bytes.max(1);
        by_budget.min(by_tensor).min(vision).max(1)
    }

    /// How many tokens' backward passes one batch may hold through a pass of `tokens` tokens.
    pub fn seeds_per_batch(&self, tokens: usize, budget_bytes: usize, max_tensor_bytes: usize) -> usize {
        self.sequences_per_batch(tokens, Recording::Backward, budget_bytes, max_tensor_bytes)
    }

    /// Prefills `cache` with the prompt `ids` (its image tokens replaced by the image's features)
    /// and returns the logits that predict the first answer token, (V).
    pub fn prefill<B: Backend<Tensor = T>>(
        &self,
        backend: &B,
        pixels: &T,
        ids: &[u32],
        image_positions: &[u32],
        cache: &mut KvCache<T>,
    ) -> Result<T> {
        let image = self.image_features(backend, pixels, Recording::Nothing)?;
        let (input, _) = self.embed_sequence(backend, ids, &image.features, image_positions)?;
        let hidden = self.decoder.forward_cached(backend, &input, cache)?;
        let last = backend.select_token(&hidden, ids.len() - 1)?;
        self.decoder.logits(backend, &last)
    }

    /// Feeds one generated token to the cached decoder; returns the logits of the next, (V).
    pub fn decode<B: Backend<Tensor = T>>(&self, backend: &B, id: u32, cache: &mut KvCache<T>) -> Result<T> {
        let input = self.decoder.embed(backend, &[id])?;
        let hidden = self.decoder.forward_cached(backend, &input, cache)?;
        let last = backend.select_token(&hidden, 0)?;
        self.decoder.logits(backend, &last)
    }
}
