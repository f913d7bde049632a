//! Models written once against the backend's op vocabulary. Each layer is built with
//! `new(loader.pp("hf_name"), ..)` so weight names mirror the checkpoint.

pub mod clip;
mod clip_text;
mod clip_vision;
mod encoder;
mod llama;
mod llava;

pub use clip::ClipModel;
pub use clip_text::{TextGrads, TextPass};
pub use clip_vision::{VisionGrads, VisionPass, VisionTrace, VisionTransformer};
pub use encoder::{EncoderGrads, EncoderTrace, LayerRecord, Readout, Recording};
pub use llama::{DecoderGrads, DecoderLayerRecord, DecoderTrace, KvCache, LlamaDecoder};
pub use llava::{ExplainedLogit, ImagePass, LlavaModel, SequenceGrads, SequencePass};

use crate::backend::Backend;
use crate::error::Result;
use crate::loader::{MatrixSource, QuantizedMatrix, Weights};

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

    /// A matrix (rows, cols), kept in its quantized blocks when the file has it quantized.
    pub fn get_matrix(&self, name: &str, shape: [usize; 2]) -> Result<MatrixWeight<B::Tensor>> {
        let full = if self.prefix.is_empty() { name.to_string() } else { format!("{}.{name}", self.prefix) };
        Ok(match self.weights.get_matrix(&full, shape)? {
            MatrixSource::Dense(tensor) => MatrixWeight::Dense(self.backend.upload(&tensor)?),
            MatrixSource::Quantized(matrix) => MatrixWeight::Quantized(matrix),
        })
    }

    /// A linear layer's weight (out, in), and the backend's copy of it laid out for the forward
    /// product when the backend keeps one (`Backend::linear_forward_copy`).
    pub fn get_linear_weight(
        &self,
        name: &str,
        shape: [usize; 2],
    ) -> Result<(MatrixWeight<B::Tensor>, Option<B::Tensor>)> {
        let full = if self.prefix.is_empty() { name.to_string() } else { format!("{}.{name}", self.prefix) };
        Ok(match self.weights.get_matrix(&full, shape)? {
            MatrixSource::Dense(tensor) => {
                (MatrixWeight::Dense(self.backend.upload(&tensor)?), self.backend.linear_forward_copy(&tensor)?)
            }
            MatrixSource::Quantized(matrix) => (MatrixWeight::Quantized(matrix), None),
        })
    }

    pub fn get_host(&self, name: &str, shape: &[usize]) -> Result<crate::loader::HostTensor> {
        let full = if self.prefix.is_empty() { name.to_string() } else { format!("{}.{name}", self.prefix) };
        self.weights.get(&full, shape)
    }
}

/// A weight matrix on the backend, or in quantized blocks that the backend's quantized ops read.
pub enum MatrixWeight<T> {
    Dense(T),
    Quantized(QuantizedMatrix),
}

impl<T> MatrixWeight<T> {
    /// The rows of a (V, D) table at `ids`, as (1, T, D).
    pub fn gather_rows<B: Backend<Tensor = T>>(&self, backend: &B, ids: &[u32]) -> Result<T> {
        match self {
            MatrixWeight::Dense(table) => backend.gather_rows(table, ids),
            MatrixWeight::Quantized(table) => backend.gather_quantized_rows(table, ids),
        }
    }
}

/// y = x · Wᵀ + b, with W (out, in) as PyTorch stores it, dense or quantized.
pub struct Linear<T> {
    weight: MatrixWeight<T>,
    /// The same dense weight laid out for the forward product, on backends that keep one.
    forward_copy: Option<T>,
    bias: Option<T>,
}

impl<T> Linear<T> {
    pub fn new<B: Backend<Tensor = T>>(
        loader: WeightLoader<B>,
        inputs: usize,
        outputs: usize,
        bias: bool,
    ) -> Result<Self> {
        let (weight, forward_copy) = loader.get_linear_weight("weight", [outputs, inputs])?;
        let bias = if bias { Some(loader.get("bias", &[outputs])?) } else { None };
        Ok(Linear { weight, forward_copy, bias })
    }

    pub fn forward<B: Backend<Tensor = T>>(&self, backend: &B, x: &T) -> Result<T> {
        match &self.weight {
            MatrixWeight::Dense(w) => backend.linear(x, self.forward_copy.as_ref().unwrap_or(w), self.bias.as_ref()),
            MatrixWeight::Quantized(w) => backend.quantized_linear(x, w, self.bias.as_ref()),
        }
    }

    pub fn backward<B: Backend<Tensor = T>>(&self, backend: &B, dy: &T) -> Result<T> {
        match &self.weight {
            MatrixWeight::Dense(w) => backend.linear_backward(dy, w),
            MatrixWeight::Quantized(w) => backend.quantized_linear_backward(dy, w),
        }
    }

    /// W (out, in): a vocabulary head's rows, or an embedding table tied to it.
    pub fn weight(&self) -> &MatrixWeight<T> {
        &self.weight
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

/// Llama's RMSNorm, y = x / √(mean(x²) + eps) · w.
pub struct RmsNorm<T> {
    weight: T,
    eps: f64,
}

impl<T> RmsNorm<T> {
    pub fn new<B: Backend<Tensor = T>>(loader: WeightLoader<B>, size: usize, eps: f64) -> Result<Self> {
        Ok(RmsNorm { weight: loader.get("weight", &[size])?, eps })
    }

    pub fn forward<B: Backend<Tensor = T>>(&self, backend: &B, x: &T) -> Result<T> {
        backend.rms_norm(x, &self.weight, self.eps)
    }

    /// `x` is the forward input (or a batch of one of it for a batch of gradients).
    pub fn backward<B: Backend<Tensor = T>>(&self, backend: &B, x: &T, dy: &T) -> Result<T> {
        backend.rms_norm_backward(x, &self.weight, dy, self.eps)
    }
}
