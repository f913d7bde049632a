//! The interface every explanation method is written against: one model, one input, one explained
//! score s. A model family plugs in by implementing [`Subject`] (CLIP: `subjects/clip.rs`); the
//! methods (`methods/`) never know which family or which backend they run on.

use super::maps::Geometry;
use super::timings::Timings;
use crate::backend::{Backend, TensorStore};
use crate::error::Result;
use crate::loader::HostTensor;
use crate::model::Recording;
use std::ops::Range;

/// The tensors of backend `B`.
pub type TensorOf<B> = <B as TensorStore>::Tensor;

/// The explained image: the normalized model input on the host (for the gradient × input
/// products) and on the device (for the passes).
pub struct ExplainedImage<T> {
    pub geometry: Geometry,
    /// (3, S, S)
    pub pixels: HostTensor,
    /// (1, 3, S, S)
    pub on_device: T,
}

/// Which attention `attention` reads in a stack.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AttentionReadout {
    /// The last layer's row (a CLIP tower's read-out token).
    LastLayer,
    /// The row averaged over every layer (a decoder's predicting position).
    MeanOverLayers,
}

/// One stack of attention layers (a tower, a decoder) as the methods see it: the layers' maps,
/// the row that is read out, and what its tokens are.
pub struct AttentionStack<'a, T> {
    /// Each layer's probabilities (B, H, T, T), first layer first.
    pub probs: Vec<&'a T>,
    /// ∂s/∂probs of each layer, when the stack was taken with gradients.
    pub grads: Option<Vec<&'a T>>,
    /// The row read out: the token whose state the score reads (CLS, the pooled token, the
    /// position predicting the explained token).
    pub row: usize,
    /// The positions of the image patches among the tokens, row-major over the patch grid.
    pub patch_positions: Range<usize>,
    /// The positions that are text tokens (the scores a method reports for the text).
    pub text_positions: Vec<usize>,
    pub readout: AttentionReadout,
}

/// Where a decoder's relevance continues into the vision tower that made its image tokens.
pub struct VisionContinuation<'a, T> {
    /// The tower's probabilities (1, H, T_v, T_v) of the layers that feed the features, first first.
    pub probs: Vec<&'a T>,
    /// ∂s/∂probs of those layers.
    pub grads: Vec<&'a T>,
    /// (sequence position, vision token) of each image token: where its relevance goes.
    pub sources: Vec<(usize, usize)>,
    /// The vision tokens that are patches, row-major over the grid.
    pub patch_tokens: Range<usize>,
}

/// ∂s with respect to the input embeddings of the text tokens, with those embeddings.
pub struct TokenGradients<'a, T> {
    /// ∂s/∂e, (1, T, D).
    pub gradient: &'a T,
    /// e, (1, T, D).
    pub embeddings: &'a T,
    /// The rows of `gradient` and `embeddings` that are text tokens, in order.
    pub positions: Vec<usize>,
}

/// Grad-CAM's inputs: a residual stream (1, T, D), its gradient, and the tokens whose mean
/// gradient weighs the channels (the patches).
pub struct GradcamLayer<'a, T> {
    pub hidden: &'a T,
    pub gradient: &'a T,
    pub weighted: Range<usize>,
}

/// A model bound to one input and one explained score s.
#[allow(async_fn_in_trait)]
pub trait Subject {
    type Backend: Backend;
    /// A recorded forward pass.
    type Pass;
    /// The gradients of s one backward pass gives.
    type Grads;

    fn backend(&self) -> &Self::Backend;
    fn image(&self) -> &ExplainedImage<TensorOf<Self::Backend>>;

    /// Runs the explained input forward, keeping what `recording` asks for.
    async fn forward(&self, recording: Recording, timings: &Timings) -> Result<Self::Pass>;
    /// s for a pass.
    fn score(&self, pass: &Self::Pass) -> f32;
    /// ∂s/∂(everything the methods read), from a pass recorded with `Recording::Backward`.
    async fn backward(&self, pass: &Self::Pass, timings: &Timings) -> Result<Self::Grads>;

    /// The pass's attention stacks, with their gradients when `grads` are given.
    fn stacks<'a>(
        &'a self,
        pass: &'a Self::Pass,
        grads: Option<&'a Self::Grads>,
    ) -> Result<Vec<AttentionStack<'a, TensorOf<Self::Backend>>>>;
    /// ∂s/∂pixels, (1, 3, S, S).
    fn pixel_gradient<'a>(&'a self, grads: &'a Self::Grads) -> &'a TensorOf<Self::Backend>;
    /// ∂s/∂e of the text tokens, where the score reads text.
    fn token_gradients<'a>(
        &'a self,
        pass: &'a Self::Pass,
        grads: &'a Self::Grads,
    ) -> Option<TokenGradients<'a, TensorOf<Self::Backend>>>;
    /// Grad-CAM's layer, where the model defines one.
    fn gradcam_layer<'a>(
        &'a self,
        pass: &'a Self::Pass,
        grads: &'a Self::Grads,
    ) -> Option<GradcamLayer<'a, TensorOf<Self::Backend>>>;

    /// ∂s/∂x for each input of a batch (B, 3, S, S), as (B, 3, S, S), computed where the batch
    /// runs (the score's gradient is seeded there too): the batched methods' one pass per batch.
    /// The relevance of the image tokens continued through the vision tower, where the model
    /// has one under its decoder.
    fn vision_continuation<'a>(
        &'a self,
        _pass: &'a Self::Pass,
        _grads: &'a Self::Grads,
    ) -> Option<VisionContinuation<'a, TensorOf<Self::Backend>>> {
        None
    }

    /// The explained score read at each image patch's own state (a generative model's token
    /// logit through its head at the image positions), where the model defines one.
    fn image_token_scores(&self, _pass: &Self::Pass) -> Option<Result<TensorOf<Self::Backend>>> {
        None
    }

    fn batch_input_gradients(&self, inputs: &TensorOf<Self::Backend>) -> Result<TensorOf<Self::Backend>>;
    /// s of each input of a batch (B, 3, S, S), as (B).
    fn batch_scores(&self, inputs: &TensorOf<Self::Backend>) -> Result<TensorOf<Self::Backend>>;
    /// How many inputs one batched pass may hold with `recording` kept.
    fn batch_size(&self, recording: Recording) -> usize;
}
