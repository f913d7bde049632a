//! Launcher of Chefer's relevance propagation on the device (chefer_step.wgsl, one dispatch per
//! layer): the per-layer maps stay on the GPU and only the final row is read back, by the caller.

use super::{to_u32, Gpu, Kernel};
use crate::backend::webgpu::pool::GpuTensor;
use crate::error::{Error, Result};

const CHEFER_STEP: Kernel = Kernel { name: "chefer_step", source: include_str!("chefer_step.wgsl") };

/// Row `row` of R after R ← R + mean_h(ReLU(∂s/∂A_l ⊙ A_l))·R for l = 1..L, from R = I, on batch
/// element 0, as a (T) tensor on the device; `probs` and `grads` are (B, H, T, T) per layer, first
/// layer first.
pub(crate) fn chefer_row(gpu: &Gpu, probs: &[&GpuTensor], grads: &[&GpuTensor], row: usize) -> Result<GpuTensor> {
    let first = probs.first().ok_or_else(|| Error::Backend("chefer: no layers".into()))?;
    let &[_, heads, tokens, _] = first.shape() else {
        return Err(Error::Backend(format!("chefer: maps of shape {:?} are not (B, H, T, T)", first.shape())));
    };
    if probs.len() != grads.len() || row >= tokens {
        return Err(Error::Backend(format!("chefer: {} maps, {} gradients, row {row}", probs.len(), grads.len())));
    }
    for map in probs.iter().chain(grads) {
        if map.shape() != first.shape() {
            return Err(Error::Backend(format!("chefer: maps {:?} and {:?} differ", map.shape(), first.shape())));
        }
    }
    let mut unit = vec![0f32; tokens];
    unit[row] = 1.0;
    let mut relevance = gpu.upload(bytemuck::cast_slice(&unit), vec![tokens])?;
    let params = [to_u32(heads)?, to_u32(tokens)?];
    let groups = [to_u32(tokens.div_ceil(64))?, 1, 1];
    for (a, g) in probs.iter().zip(grads).rev() {
        let next = gpu.tensor(vec![tokens])?;
        gpu.dispatch(&CHEFER_STEP, &params, &[a.buffer(), g.buffer(), relevance.buffer(), next.buffer()], groups)?;
        relevance = next;
    }
    Ok(relevance)
}
