//! The methods' relevance arithmetic where the maps live: each helper asks the backend to compute
//! its row on the device (a GPU: only the final T values cross back) and otherwise computes it on
//! the host with `relevance`, reading the maps in place where they already are in host memory
//! (the CPU backend) and reading them back otherwise.

use super::relevance::{chefer, discarded_entries, last_layer_attention, rollout, token_gradcam, HeadFusion};
use super::timings::Timings;
use crate::backend::Backend;
use crate::error::{Error, Result};
use crate::loader::{HostTensor, HostView};
use crate::model::LayerRecord;

/// `f` on the host values of `tensors`: in place where the backend holds them in host memory,
/// else on copies read back.
async fn on_host<B: Backend, R>(
    backend: &B,
    timings: &Timings,
    tensors: &[&B::Tensor],
    mut f: impl FnMut(&[HostView]) -> R,
) -> Result<R> {
    if let Some(result) = backend.with_host_views(tensors, &mut f)? {
        return Ok(result);
    }
    let mut copies = Vec::with_capacity(tensors.len());
    for t in tensors {
        copies.push(timings.read(backend, t).await?);
    }
    Ok(f(&copies.iter().map(HostTensor::view).collect::<Vec<_>>()))
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
    let last = *probs.last().ok_or_else(|| Error::Internal("a model without layers".into()))?;
    match backend.attention_row(last, row)? {
        Some(on_device) => Ok(timings.read(backend, &on_device).await?.data),
        None => on_host(backend, timings, &[last], |maps| last_layer_attention(&maps[0], row)).await,
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
    let discard = discarded_entries(tokens * tokens, discard_ratio);
    match backend.rollout_row(&probs, row, fusion, discard)? {
        Some(on_device) => Ok(timings.read(backend, &on_device).await?.data),
        None => on_host(backend, timings, &probs, |maps| rollout(maps, row, fusion, discard)).await,
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
        None => on_host(backend, timings, &[hidden, gradient], |t| token_gradcam(&t[0], &t[1], 1..tokens)).await,
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
        None => {
            let maps_then_grads = [probs.as_slice(), grad_refs.as_slice()].concat();
            on_host(backend, timings, &maps_then_grads, |all| {
                let (maps, grads) = all.split_at(probs.len());
                chefer(maps, grads, row)
            })
            .await
        }
    }
}

pub(super) fn recorded_probs<T>(layers: &[LayerRecord<T>]) -> Result<Vec<&T>> {
    layers
        .iter()
        .map(|layer| layer.probs.as_ref().ok_or_else(|| Error::Internal("attention was not recorded".into())))
        .collect()
}

pub(super) async fn download_probs<B: Backend>(
    backend: &B,
    timings: &Timings,
    layers: &[LayerRecord<B::Tensor>],
) -> Result<Vec<HostTensor>> {
    let mut all = Vec::with_capacity(layers.len());
    for probs in recorded_probs(layers)? {
        all.push(timings.read(backend, probs).await?);
    }
    Ok(all)
}
