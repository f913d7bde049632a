//! The transformer ops every model family is written with: linear layers (dense or quantized),
//! normalization, activations, elementwise sums and products, attention, and token rows.
//! Shapes use B = batch, T = tokens, D = hidden size.

use super::{Activation, AttentionShape, TensorStore};
use crate::error::Result;
use crate::loader::{HostTensor, QuantizedMatrix};

/// Gradients of the attention op's inputs, plus the gradient with respect to the attention
/// probabilities themselves (after softmax), which relevance methods read.
pub struct AttentionGrads<T> {
    /// (B, Tq, H·d)
    pub d_query: T,
    /// (B, Tk, Hkv·d): the gradients of every query head reading a key/value head, summed.
    pub d_key: T,
    pub d_value: T,
    /// (B, H, Tq, Tk)
    pub d_probs: T,
}

pub trait Ops: TensorStore {
    /// x (.., in) · wᵀ + b with w (out, in), b (out).
    fn linear(&self, x: &Self::Tensor, w: &Self::Tensor, b: Option<&Self::Tensor>) -> Result<Self::Tensor>;
    /// A second copy of a dense linear weight W (out, in) in the layout this backend's forward
    /// product reads fastest, passed to `linear` in place of W (the backward keeps W). `None`, the
    /// default, uses W for both.
    fn linear_forward_copy(&self, _w: &HostTensor) -> Result<Option<Self::Tensor>> {
        Ok(None)
    }
    /// dy (.., out) · w → (.., in).
    fn linear_backward(&self, dy: &Self::Tensor, w: &Self::Tensor) -> Result<Self::Tensor>;

    /// x (.., in) · Wᵀ + b for W (out, in) kept in quantized blocks. The default expands this one
    /// weight on the host and runs the dense `linear`, so every backend supports quantized models;
    /// a backend with a kernel that reads the blocks directly overrides it.
    fn quantized_linear(
        &self,
        x: &Self::Tensor,
        w: &QuantizedMatrix,
        b: Option<&Self::Tensor>,
    ) -> Result<Self::Tensor> {
        let dense = self.upload(&w.dequantize()?)?;
        self.linear(x, &dense, b)
    }
    /// dy (.., out) · dequant(W) → (.., in): the gradient flows through the values the forward
    /// pass used. The default expands this one weight, like `quantized_linear`.
    fn quantized_linear_backward(&self, dy: &Self::Tensor, w: &QuantizedMatrix) -> Result<Self::Tensor> {
        let dense = self.upload(&w.dequantize()?)?;
        self.linear_backward(dy, &dense)
    }
    /// The rows of a quantized `table` (V, D) at `ids`, as (1, T, D); only those rows are expanded.
    fn gather_quantized_rows(&self, table: &QuantizedMatrix, ids: &[u32]) -> Result<Self::Tensor> {
        let rows = table.rows(ids)?;
        self.upload(&HostTensor::new(rows.data, vec![1, ids.len(), table.shape().1]))
    }

    /// Normalizes the last dimension; gamma, beta (D).
    fn layer_norm(&self, x: &Self::Tensor, gamma: &Self::Tensor, beta: &Self::Tensor, eps: f64)
        -> Result<Self::Tensor>;
    fn layer_norm_backward(
        &self,
        x: &Self::Tensor,
        gamma: &Self::Tensor,
        dy: &Self::Tensor,
        eps: f64,
    ) -> Result<Self::Tensor>;

    fn activation(&self, x: &Self::Tensor, act: Activation) -> Result<Self::Tensor>;
    /// The activation and its derivative at x, computed together: the derivative reuses the
    /// forward's transcendental (σ or erf), so the backward pass is a plain product.
    fn activation_with_derivative(&self, x: &Self::Tensor, act: Activation) -> Result<(Self::Tensor, Self::Tensor)>;

    /// Elementwise product of two tensors of the same shape.
    fn multiply(&self, a: &Self::Tensor, b: &Self::Tensor) -> Result<Self::Tensor>;

    /// Elementwise sum of two tensors of the same shape.
    fn add(&self, a: &Self::Tensor, b: &Self::Tensor) -> Result<Self::Tensor>;

    /// softmax(q·kᵀ/√d) · v per head for projected q, k, v of `shape`: the output (B, Tq, H·d)
    /// and the probabilities (B, H, Tq, Tk), masked entries 0.
    fn attention(
        &self,
        q: &Self::Tensor,
        k: &Self::Tensor,
        v: &Self::Tensor,
        shape: &AttentionShape,
    ) -> Result<(Self::Tensor, Self::Tensor)>;
    fn attention_backward(
        &self,
        q: &Self::Tensor,
        k: &Self::Tensor,
        v: &Self::Tensor,
        probs: &Self::Tensor,
        d_out: &Self::Tensor,
        shape: &AttentionShape,
    ) -> Result<AttentionGrads<Self::Tensor>>;

    /// The rows of `table` (V, D) at `ids`, as (1, T, D).
    fn gather_rows(&self, table: &Self::Tensor, ids: &[u32]) -> Result<Self::Tensor>;

    /// x (B, T, D) → (B, D), the token at `position`.
    fn select_token(&self, x: &Self::Tensor, position: usize) -> Result<Self::Tensor>;
    /// dy (B, D) → (B, T, D), zero everywhere but `position`.
    fn select_token_backward(&self, dy: &Self::Tensor, position: usize, tokens: usize) -> Result<Self::Tensor>;
}
