//! CLIP (Radford et al. 2021, <https://arxiv.org/abs/2103.00020>), as transformers' `CLIPModel`:
//! two towers and the explained score s = exp(logit_scale) · cos(image_embeds, text_embeds), which
//! is `logits_per_image[0, target]`.

use super::clip_text::{TextGrads, TextPass, TextTower};
use super::clip_vision::{VisionGrads, VisionPass, VisionTower};
use super::encoder::Recording;
use super::WeightLoader;
use crate::backend::Backend;
use crate::config::ClipConfig;
use crate::error::{Error, Result};
use crate::loader::Weights;

pub struct ClipModel<T> {
    pub vision: VisionTower<T>,
    pub text: TextTower<T>,
    /// exp(logit_scale), the temperature applied to cosine similarities.
    pub logit_multiplier: f32,
    pub config: ClipConfig,
}

impl<T: Clone> ClipModel<T> {
    pub fn new<B: Backend<Tensor = T>>(backend: &B, config: ClipConfig, weights: &Weights) -> Result<Self> {
        let loader = WeightLoader::new(backend, weights);
        let logit_scale = loader.get_host("logit_scale", &[])?.data[0];
        if !logit_scale.is_finite() {
            return Err(Error::Weights(format!("logit_scale is {logit_scale}")));
        }
        Ok(ClipModel {
            vision: VisionTower::new(&loader, &config.vision_config, config.projection_dim)?,
            text: TextTower::new(&loader, &config.text_config, config.projection_dim)?,
            logit_multiplier: logit_scale.exp(),
            config,
        })
    }

    pub fn encode_image<B: Backend<Tensor = T>>(
        &self,
        backend: &B,
        pixels: &T,
        recording: Recording,
    ) -> Result<VisionPass<T>> {
        self.vision.forward(backend, pixels, recording)
    }

    pub fn encode_text<B: Backend<Tensor = T>>(
        &self,
        backend: &B,
        ids: &[u32],
        pooled_position: usize,
        recording: Recording,
    ) -> Result<TextPass<T>> {
        self.text.forward(backend, ids, pooled_position, recording)
    }

    pub fn image_backward<B: Backend<Tensor = T>>(
        &self,
        backend: &B,
        pass: &VisionPass<T>,
        d_embeds: &T,
    ) -> Result<VisionGrads<T>> {
        self.vision.backward(backend, pass, d_embeds)
    }

    pub fn text_backward<B: Backend<Tensor = T>>(
        &self,
        backend: &B,
        pass: &TextPass<T>,
        d_embeds: &T,
    ) -> Result<TextGrads<T>> {
        self.text.backward(backend, pass, d_embeds)
    }
}
