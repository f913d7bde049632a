//! CLIP as a [`Subject`]: the explained score is s = exp(logit_scale) · cos(image, text[target]),
//! transformers' `logits_per_image[0, target]`. Two attention stacks: the vision tower read at the
//! class token (its patches are tokens 1..), and the target text's tower read at its pooled token.

use crate::backend::cosine::scaled_cosine_with_gradients;
use crate::backend::Backend;
use crate::error::{Error, Result};
use crate::explain::subject::{
    AttentionReadout, AttentionStack, ExplainedImage, GradcamLayer, Subject, TensorOf, TokenGradients,
};
use crate::explain::timings::Timings;
use crate::loader::HostTensor;
use crate::model::{ClipModel, EncoderGrads, LayerRecord, Recording, TextGrads, TextPass, VisionGrads, VisionPass};

pub(crate) struct ClipSubject<'m, B: Backend> {
    backend: &'m B,
    model: &'m ClipModel<B::Tensor>,
    image: ExplainedImage<B::Tensor>,
    /// The target text's pass, recorded for its backward and its attention stack.
    text: TextPass<B::Tensor>,
    /// The target text's tokens and the pooled one among them.
    text_tokens: usize,
    pooled: usize,
    /// The target text's projected embedding, read back.
    text_embed: Vec<f32>,
    /// Activation memory one batched pass may use before it is split.
    batch_budget_bytes: usize,
}

/// A forward pass of the image tower, with the image's projected embedding read back.
pub(crate) struct ClipPass<T> {
    vision: VisionPass<T>,
    pub image_embed: Vec<f32>,
}

pub(crate) struct ClipGrads<T> {
    vision: VisionGrads<T>,
    text: TextGrads<T>,
}

impl<'m, B: Backend> ClipSubject<'m, B> {
    /// `text` is the target text's pass recorded with `Recording::Backward`, `text_embed` its
    /// embedding read back.
    pub fn new(
        backend: &'m B,
        model: &'m ClipModel<B::Tensor>,
        image: ExplainedImage<B::Tensor>,
        text: TextPass<B::Tensor>,
        (text_tokens, pooled): (usize, usize),
        text_embed: Vec<f32>,
        batch_budget_bytes: usize,
    ) -> Self {
        ClipSubject { backend, model, image, text, text_tokens, pooled, text_embed, batch_budget_bytes }
    }

    fn vision_tokens(&self) -> usize {
        self.image.geometry.patches() + 1
    }
}

fn probs_of<T>(layers: &[LayerRecord<T>]) -> Result<Vec<&T>> {
    layers
        .iter()
        .map(|layer| layer.probs.as_ref().ok_or_else(|| Error::Internal("attention was not recorded".into())))
        .collect()
}

fn grads_of<T>(grads: Option<&EncoderGrads<T>>) -> Option<Vec<&T>> {
    grads.map(|g| g.d_probs.iter().collect())
}

impl<B: Backend> Subject for ClipSubject<'_, B> {
    type Backend = B;
    type Pass = ClipPass<B::Tensor>;
    type Grads = ClipGrads<B::Tensor>;

    fn backend(&self) -> &B {
        self.backend
    }

    fn image(&self) -> &ExplainedImage<B::Tensor> {
        &self.image
    }

    async fn forward(&self, recording: Recording, timings: &Timings) -> Result<ClipPass<B::Tensor>> {
        let vision = self.model.encode_image(self.backend, &self.image.on_device, recording)?;
        let image_embed = timings.read(self.backend, &vision.embeds).await?.data;
        Ok(ClipPass { vision, image_embed })
    }

    fn score(&self, pass: &ClipPass<B::Tensor>) -> f32 {
        crate::backend::cosine::scaled_cosine(self.model.logit_multiplier, &pass.image_embed, &self.text_embed)
    }

    async fn backward(&self, pass: &ClipPass<B::Tensor>, _timings: &Timings) -> Result<ClipGrads<B::Tensor>> {
        let gradients = scaled_cosine_with_gradients(self.model.logit_multiplier, &pass.image_embed, &self.text_embed);
        let (image_width, text_width) = (pass.image_embed.len(), self.text_embed.len());
        let d_image = self.backend.upload(&HostTensor::new(gradients.d_image, vec![1, image_width]))?;
        let d_text = self.backend.upload(&HostTensor::new(gradients.d_text, vec![1, text_width]))?;
        let vision = self.model.image_backward(self.backend, &pass.vision, &d_image)?;
        let text = self.model.text_backward(self.backend, &self.text, &d_text)?;
        Ok(ClipGrads { vision, text })
    }

    fn stacks<'a>(
        &'a self,
        pass: &'a ClipPass<B::Tensor>,
        grads: Option<&'a ClipGrads<B::Tensor>>,
    ) -> Result<Vec<AttentionStack<'a, B::Tensor>>> {
        let vision = AttentionStack {
            probs: probs_of(&pass.vision.trace.encoder.layers)?,
            grads: grads_of(grads.map(|g| &g.vision.encoder)),
            row: 0,
            patch_positions: 1..self.vision_tokens(),
            text_positions: Vec::new(),
            readout: AttentionReadout::LastLayer,
        };
        let text = AttentionStack {
            probs: probs_of(&self.text.encoder.layers)?,
            grads: grads_of(grads.map(|g| &g.text.encoder)),
            row: self.pooled,
            patch_positions: 0..0,
            text_positions: (0..self.text_tokens).collect(),
            readout: AttentionReadout::LastLayer,
        };
        Ok(vec![vision, text])
    }

    fn pixel_gradient<'a>(&'a self, grads: &'a ClipGrads<B::Tensor>) -> &'a B::Tensor {
        &grads.vision.d_pixels
    }

    fn token_gradients<'a>(
        &'a self,
        _pass: &'a ClipPass<B::Tensor>,
        grads: &'a ClipGrads<B::Tensor>,
    ) -> Option<TokenGradients<'a, B::Tensor>> {
        Some(TokenGradients {
            gradient: &grads.text.d_token_embeddings,
            embeddings: &self.text.token_embeddings,
            positions: (0..self.text_tokens).collect(),
        })
    }

    fn gradcam_layer<'a>(
        &'a self,
        pass: &'a ClipPass<B::Tensor>,
        grads: &'a ClipGrads<B::Tensor>,
    ) -> Option<GradcamLayer<'a, B::Tensor>> {
        Some(GradcamLayer {
            hidden: &pass.vision.trace.encoder.layers.last()?.input,
            gradient: grads.vision.encoder.d_layer_inputs.last()?,
            weighted: 1..self.vision_tokens(),
        })
    }

    fn batch_input_gradients(&self, inputs: &TensorOf<B>) -> Result<TensorOf<B>> {
        let pass = self.model.encode_image(self.backend, inputs, Recording::Backward)?;
        let (_, d_embeds) =
            self.backend.scaled_cosine_with_gradients(&pass.embeds, &self.text.embeds, self.model.logit_multiplier)?;
        Ok(self.model.image_backward(self.backend, &pass, &d_embeds)?.d_pixels)
    }

    fn batch_scores(&self, inputs: &TensorOf<B>) -> Result<TensorOf<B>> {
        let pass = self.model.encode_image(self.backend, inputs, Recording::Nothing)?;
        Ok(self.backend.scaled_cosine_with_gradients(&pass.embeds, &self.text.embeds, self.model.logit_multiplier)?.0)
    }

    fn batch_size(&self, recording: Recording) -> usize {
        self.model.vision.transformer.images_per_batch(
            recording,
            self.batch_budget_bytes,
            self.backend.max_tensor_bytes(),
        )
    }
}
