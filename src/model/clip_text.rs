//! CLIP's text tower (HF `CLIPTextTransformer` + `text_projection`): token and position
//! embeddings, causal encoder, `final_layer_norm`, the pooled end-of-text token, projection.
//! One text per pass: the causal mask makes padding irrelevant, so texts never need batching.

use super::encoder::{Encoder, EncoderGrads, EncoderTrace, Readout, Recording};
use super::{LayerNorm, Linear, MatrixWeight, WeightLoader};
use crate::backend::Backend;
use crate::config::ClipTextConfig;
use crate::error::Result;

pub struct TextTower<T> {
    /// (V, D); a quantized table stays quantized and only the looked-up rows are expanded.
    token_embedding: MatrixWeight<T>,
    /// (max positions, D)
    position_embedding: T,
    pub encoder: Encoder<T>,
    final_layer_norm: LayerNorm<T>,
    /// (projection, D), no bias.
    projection: Linear<T>,
    pub config: ClipTextConfig,
}

pub struct TextPass<T> {
    /// e_t, the token embeddings before positions are added, (1, T, D).
    pub token_embeddings: T,
    /// Its `output` is the pooled token's final state before `final_layer_norm`, (1, D). The norm
    /// is row-wise, so norming only this row equals transformers' norm-then-select.
    pub encoder: EncoderTrace<T>,
    /// (1, projection)
    pub embeds: T,
}

pub struct TextGrads<T> {
    /// ∂s/∂e_t, (1, T, D): positions are added to e_t, so this is the encoder input's gradient.
    pub d_token_embeddings: T,
    pub encoder: EncoderGrads<T>,
}

impl<T: Clone> TextTower<T> {
    pub fn new<B: Backend<Tensor = T>>(
        model: &WeightLoader<B>,
        config: &ClipTextConfig,
        projection_dim: usize,
    ) -> Result<Self> {
        let text = model.pp("text_model");
        let embeddings = text.pp("embeddings");
        let d = config.hidden_size;
        Ok(TextTower {
            token_embedding: embeddings.pp("token_embedding").get_matrix("weight", [config.vocab_size, d])?,
            position_embedding: embeddings
                .pp("position_embedding")
                .get("weight", &[config.max_position_embeddings, d])?,
            encoder: Encoder::new(text.pp("encoder"), config.encoder()?)?,
            final_layer_norm: LayerNorm::new(text.pp("final_layer_norm"), d, config.layer_norm_eps)?,
            projection: Linear::new(model.pp("text_projection"), d, projection_dim, false)?,
            config: config.clone(),
        })
    }

    pub fn forward<B: Backend<Tensor = T>>(
        &self,
        backend: &B,
        ids: &[u32],
        pooled_position: usize,
        recording: Recording,
    ) -> Result<TextPass<T>> {
        let token_embeddings = self.token_embedding.gather_rows(backend, ids)?;
        let input = backend.add_positions(&token_embeddings, &self.position_embedding)?;
        let encoder = self.encoder.forward(backend, &input, Readout::Token(pooled_position), recording)?;
        let embeds = self.projection.forward(backend, &self.final_layer_norm.forward(backend, &encoder.output)?)?;
        Ok(TextPass { token_embeddings, encoder, embeds })
    }

    pub fn backward<B: Backend<Tensor = T>>(
        &self,
        backend: &B,
        pass: &TextPass<T>,
        d_embeds: &T,
    ) -> Result<TextGrads<T>> {
        let d_normed = self.projection.backward(backend, d_embeds)?;
        let d_pooled = self.final_layer_norm.backward(backend, &pass.encoder.output, &d_normed)?;
        let encoder = self.encoder.backward(backend, &pass.encoder, &d_pooled)?;
        Ok(TextGrads { d_token_embeddings: encoder.d_input.clone(), encoder })
    }
}
