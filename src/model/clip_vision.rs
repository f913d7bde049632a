//! CLIP's vision transformer (HF `CLIPVisionTransformer`): patch convolution, class token,
//! positions, `pre_layrnorm` (sic, as the checkpoints name it), encoder, `post_layernorm`. CLIP reads
//! it at the class token and projects it (`VisionTower`); a LLaVA reads every token of an inner
//! layer (`model/llava_vision.rs`).

use super::encoder::{Encoder, EncoderGrads, EncoderTrace, Readout, Recording};
use super::{LayerNorm, Linear, WeightLoader};
use crate::backend::Backend;
use crate::config::ClipVisionConfig;
use crate::error::Result;

pub struct VisionTransformer<T> {
    /// (D, 3, P, P)
    patch_embedding: T,
    /// (D)
    class_embedding: T,
    /// (N + 1, D)
    position_embedding: T,
    pre_layrnorm: LayerNorm<T>,
    pub encoder: Encoder<T>,
    pub post_layernorm: LayerNorm<T>,
    pub config: ClipVisionConfig,
}

/// A forward pass of the vision transformer.
pub struct VisionTrace<T> {
    /// The embeddings before `pre_layrnorm`, (B, N + 1, D).
    embeddings: T,
    /// Its `output` is what the readout asked for, before `post_layernorm`.
    pub encoder: EncoderTrace<T>,
}

pub struct VisionGrads<T> {
    /// ∂s/∂pixel_values, (B, 3, S, S).
    pub d_pixels: T,
    pub encoder: EncoderGrads<T>,
}

impl<T: Clone> VisionTransformer<T> {
    /// The transformer under `vision` (the checkpoint's `vision_model`).
    pub fn new<B: Backend<Tensor = T>>(vision: &WeightLoader<B>, config: &ClipVisionConfig) -> Result<Self> {
        let embeddings = vision.pp("embeddings");
        let (d, p) = (config.hidden_size, config.patch_size);
        Ok(VisionTransformer {
            patch_embedding: embeddings.pp("patch_embedding").get("weight", &[d, config.num_channels, p, p])?,
            class_embedding: embeddings.get("class_embedding", &[d])?,
            position_embedding: embeddings.pp("position_embedding").get("weight", &[config.num_patches() + 1, d])?,
            pre_layrnorm: LayerNorm::new(vision.pp("pre_layrnorm"), d, config.layer_norm_eps)?,
            encoder: Encoder::new(vision.pp("encoder"), config.encoder()?)?,
            post_layernorm: LayerNorm::new(vision.pp("post_layernorm"), d, config.layer_norm_eps)?,
            config: config.clone(),
        })
    }

    /// pixels (B, 3, S, S) → the encoder's `readout`, and whatever `recording` asks to keep.
    pub fn forward<B: Backend<Tensor = T>>(
        &self,
        backend: &B,
        pixels: &T,
        readout: Readout,
        recording: Recording,
    ) -> Result<VisionTrace<T>> {
        let patches = backend.patch_embed(pixels, &self.patch_embedding, self.config.patch_size)?;
        let tokens = backend.prepend_class(&patches, &self.class_embedding)?;
        let embeddings = backend.add_positions(&tokens, &self.position_embedding)?;
        let encoder_input = self.pre_layrnorm.forward(backend, &embeddings)?;
        let encoder = self.encoder.forward(backend, &encoder_input, readout, recording)?;
        Ok(VisionTrace { embeddings, encoder })
    }

    /// Backpropagates `d_output`, the gradient of the trace's encoder output, through a trace
    /// recorded with `Recording::Backward`.
    pub fn backward<B: Backend<Tensor = T>>(
        &self,
        backend: &B,
        trace: &VisionTrace<T>,
        d_output: &T,
    ) -> Result<VisionGrads<T>> {
        let encoder = self.encoder.backward(backend, &trace.encoder, d_output)?;
        let d_embeddings = self.pre_layrnorm.backward(backend, &trace.embeddings, &encoder.d_input)?;
        let d_patches = backend.drop_first_token(&d_embeddings)?;
        let d_pixels = backend.patch_embed_backward(
            &d_patches,
            &self.patch_embedding,
            self.config.patch_size,
            self.config.image_size,
        )?;
        Ok(VisionGrads { d_pixels, encoder })
    }

    /// How many images one batched pass may hold when `recording` is kept: what fits the
    /// activation-memory `budget_bytes`, with no single activation above `max_tensor_bytes` (a GPU
    /// binding limit).
    pub fn images_per_batch(&self, recording: Recording, budget_bytes: usize, max_tensor_bytes: usize) -> usize {
        let c = &self.config;
        let (t, d, i, h) = (c.num_patches() + 1, c.hidden_size, c.intermediate_size, c.num_attention_heads);
        let per_layer_floats = match recording {
            Recording::Backward => 5 * t * d + i * t + 2 * h * t * t,
            _ => 0,
        };
        // Transient buffers of the widest op in flight, plus the recorded layers.
        let per_image_bytes = 4 * (c.num_hidden_layers * per_layer_floats + 3 * (t * i + h * t * t));
        let by_budget = budget_bytes / per_image_bytes.max(1);
        let largest_tensor_bytes = 4 * (t * i).max(h * t * t).max(3 * c.image_size * c.image_size);
        let by_tensor = max_tensor_bytes / largest_tensor_bytes.max(1);
        by_budget.min(by_tensor).max(1)
    }
}

/// CLIP's vision tower (HF `CLIPVisionTransformer` + `visual_projection`): the transformer read at
/// the class token, `post_layernorm`, the projection.
pub struct VisionTower<T> {
    pub transformer: VisionTransformer<T>,
    /// (projection, D), no bias.
    projection: Linear<T>,
}

pub struct VisionPass<T> {
    /// Its encoder `output` is the class token's final state before `post_layernorm`, (B, D).
    pub trace: VisionTrace<T>,
    /// (B, projection)
    pub embeds: T,
}

impl<T: Clone> VisionTower<T> {
    pub fn new<B: Backend<Tensor = T>>(
        model: &WeightLoader<B>,
        config: &ClipVisionConfig,
        projection_dim: usize,
    ) -> Result<Self> {
        Ok(VisionTower {
            transformer: VisionTransformer::new(&model.pp("vision_model"), config)?,
            projection: Linear::new(model.pp("visual_projection"), config.hidden_size, projection_dim, false)?,
        })
    }

    /// pixels (B, 3, S, S) → projected embeddings and whatever `recording` asks to keep.
    pub fn forward<B: Backend<Tensor = T>>(
        &self,
        backend: &B,
        pixels: &T,
        recording: Recording,
    ) -> Result<VisionPass<T>> {
        let trace = self.transformer.forward(backend, pixels, Readout::Token(0), recording)?;
        let pooled = self.transformer.post_layernorm.forward(backend, &trace.encoder.output)?;
        let embeds = self.projection.forward(backend, &pooled)?;
        Ok(VisionPass { trace, embeds })
    }

    /// Backpropagates ∂s/∂embeds (B, projection) through a pass recorded with `Recording::Backward`.
    pub fn backward<B: Backend<Tensor = T>>(
        &self,
        backend: &B,
        pass: &VisionPass<T>,
        d_embeds: &T,
    ) -> Result<VisionGrads<T>> {
        let d_normed = self.projection.backward(backend, d_embeds)?;
        let d_pooled = self.transformer.post_layernorm.backward(backend, &pass.trace.encoder.output, &d_normed)?;
        self.transformer.backward(backend, &pass.trace, &d_pooled)
    }
}
