//! The transformer ops every model family is written with: linear layers (dense or quantized),
//! normalization, activations, elementwise sums and products, attention, rotary positions, and
//! token rows. Shapes use B = batch, T = tokens, D = hidden size.
//!
//! One forward pass may serve a batch of K backward passes (one per explained token): where a
//! backward op says so, the tensors the forward saved may be a batch of one while the incoming
//! gradient is a batch of K, and the op behaves as if each saved tensor were repeated K times.

use super::{Activation, AttentionShape, RotaryTables, TensorStore};
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
    /// dy (K, .., D) → dx (K, .., D) for x of dy's shape or a batch of one of it.
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

    /// x / √(mean(x²) + eps) · w over the last dimension, as Llama's RMSNorm (the mean of squares
    /// is not centred); w (D).
    fn rms_norm(&self, x: &Self::Tensor, w: &Self::Tensor, eps: f64) -> Result<Self::Tensor>;
    /// dy (K, .., D) → dx (K, .., D) for x of dy's shape or a batch of one of it.
    fn rms_norm_backward(
        &self,
        x: &Self::Tensor,
        w: &Self::Tensor,
        dy: &Self::Tensor,
        eps: f64,
    ) -> Result<Self::Tensor>;

    /// Elementwise product of a (K, ..) and b of a's shape or a batch of one of it (b then
    /// multiplies every element of the batch: a saved forward activation times K gradients).
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
    /// The VJP of `attention` from d_out (B, Tq, H·d), B = `shape.batch`. q, k, v and probs are
    /// the forward's, of batch B or of batch 1 (one forward serving B backward passes); every
    /// gradient has batch B.
    fn attention_backward(
        &self,
        q: &Self::Tensor,
        k: &Self::Tensor,
        v: &Self::Tensor,
        probs: &Self::Tensor,
        d_out: &Self::Tensor,
        shape: &AttentionShape,
    ) -> Result<AttentionGrads<Self::Tensor>>;

    /// Rotary position embeddings on x (B, T, H·d), any number of heads H of the tables' head
    /// dimension d (which need not be hidden / heads), token t at position `offset` + t: each
    /// head's channel pair (i, i + d/2) turned by that position's angle i (see `RotaryTables`).
    fn rotary(&self, x: &Self::Tensor, tables: &RotaryTables<Self::Tensor>, offset: usize) -> Result<Self::Tensor>;
    /// The VJP of `rotary`, dy (B, T, H·d) → dx: each pair turned back by the same angle (the
    /// transposed rotation, which keeps the tables' attention factor).
    fn rotary_backward(
        &self,
        dy: &Self::Tensor,
        tables: &RotaryTables<Self::Tensor>,
        offset: usize,
    ) -> Result<Self::Tensor>;

    /// The rows of `table` (V, D) at `ids`, as (1, T, D).
    fn gather_rows(&self, table: &Self::Tensor, ids: &[u32]) -> Result<Self::Tensor>;

    /// x (B, T, D) → (B, D), the token at `position`.
    fn select_token(&self, x: &Self::Tensor, position: usize) -> Result<Self::Tensor>;
    /// dy (B, D) → (B, T, D), zero everywhere but `position`.
    fn select_token_backward(&self, dy: &Self::Tensor, position: usize, tokens: usize) -> Result<Self::Tensor>;

    /// rows (B, D) → (B, T, D): row b at token `positions[b]` of batch element b, zero elsewhere
    /// (the seeds of B backward passes, each from its own token).
    fn place_tokens(&self, rows: &Self::Tensor, positions: &[u32], tokens: usize) -> Result<Self::Tensor>;

    /// x (B, T, D) → (B, N, D), the tokens at `positions` (N of them, in that order, repeats allowed).
    fn select_rows(&self, x: &Self::Tensor, positions: &[u32]) -> Result<Self::Tensor>;
    /// x (B, T, D) with the token at positions[n] replaced by rows[:, n] for rows (B, N, D): image
    /// features put in place of a prompt's image tokens. The N positions are distinct.
    fn replace_rows(&self, x: &Self::Tensor, rows: &Self::Tensor, positions: &[u32]) -> Result<Self::Tensor>;
    /// The VJP of `replace_rows`, dy (B, T, D) → (dx, d_rows): dx is dy with the replaced tokens
    /// zeroed, d_rows (B, N, D) is dy at `positions`.
    fn replace_rows_backward(&self, dy: &Self::Tensor, positions: &[u32]) -> Result<(Self::Tensor, Self::Tensor)>;

    /// a (B, T1, W) followed by b (B, T2, W) along the tokens → (B, T1 + T2, W): a key/value cache
    /// with the new step's keys or values appended (forward only). A new tensor rather than a
    /// write into a preallocated cache: every tensor stays immutable once made (the GPU's buffer
    /// pool and recorded commands rely on it), and the copy of the cache it costs per step is
    /// of the order of what attention reads from the cache anyway.
    fn concat_tokens(&self, a: &Self::Tensor, b: &Self::Tensor) -> Result<Self::Tensor>;
}
