//! Launchers of rollout (fuse_heads, discard_cut, discard_apply, rollout_scale, rollout_step) and
//! of raw attention's row: the per-layer maps stay on the GPU and only the final row is read
//! back, by the caller.

use super::{attention_maps_shape, elementwise_grid, select_token, to_u32, unit_row, Gpu, Kernel};
use crate::backend::webgpu::pool::GpuTensor;
use crate::backend::HeadFusion;
use crate::error::{Error, Result};

const FUSE_HEADS: Kernel = Kernel { name: "fuse_heads", source: include_str!("fuse_heads.wgsl") };
const DISCARD_CUT: Kernel = Kernel {
    name: "discard_cut",
    source: concat!(include_str!("discard_cut.wgsl"), include_str!("workgroup_reduce.wgsl")),
};
const DISCARD_APPLY: Kernel = Kernel { name: "discard_apply", source: include_str!("discard_apply.wgsl") };
const ROLLOUT_SCALE: Kernel = Kernel { name: "rollout_scale", source: include_str!("rollout_scale.wgsl") };
const ROLLOUT_STEP: Kernel = Kernel { name: "rollout_step", source: include_str!("rollout_step.wgsl") };

/// The (T, T) head fusion of batch element 0 of one (B, H, T, T) map.
fn fuse_heads(gpu: &Gpu, probs: &GpuTensor, (heads, tokens): (usize, usize), fusion: HeadFusion) -> Result<GpuTensor> {
    let fused = gpu.tensor(vec![1, tokens, tokens])?;
    let code = match fusion {
        HeadFusion::Mean => 0,
        HeadFusion::Max => 1,
        HeadFusion::Min => 2,
    };
    let params = [to_u32(heads)?, to_u32(tokens)?, code];
    gpu.dispatch(&FUSE_HEADS, &params, &[probs.buffer(), fused.buffer()], elementwise_grid(gpu, tokens * tokens)?)?;
    Ok(fused)
}

/// Row `row` of the last layer's attention averaged over heads, on batch element 0, as (1, T).
pub(crate) fn attention_row(gpu: &Gpu, probs: &GpuTensor, row: usize) -> Result<GpuTensor> {
    let shape = attention_maps_shape(&[probs], "attention row")?;
    select_token(gpu, &fuse_heads(gpu, probs, shape, HeadFusion::Mean)?, row)
}

/// Row `row` of R = Â_L ⋯ Â_1 with Â_l = rows-normalized(fuse(A_l) + I) on batch element 0, where
/// the `discard` smallest entries of each fused map (by value, then index; entry 0 spared) are
/// zeroed first, as a (T) tensor on the device; `probs` are (B, H, T, T), first layer first.
pub(crate) fn rollout_row(
    gpu: &Gpu,
    probs: &[&GpuTensor],
    row: usize,
    fusion: HeadFusion,
    discard: usize,
) -> Result<GpuTensor> {
    let (heads, tokens) = attention_maps_shape(probs, "rollout")?;
    let entries = tokens * tokens;
    if row >= tokens || discard > entries {
        return Err(Error::Internal(format!("rollout: row {row}, discard {discard} of {tokens} tokens")));
    }
    let mut relevance = unit_row(gpu, tokens, row)?;
    let per_row = [to_u32(tokens)?];
    let per_token = [to_u32(tokens.div_ceil(64))?, 1, 1];
    for layer in probs.iter().rev() {
        let mut fused = fuse_heads(gpu, layer, (heads, tokens), fusion)?;
        if discard > 0 {
            let cut = gpu.tensor(vec![2])?;
            gpu.dispatch(
                &DISCARD_CUT,
                &[to_u32(entries)?, to_u32(discard)?],
                &[fused.buffer(), cut.buffer()],
                [1, 1, 1],
            )?;
            let kept = gpu.tensor(vec![1, tokens, tokens])?;
            let buffers = [fused.buffer(), cut.buffer(), kept.buffer()];
            gpu.dispatch(&DISCARD_APPLY, &[to_u32(entries)?], &buffers, elementwise_grid(gpu, entries)?)?;
            fused = kept;
        }
        let scaled = gpu.tensor(vec![tokens])?;
        gpu.dispatch(&ROLLOUT_SCALE, &per_row, &[fused.buffer(), relevance.buffer(), scaled.buffer()], per_token)?;
        let next = gpu.tensor(vec![tokens])?;
        gpu.dispatch(&ROLLOUT_STEP, &per_row, &[fused.buffer(), scaled.buffer(), next.buffer()], per_token)?;
        relevance = next;
    }
    Ok(relevance)
}
