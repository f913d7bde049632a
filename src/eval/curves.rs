//! Deletion and insertion curves (Petsiuk, Das, Saenko 2018, RISE,
//! <https://arxiv.org/abs/1806.07421>): the model's probability of the prompted caption as the
//! most relevant patches are removed from the image, or restored onto an empty one.

use super::metrics::{relevance_order, trapezoid_auc};
use crate::backend::Backend;
use crate::error::{Error, Result};
use crate::explain::{Explainer, Geometry, MAX_TEXTS};
use image::RgbImage;
use serde::Serialize;

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

/// What the curves of one map trace.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum CurveQuantity {
    /// The target's zero-shot probability among the texts (two texts or more).
    Probability,
    /// The cosine similarity of image and text: with a single text, whose probability is always 1.
    Cosine,
}

/// The deletion and insertion curves of one explanation's patch map: the web app's faithfulness
/// tab and `sightline curves`.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct MapCurves {
    pub quantity: CurveQuantity,
    /// The patches in the order they are removed or restored: by decreasing score, ties by index.
    pub order: Vec<usize>,
    pub deletion: Vec<f64>,
    pub insertion: Vec<f64>,
    pub deletion_auc: f64,
    pub insertion_auc: f64,
}

/// Both curves of `patch_scores` over `image`, tracing the `target` text's probability among
/// `texts`, or with one text its cosine similarity with the image.
pub fn map_curves<B: Backend>(
    explainer: &Explainer<B>,
    image: &RgbImage,
    patch_scores: &[f32],
    texts: &[String],
    target: usize,
) -> Result<MapCurves> {
    if texts.is_empty() || texts.len() > MAX_TEXTS {
        return Err(Error::Text(format!("{} texts given; give 1 to {MAX_TEXTS}", texts.len())));
    }
    if target >= texts.len() {
        return Err(Error::InvalidOption(format!("target {target} is out of range: there are {} texts", texts.len())));
    }
    let geometry = explainer.geometry();
    if patch_scores.len() != geometry.patches() {
        return Err(Error::InvalidOption(format!(
            "the map has {} patch scores; this model has {} patches",
            patch_scores.len(),
            geometry.patches()
        )));
    }
    if let Some(index) = patch_scores.iter().position(|score| !score.is_finite()) {
        return Err(Error::InvalidOption(format!("patch score {index} is {}", patch_scores[index])));
    }
    let pixels = explainer.prepare_image(image).pixels.data;
    let order = relevance_order(patch_scores);
    let text_embeddings = explainer.text_embeddings(texts)?;
    let (quantity, curves) = if texts.len() > 1 {
        (CurveQuantity::Probability, deletion_insertion(explainer, &pixels, &order, &text_embeddings, target)?)
    } else {
        let points = order.len() + 1;
        let embeddings = explainer.image_embeddings(2 * points, |k| {
            let (deleting, steps) = if k < points { (true, k) } else { (false, k - points) };
            perturbed_input(&pixels, geometry, &order, steps, deleting)
        })?;
        let mut cosines = embeddings.iter().map(|embedding| cosine(embedding, &text_embeddings[0]));
        let deletion = cosines.by_ref().take(points).collect();
        (CurveQuantity::Cosine, DeletionInsertion { deletion, insertion: cosines.collect() })
    };
    Ok(MapCurves {
        quantity,
        order,
        deletion_auc: curves.deletion_auc()?,
        insertion_auc: curves.insertion_auc()?,
        deletion: curves.deletion,
        insertion: curves.insertion,
    })
}

fn cosine(a: &[f32], b: &[f32]) -> f64 {
    let dot: f64 = a.iter().zip(b).map(|(x, y)| f64::from(*x) * f64::from(*y)).sum();
    let norm = |v: &[f32]| v.iter().map(|x| f64::from(*x).powi(2)).sum::<f64>().sqrt();
    dot / (norm(a) * norm(b)).max(f64::MIN_POSITIVE)
}
