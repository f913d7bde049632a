//! The op vocabulary that models are written against. Each op has a forward and, where gradients
//! flow through it, a hand-written vector-Jacobian product. Only gradients with respect to
//! activations are ever needed (never with respect to weights), which keeps every backward a
//! single product. The CPU backend is the reference; a GPU backend implements the same trait.

mod activations;
pub mod cosine;
pub mod cpu;
mod cpu_attention;
mod cpu_products;
mod vector_exp;
pub mod webgpu;

use crate::config::Activation;
use crate::error::{Error, Result};
use crate::loader::{HostTensor, HostView, QuantizedMatrix};
use serde::{Deserialize, Serialize};
use std::ops::Range;

/// Gradients of the attention op's inputs, plus the gradient with respect to the attention
/// probabilities themselves (after softmax), which relevance methods read.
pub struct AttentionGrads<T> {
    pub d_query: T,
    pub d_key: T,
    pub d_value: T,
    pub d_probs: T,
}

/// How attention heads are combined before rollout.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum HeadFusion {
    #[default]
    Mean,
    Max,
    Min,
}

impl std::str::FromStr for HeadFusion {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        match s {
            "mean" => Ok(HeadFusion::Mean),
            "max" => Ok(HeadFusion::Max),
            "min" => Ok(HeadFusion::Min),
            other => Err(Error::InvalidOption(format!("head fusion `{other}` is not one of mean, max, min"))),
        }
    }
}

/// The shape of copies of a batch-of-one input `shape` (1, ...): (copies, ...).
pub(crate) fn copies_shape(shape: &[usize], copies: usize, op: &str) -> Result<Vec<usize>> {
    match shape {
        [1, rest @ ..] => Ok([&[copies], rest].concat()),
        other => Err(Error::Backend(format!("{op}: input {other:?} is not a batch of one"))),
    }
}

/// The runs of patch `index`'s values in a (3, S, S) row-major image cut into a `grid_side` ×
/// `grid_side` grid of `patch_size`-pixel patches: one per channel and row.
pub fn patch_spans(
    image_size: usize,
    patch_size: usize,
    grid_side: usize,
    index: usize,
) -> impl Iterator<Item = Range<usize>> {
    let (row, col) = (index / grid_side, index % grid_side);
    (0..3).flat_map(move |c| {
        (row * patch_size..(row + 1) * patch_size).map(move |y| {
            let start = (c * image_size + y) * image_size + col * patch_size;
            start..start + patch_size
        })
    })
}

/// The occlusion of patches `first..first + count` of an image (1, 3, S, S) cut into `patch`-pixel
/// patches: checks they exist and returns (S, the grid's side).
pub(crate) fn occlusion_geometry(shape: &[usize], first: usize, count: usize, patch: usize) -> Result<(usize, usize)> {
    let &[1, 3, size, width] = shape else {
        return Err(Error::Backend(format!("occluded copies: input {shape:?} is not (1, 3, S, S)")));
    };
    let grid = if patch == 0 { 0 } else { size / patch };
    if size != width || first + count > grid * grid {
        return Err(Error::Backend(format!(
            "occluded copies: patches {first}..{} of a {grid} × {grid} grid",
            first + count
        )));
    }
    Ok((size, grid))
}

/// Shapes use B = batch, T = tokens, D = hidden size, H = heads, N = patches, P = patch side.
pub trait Backend {
    type Tensor: Clone;

    /// The name reported in explanations ("cpu", "webgpu").
    fn name(&self) -> &'static str;
    /// The largest tensor the backend holds in one piece (a GPU binding limit); batched passes
    /// are split so that no activation exceeds it.
    fn max_tensor_bytes(&self) -> usize {
        usize::MAX
    }
    /// Waits until all work asked of the backend so far is done, so that phase timings charge
    /// work to the phase that asked for it (a GPU runs recorded work only when results are read).
    fn finish(&self) -> Result<()> {
        Ok(())
    }
    /// `finish` without blocking the thread where that matters (a GPU in the browser).
    #[allow(async_fn_in_trait)]
    async fn finish_async(&self) -> Result<()> {
        self.finish()
    }
    fn upload(&self, tensor: &HostTensor) -> Result<Self::Tensor>;
    /// Reads a tensor back, waiting for the device. In the browser a GPU cannot be waited for:
    /// there this fails and `download_async` must be awaited instead.
    fn download(&self, tensor: &Self::Tensor) -> Result<HostTensor>;
    /// Reads a tensor back without blocking the thread where that matters (a GPU in the browser
    /// resolves the read from the event loop). Explanations read back only through this.
    // Not `Send`: wgpu's browser types are not, and nothing here moves futures across threads.
    #[allow(async_fn_in_trait)]
    async fn download_async(&self, tensor: &Self::Tensor) -> Result<HostTensor> {
        self.download(tensor)
    }

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

    /// Multi-head attention on projected q, k, v (B, T, D): returns the output (B, T, D) and the
    /// probabilities (B, H, T, T). `causal` masks future tokens.
    fn attention(
        &self,
        q: &Self::Tensor,
        k: &Self::Tensor,
        v: &Self::Tensor,
        heads: usize,
        causal: bool,
    ) -> Result<(Self::Tensor, Self::Tensor)>;
    fn attention_backward(
        &self,
        q: &Self::Tensor,
        k: &Self::Tensor,
        v: &Self::Tensor,
        probs: &Self::Tensor,
        d_out: &Self::Tensor,
        heads: usize,
    ) -> Result<AttentionGrads<Self::Tensor>>;

