//! Launcher of Chefer's relevance propagation on the device (chefer_step.wgsl, one dispatch per
//! layer): the per-layer maps stay on the GPU and only the final row is read back, by the caller.

use super::{attention_maps_shape, to_u32, unit_row, Gpu, Kernel};
use crate::backend::webgpu::pool::GpuTensor;
use crate::error::{Error, Result};

const CHEFER_STEP: Kernel = Kernel { name: "chefer_step", source: include_str!("chefer_step.wgsl") };

/// Row `row` of R after R ← R + mean_h(ReLU(∂s/∂A_l ⊙ A_l))·R for l = 1..L, from R = I, on batch
/// element 0, as a (T) tensor on the device; `probs` and `grads` are (B, H, T, T) per layer, first
/// layer first.
pub(crate) fn chefer_row(gpu: &Gpu, probs: &[&GpuTensor], grads: &[&GpuTensor], row: usize) -> Result<GpuTensor> {
    let all_maps: Vec<&GpuTensor> = probs.iter().chain(grads).copied().collect();
    let (heads, tokens) = attention_maps_shape(&all_maps, "chefer")?;
    if probs.len() != grads.len() || row >= tokens {
        return Err(Error::Internal(format!("chefer: {} maps, {} gradients, row {row}", probs.len(), grads.len())));
    }
    let mut relevance = unit_row(gpu, tokens, row)?;
    let params = [to_u32(heads)?, to_u32(tokens)?];
    let groups = [to_u32(tokens.div_ceil(64))?, 1, 1];
    for (a, g) in probs.iter().zip(grads).rev() {
        let next = gpu.tensor(vec![tokens])?;
        gpu.dispatch(&CHEFER_STEP, &params, &[a.buffer(), g.buffer(), relevance.buffer(), next.buffer()], groups)?;
        relevance = next;
    }
    Ok(relevance)
}
