//! The batched methods' inputs and sums: integrated gradients' path points, occlusion's occluded
//! copies, and the running sum of each batch's input gradients, made where the batches run so
//! that nothing is read back between batches.

use super::TensorStore;
use crate::error::{Error, Result};
use std::ops::Range;

pub trait BatchOps: TensorStore {
    /// x (1, ...) → (F, ...): copy k is factors[k] · x (integrated gradients' path points).
    fn scaled_copies(&self, x: &Self::Tensor, factors: &[f32]) -> Result<Self::Tensor>;
    /// x (1, 3, S, S) → (count, 3, S, S): copy k has patch `first + k` of the grid of
    /// `patch` × `patch` patches set to 0 (occlusion's inputs); pixels past the last whole patch
    /// are never occluded.
    fn occluded_copies(&self, x: &Self::Tensor, first: usize, count: usize, patch: usize) -> Result<Self::Tensor>;
    /// x (B, ...) → (...): `total` + Σ_b x[b], or of |x[b]| when `absolute`.
    fn sum_batch(&self, x: &Self::Tensor, absolute: bool, total: Option<&Self::Tensor>) -> Result<Self::Tensor>;
    /// x (B, ...) → (1, ...), a copy of batch element `index`: one of a batch of backward passes.
    fn batch_element(&self, x: &Self::Tensor, index: usize) -> Result<Self::Tensor>;
}

/// Errors unless `x` has a batch element `index`; returns the size of one element.
pub(crate) fn batch_element_size(shape: &[usize], index: usize) -> Result<usize> {
    match shape.split_first() {
        Some((&batch, rest)) if index < batch => Ok(rest.iter().product()),
        _ => Err(Error::Internal(format!("batch element {index} of a tensor {shape:?}"))),
    }
}

/// The shape of copies of a batch-of-one input `shape` (1, ...): (copies, ...).
pub(crate) fn copies_shape(shape: &[usize], copies: usize, op: &str) -> Result<Vec<usize>> {
    match shape {
        [1, rest @ ..] => Ok([&[copies], rest].concat()),
        other => Err(Error::Internal(format!("{op}: input {other:?} is not a batch of one"))),
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
        return Err(Error::Internal(format!("occluded copies: input {shape:?} is not (1, 3, S, S)")));
    };
    let grid = if patch == 0 { 0 } else { size / patch };
    if size != width || first + count > grid * grid {
        return Err(Error::Internal(format!(
            "occluded copies: patches {first}..{} of a {grid} × {grid} grid",
            first + count
        )));
    }
    Ok((size, grid))
}
