//! The methods' relevance arithmetic where the maps live: each helper asks the backend to compute
//! its row on the device (a GPU: only the final T values cross back) and otherwise reads the maps
//! back and computes it on the host with `relevance` (the CPU backend, whose maps are already in
//! host memory).

use super::relevance::{chefer, discarded_entries, last_layer_attention, rollout, token_gradcam, HeadFusion};
use super::timings::Timings;
use crate::backend::Backend;
use crate::error::{Error, Result};
use crate::loader::HostTensor;
use crate::model::LayerRecord;

pub(super) async fn download_all<B: Backend>(
    backend: &B,
    timings: &Timings,
    tensors: &[B::Tensor],
) -> Result<Vec<HostTensor>> {
    let mut all = Vec::with_capacity(tensors.len());
    for t in tensors {
        all.push(timings.read(backend, t).await?);
    }
    Ok(all)
}

/// Row `row` of the last layer's head-averaged attention: on the device when the backend computes
/// it there, else on the host from the last layer's maps.
pub(super) async fn attention_relevance<B: Backend>(
    backend: &B,
    timings: &Timings,
    layers: &[LayerRecord<B::Tensor>],
    row: usize,
) -> Result<Vec<f32>> {
    let probs = recorded_probs(layers)?;
    let last = *probs.last().ok_or_else(|| Error::Backend("a model without layers".into()))?;
    match backend.attention_row(last, row)? {
        Some(on_device) => Ok(timings.read(backend, &on_device).await?.data),
        None => Ok(last_layer_attention(&[timings.read(backend, last).await?], row)),
    }
}

/// Row `row` of rollout: on the device when the backend computes it there (only T values cross
/// back), else on the host from every layer's maps.
pub(super) async fn rollout_relevance<B: Backend>(
    backend: &B,
    timings: &Timings,
    layers: &[LayerRecord<B::Tensor>],
    row: usize,
    tokens: usize,
    fusion: HeadFusion,
    discard_ratio: f32,
) -> Result<Vec<f32>> {
    let probs = recorded_probs(layers)?;
    match backend.rollout_row(&probs, row, fusion, discarded_entries(tokens * tokens, discard_ratio))? {
        Some(on_device) => Ok(timings.read(backend, &on_device).await?.data),
        None => Ok(rollout(&download_probs(backend, timings, layers).await?, row, fusion, discard_ratio)),
    }
}

/// Grad-CAM on the tokens of the residual stream `hidden` (1, T, D) with its gradient, weighted
/// over the patch tokens 1..T: on the device when the backend computes it there.
pub(super) async fn gradcam_relevance<B: Backend>(
    backend: &B,
    timings: &Timings,
    hidden: &B::Tensor,
    gradient: &B::Tensor,
    tokens: usize,
) -> Result<Vec<f32>> {
    match backend.token_gradcam(hidden, gradient, 1..tokens)? {
        Some(on_device) => Ok(timings.read(backend, &on_device).await?.data),
        None => {
            let (hidden, gradient) = (timings.read(backend, hidden).await?, timings.read(backend, gradient).await?);
            Ok(token_gradcam(&hidden, &gradient, 1..tokens))
        }
    }
}

/// Row `row` of Chefer's relevance: on the device when the backend computes it there (only T
/// values cross back), else on the host from every layer's maps.
pub(super) async fn chefer_relevance<B: Backend>(
    backend: &B,
    timings: &Timings,
    layers: &[LayerRecord<B::Tensor>],
    grads: &[B::Tensor],
    row: usize,
) -> Result<Vec<f32>> {
    let probs = recorded_probs(layers)?;
    let grad_refs: Vec<&B::Tensor> = grads.iter().collect();
    match backend.chefer_row(&probs, &grad_refs, row)? {
        Some(on_device) => Ok(timings.read(backend, &on_device).await?.data),
        None => Ok(chefer(
            &download_probs(backend, timings, layers).await?,
            &download_all(backend, timings, grads).await?,
            row,
        )),
    }
}

pub(super) fn recorded_probs<T>(layers: &[LayerRecord<T>]) -> Result<Vec<&T>> {
    layers
        .iter()
        .map(|layer| layer.probs.as_ref().ok_or_else(|| Error::Backend("attention was not recorded".into())))
        .collect()
}

pub(super) async fn download_probs<B: Backend>(
    backend: &B,
    timings: &Timings,
    layers: &[LayerRecord<B::Tensor>],
) -> Result<Vec<HostTensor>> {
    download_all(backend, timings, &recorded_probs(layers)?.into_iter().cloned().collect::<Vec<_>>()).await
}
