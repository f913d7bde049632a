//! Models written once against the backend's op vocabulary. Each layer is built with
//! `new(loader.pp("hf_name"), ..)` so weight names mirror the checkpoint.

pub mod clip;
mod clip_text;
mod clip_vision;
mod encoder;

pub use clip::ClipModel;
pub use encoder::{EncoderGrads, EncoderTrace, LayerRecord, Recording};

use crate::backend::Backend;
use crate::error::Result;
use crate::loader::Weights;

/// Fetches tensors under a name prefix and uploads them to the backend.
pub struct WeightLoader<'a, 'w, B: Backend> {
    backend: &'a B,
    weights: &'a Weights<'w>,
    prefix: String,
}

impl<'a, 'w, B: Backend> WeightLoader<'a, 'w, B> {
    pub fn new(backend: &'a B, weights: &'a Weights<'w>) -> Self {
        WeightLoader { backend, weights, prefix: String::new() }
    }

    /// The loader for the sub-module `name`.
    pub fn pp(&self, name: impl std::fmt::Display) -> Self {
        let prefix = if self.prefix.is_empty() { name.to_string() } else { format!("{}.{name}", self.prefix) };
        WeightLoader { backend: self.backend, weights: self.weights, prefix }
    }

    pub fn get(&self, name: &str, shape: &[usize]) -> Result<B::Tensor> {
        let full = if self.prefix.is_empty() { name.to_string() } else { format!("{}.{name}", self.prefix) };
        self.backend.upload(&self.weights.get(&full, shape)?)
    }

    pub fn get_host(&self, name: &str, shape: &[usize]) -> Result<crate::loader::HostTensor> {
        let full = if self.prefix.is_empty() { name.to_string() } else { format!("{}.{name}", self.prefix) };
        self.weights.get(&full, shape)
    }
}

/// y = x · Wᵀ + b, with W (out, in) as PyTorch stores it.
pub struct Linear<T> {
    weight: T,
    bias: Option<T>,
}

impl<T> Linear<T> {
    pub fn new<B: Backend<Tensor = T>>(
        loader: WeightLoader<B>,
        inputs: usize,
        outputs: usize,
        bias: bool,
    ) -> Result<Self> {
        let weight = loader.get("weight", &[outputs, inputs])?;
        let bias = if bias { Some(loader.get("bias", &[outputs])?) } else { None };
        Ok(Linear { weight, bias })
    }

    pub fn forward<B: Backend<Tensor = T>>(&self, backend: &B, x: &T) -> Result<T> {
        backend.linear(x, &self.weight, self.bias.as_ref())
    }

    pub fn backward<B: Backend<Tensor = T>>(&self, backend: &B, dy: &T) -> Result<T> {
        backend.linear_backward(dy, &self.weight)
    }
}

pub struct LayerNorm<T> {
    weight: T,
    bias: T,
    eps: f64,
}

impl<T> LayerNorm<T> {
    pub fn new<B: Backend<Tensor = T>>(loader: WeightLoader<B>, size: usize, eps: f64) -> Result<Self> {
        Ok(LayerNorm { weight: loader.get("weight", &[size])?, bias: loader.get("bias", &[size])?, eps })
    }

    pub fn forward<B: Backend<Tensor = T>>(&self, backend: &B, x: &T) -> Result<T> {
        backend.layer_norm(x, &self.weight, &self.bias, self.eps)
    }

    /// `x` is the forward input.
    pub fn backward<B: Backend<Tensor = T>>(&self, backend: &B, x: &T, dy: &T) -> Result<T> {
        backend.layer_norm_backward(x, &self.weight, dy, self.eps)
    }
}
