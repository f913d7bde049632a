//! The ViT embedding ops: the patch convolution, the class token and learned positions.
//! Shapes use B = batch, N = patches, D = hidden size, P = patch side, S = image side.

use super::TensorStore;
use crate::error::Result;

pub trait VisionOps: TensorStore {
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
    /// x (B, T, D) → (B, T-1, D), without the first token.
    fn drop_first_token(&self, x: &Self::Tensor) -> Result<Self::Tensor>;
}
