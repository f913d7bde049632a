//! The methods' relevance arithmetic where the maps live: each helper asks the backend to compute
//! its row on the device (a GPU: only the final T values cross back) and otherwise computes it on
//! the host with `relevance`, reading the maps in place where they already are in host memory
//! (the CPU backend) and reading them back otherwise. Every helper computes one row, from the
//! last layer down, holding one layer's fused map at a time: never a T × T product.

use super::relevance::{
    chefer, chefer_from, discarded_entries, last_layer_attention, rollout, token_gradcam, HeadFusion,
};
use super::timings::Timings;
use crate::backend::Backend;
use crate::error::{Error, Result};
use crate::loader::{HostTensor, HostView};
use std::ops::Range;

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

/// Row `row` of one layer's head-averaged attention `probs` (B, H, T, T): on the device when the
/// backend computes it there, else on the host.
pub(super) async fn attention_relevance<B: Backend>(
    backend: &B,
    timings: &Timings,
    probs: &B::Tensor,
    row: usize,
) -> Result<Vec<f32>> {
    match backend.attention_row(probs, row)? {
        Some(on_device) => Ok(timings.read(backend, &on_device).await?.data),
        None => on_host(backend, timings, &[probs], |maps| last_layer_attention(&maps[0], row)).await,
    }
}

/// Row `row` of rollout over the layers' maps `probs` (first layer first): on the device when the
/// backend computes it there (only T values cross back), else on the host.
pub(super) async fn rollout_relevance<B: Backend>(
    backend: &B,
    timings: &Timings,
    probs: &[&B::Tensor],
    row: usize,
    fusion: HeadFusion,
    discard_ratio: f32,
) -> Result<Vec<f32>> {
    let first = probs.first().ok_or_else(|| Error::Internal("rollout over no layers".into()))?;
    let tokens =
        *backend.dims(first).last().ok_or_else(|| Error::Internal("attention maps without dimensions".into()))?;
    let discard = discarded_entries(tokens * tokens, discard_ratio);
    match backend.rollout_row(probs, row, fusion, discard)? {
        Some(on_device) => Ok(timings.read(backend, &on_device).await?.data),
        None => on_host(backend, timings, probs, |maps| rollout(maps, row, fusion, discard)).await,
    }
}

/// Grad-CAM on the tokens of the residual stream `hidden` (1, T, D) with its gradient, the
/// channels weighted by the mean gradient over the `weighted` tokens: on the device when the
/// backend computes it there.
pub(super) async fn gradcam_relevance<B: Backend>(
    backend: &B,
    timings: &Timings,
    hidden: &B::Tensor,
    gradient: &B::Tensor,
    weighted: Range<usize>,
) -> Result<Vec<f32>> {
    match backend.token_gradcam(hidden, gradient, weighted.clone())? {
        Some(on_device) => Ok(timings.read(backend, &on_device).await?.data),
        None => on_host(backend, timings, &[hidden, gradient], |t| token_gradcam(&t[0], &t[1], weighted.clone())).await,
    }
}

/// Row `row` of Chefer's relevance from the layers' maps and their gradients: on the device when
/// the backend computes it there (only T values cross back), else on the host.
pub(super) async fn chefer_relevance<B: Backend>(
    backend: &B,
    timings: &Timings,
    probs: &[&B::Tensor],
    grads: &[&B::Tensor],
    row: usize,
) -> Result<Vec<f32>> {
    if probs.is_empty() || probs.len() != grads.len() {
        return Err(Error::Internal(format!("chefer: {} layers of maps, {} of gradients", probs.len(), grads.len())));
    }
    match backend.chefer_row(probs, grads, row)? {
        Some(on_device) => Ok(timings.read(backend, &on_device).await?.data),
        None => {
            let maps_then_grads = [probs, grads].concat();
            on_host(backend, timings, &maps_then_grads, |all| {
                let (maps, grads) = all.split_at(probs.len());
                chefer(maps, grads, row)
            })
            .await
        }
    }
}

/// Chefer's propagation of the row vector `start` (not a unit row) through the layers' maps and
/// their gradients, on the host: v ← v + v·cam_l from the last layer down.
pub(super) async fn chefer_relevance_from<B: Backend>(
    backend: &B,
    timings: &Timings,
    probs: &[&B::Tensor],
    grads: &[&B::Tensor],
    start: Vec<f32>,
) -> Result<Vec<f32>> {
    if probs.len() != grads.len() {
        return Err(Error::Internal(format!("chefer: {} layers of maps, {} of gradients", probs.len(), grads.len())));
    }
    let maps_then_grads = [probs, grads].concat();
    on_host(backend, timings, &maps_then_grads, |all| {
        let (maps, grads) = all.split_at(probs.len());
        chefer_from(maps, grads, start.clone())
    })
    .await
}

/// Every layer's maps read back to the host.
pub(super) async fn download_probs<B: Backend>(
    backend: &B,
    timings: &Timings,
    probs: &[&B::Tensor],
) -> Result<Vec<HostTensor>> {
    let mut all = Vec::with_capacity(probs.len());
    for layer in probs {
        all.push(timings.read(backend, layer).await?);
    }
    Ok(all)
}