    /// The stride-P convolution of ViTs: pixels (B, 3, S, S), w (D, 3, P, P) → (B, N, D).
    fn patch_embed(&self, pixels: &Self::Tensor, w: &Self::Tensor, patch: usize) -> Result<Self::Tensor>;
    /// d_patches (B, N, D) → d_pixels (B, 3, S, S); pixels beyond the last whole patch get 0.
    fn patch_embed_backward(
        &self,
        d_patches: &Self::Tensor,
        w: &Self::Tensor,
        patch: usize,
        image_size: usize,
    ) -> Result<Self::Tensor>;

    /// (B, N, D) → (B, N+1, D) with the class embedding (D) as the first token.
    fn prepend_class(&self, patches: &Self::Tensor, class: &Self::Tensor) -> Result<Self::Tensor>;
    /// x (B, T, D) plus the first T rows of `positions` (≥T, D).
    fn add_positions(&self, x: &Self::Tensor, positions: &Self::Tensor) -> Result<Self::Tensor>;
    /// The rows of `table` (V, D) at `ids`, as (1, T, D).
    fn gather_rows(&self, table: &Self::Tensor, ids: &[u32]) -> Result<Self::Tensor>;

    /// x (B, T, D) → (B, D), the token at `position`.
    fn select_token(&self, x: &Self::Tensor, position: usize) -> Result<Self::Tensor>;
    /// dy (B, D) → (B, T, D), zero everywhere but `position`.
    fn select_token_backward(&self, dy: &Self::Tensor, position: usize, tokens: usize) -> Result<Self::Tensor>;
    /// x (B, T, D) → (B, T-1, D), without the first token.
    fn drop_first_token(&self, x: &Self::Tensor) -> Result<Self::Tensor>;

    /// x (1, ...) → (F, ...): copy k is factors[k] · x (integrated gradients' path points).
    fn scaled_copies(&self, x: &Self::Tensor, factors: &[f32]) -> Result<Self::Tensor>;
    /// x (1, 3, S, S) → (count, 3, S, S): copy k has patch `first + k` of the grid of
    /// `patch` × `patch` patches set to 0 (occlusion's inputs); pixels past the last whole patch
    /// are never occluded.
    fn occluded_copies(&self, x: &Self::Tensor, first: usize, count: usize, patch: usize) -> Result<Self::Tensor>;
    /// For image embeddings (B, E) and one text embedding (E): the explained scores
    /// c · cos(u_b, v) as (B) and their gradients with respect to each u_b as (B, E)
    /// (`cosine::scaled_cosine_with_gradients` row by row).
    fn scaled_cosine_with_gradients(
        &self,
        image: &Self::Tensor,
        text: &Self::Tensor,
        multiplier: f32,
    ) -> Result<(Self::Tensor, Self::Tensor)>;
    /// x (B, ...) → (...): `total` + Σ_b x[b], or of |x[b]| when `absolute`.
    fn sum_batch(&self, x: &Self::Tensor, absolute: bool, total: Option<&Self::Tensor>) -> Result<Self::Tensor>;
    /// Hands the work recorded so far to the device without waiting for it, so that a GPU
    /// starts on one batch while the next is recorded and no command buffer grows without bound.
    fn submit(&self) -> Result<()> {
        Ok(())
    }

    /// Calls `f` on `tensors` where they already sit in host memory, so that host arithmetic
    /// reads them in place (the CPU backend); `None`, without calling `f`, where they would have
    /// to be read back first (a GPU).
    fn with_host_views<R>(
        &self,
        _tensors: &[&Self::Tensor],
        _f: &mut dyn FnMut(&[HostView]) -> R,
    ) -> Result<Option<R>> {
        Ok(None)
    }

    // The methods' own arithmetic where the maps live. Each returns `None` to leave it to the
    // host (`explain::relevance`), which is what the CPU backend does: there the maps are already
    // in host memory (see `with_host_views`). A GPU computes them on the device so that only the
    // final row crosses back.

    /// Row `row` of the last layer's attention (B, H, T, T) averaged over heads, on batch element
    /// 0, as (1, T).
    fn attention_row(&self, _probs: &Self::Tensor, _row: usize) -> Result<Option<Self::Tensor>> {
        Ok(None)
    }
    /// Row `row` of rollout on batch element 0 from each layer's (B, H, T, T) probabilities, first
    /// layer first, zeroing the `discard` smallest entries of each fused map, as a (T) tensor.
    fn rollout_row(
        &self,
        _probs: &[&Self::Tensor],
        _row: usize,
        _fusion: HeadFusion,
        _discard: usize,
    ) -> Result<Option<Self::Tensor>> {
        Ok(None)
    }
    /// Row `row` of Chefer et al.'s relevance on batch element 0, as a (T) tensor, from each
    /// layer's attention probabilities and their gradients (B, H, T, T).
    fn chefer_row(
        &self,
        _probs: &[&Self::Tensor],
        _grads: &[&Self::Tensor],
        _row: usize,
    ) -> Result<Option<Self::Tensor>> {
        Ok(None)
    }
    /// Grad-CAM on the tokens of batch element 0 of `hidden` (B, T, D), weighted by the mean of
    /// `gradient` (B, T, D) over the `weighted` tokens, as a (T) tensor.
    fn token_gradcam(
        &self,
        _hidden: &Self::Tensor,
        _gradient: &Self::Tensor,
        _weighted: Range<usize>,
    ) -> Result<Option<Self::Tensor>> {
        Ok(None)
    }
}
