//! The ViT embedding ops: the patch convolution, the class token and learned positions.
//! Shapes use B = batch, N = patches, D = hidden size, P = patch side, S = image side.

use super::TensorStore;
use crate::error::{Error, Result};

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

/// The patch embedding of pixels (B, C, S, S) by w (D, C, P, P): (B, C, S, D), checked.
pub(crate) fn patch_embed_geometry(pixels: &[usize], w: &[usize], patch: usize) -> Result<[usize; 4]> {
    let hidden = w.first().copied().unwrap_or(0);
    match *pixels {
        [batch, channels, size, width]
            if patch > 0 && size == width && w.iter().product::<usize>() == hidden * channels * patch * patch =>
        {
            Ok([batch, channels, size, hidden])
        }
        _ => Err(Error::Internal(format!(
            "patch embedding: pixels {pixels:?} do not fit weight {w:?} with patch {patch}"
        ))),
    }
}

/// The patch embedding's backward from d_patches (B, N, D) to an image of side `image_size` with
/// w (D, C, P, P): (B, N, D, C), checked.
pub(crate) fn patch_embed_backward_geometry(
    d_patches: &[usize],
    w: &[usize],
    patch: usize,
    image_size: usize,
) -> Result<[usize; 4]> {
    let side = image_size.checked_div(patch).unwrap_or(0);
    let weights: usize = w.iter().product();
    match *d_patches {
        [batch, patches, hidden]
            if patch > 0 && hidden > 0 && side * side == patches && weights.is_multiple_of(hidden * patch * patch) =>
        {
            Ok([batch, patches, hidden, weights / (hidden * patch * patch)])
        }
        _ => Err(Error::Internal(format!(
            "patch embedding backward: gradient {d_patches:?} does not fit weight {w:?}, patch {patch}, image {image_size}"
        ))),
    }
}
