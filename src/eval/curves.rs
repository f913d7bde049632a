//! Deletion and insertion curves (Petsiuk, Das, Saenko 2018, RISE,
//! <https://arxiv.org/abs/1806.07421>): the model's probability of the prompted caption as the
//! most relevant patches are removed from the image, or restored onto an empty one.

use super::metrics::trapezoid_auc;
use crate::backend::Backend;
use crate::error::Result;
use crate::explain::{Explainer, Geometry};

/// Both curves of one map, sampled after 0, 1, ..., N patches (N + 1 points each).
#[derive(Clone, Debug, PartialEq)]
pub struct DeletionInsertion {
    /// Probability with the first k patches of the order set to 0 in normalized pixel space
    /// (the dataset mean colour).
    pub deletion: Vec<f64>,
    /// Probability of an all-zero input with the first k patches of the order restored.
    pub insertion: Vec<f64>,
}

impl DeletionInsertion {
    /// Lower is better: a faithful map removes the evidence first.
    pub fn deletion_auc(&self) -> Result<f64> {
        trapezoid_auc(&self.deletion)
    }

    /// Higher is better: a faithful map restores the evidence first.
    pub fn insertion_auc(&self) -> Result<f64> {
        trapezoid_auc(&self.insertion)
    }
}

/// The input after `steps` steps of deletion (`deleting`) or insertion along `order`.
pub fn perturbed_input(pixels: &[f32], geometry: Geometry, order: &[usize], steps: usize, deleting: bool) -> Vec<f32> {
    let mut out = if deleting { pixels.to_vec() } else { vec![0.0; pixels.len()] };
    for &patch in &order[..steps] {
        for span in geometry.patch_spans(patch) {
            if deleting {
                out[span].fill(0.0);
            } else {
                out[span.clone()].copy_from_slice(&pixels[span]);
            }
        }
    }
    out
}

/// Both curves of the normalized model input `pixels` along the patch `order`, scoring the
/// `target` caption's zero-shot probability among `caption_embeddings`. Every image of both
/// curves goes through the model as one batch (split only at the explainer's memory budget).
pub fn deletion_insertion<B: Backend>(
    explainer: &Explainer<B>,
    pixels: &[f32],
    order: &[usize],
    caption_embeddings: &[Vec<f32>],
    target: usize,
) -> Result<DeletionInsertion> {
    let geometry = explainer.geometry();
    let points = order.len() + 1;
    let embeddings = explainer.image_embeddings(2 * points, |k| {
        let (deleting, steps) = if k < points { (true, k) } else { (false, k - points) };
        perturbed_input(pixels, geometry, order, steps, deleting)
    })?;
    let mut probabilities =
        embeddings.iter().map(|e| f64::from(explainer.zero_shot_probabilities(e, caption_embeddings)[target]));
    let deletion = probabilities.by_ref().take(points).collect();
    let insertion = probabilities.collect();
    Ok(DeletionInsertion { deletion, insertion })
}
