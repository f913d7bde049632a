//! Launcher of the fused attention forward (attention.wgsl), and the uniform words of
//! `AttentionShape` that all three attention kernels read (attention_shape.wgsl).

use super::{to_u32, Gpu, Kernel};
use crate::backend::webgpu::pool::GpuTensor;
use crate::backend::AttentionShape;
use crate::error::Result;

const ATTENTION: Kernel = Kernel {
    name: "attention",
    source: concat!(
        include_str!("attention.wgsl"),
        include_str!("attention_shape.wgsl"),
        include_str!("workgroup_reduce.wgsl")
    ),
};

/// The words of attention_shape.wgsl's `AttentionShape`, in its field order, for q, k, v and
/// probabilities of batch `saved_batch` (`shape.batch`, or 1 in a backward pass that reads one
/// forward for a batch of gradients).
pub(super) fn attention_params(shape: &AttentionShape, saved_batch: usize) -> Result<Vec<u32>> {
    let offset = shape.causal_offset();
    Ok(vec![
        to_u32(shape.batch)?,
        to_u32(shape.queries)?,
        to_u32(shape.keys)?,
        to_u32(shape.heads)?,
        to_u32(shape.kv_heads)?,
        to_u32(shape.head_dim)?,
        offset.is_some() as u32,
        to_u32(offset.unwrap_or(0))?,
        shape.scale().to_bits(),
        to_u32(saved_batch)?,
    ])
}

/// (output (B, Tq, H·d), probabilities (B, H, Tq, Tk)).
pub(crate) fn attention(
    gpu: &Gpu,
    q: &GpuTensor,
    k: &GpuTensor,
    v: &GpuTensor,
    shape: &AttentionShape,
) -> Result<(GpuTensor, GpuTensor)> {
    let out = gpu.tensor(shape.query_dims().to_vec())?;
    let probs = gpu.tensor(shape.maps_dims().to_vec())?;
    let groups = gpu.grid(shape.batch * shape.heads * shape.queries)?;
    let buffers = [q.buffer(), k.buffer(), v.buffer(), out.buffer(), probs.buffer()];
    gpu.dispatch(&ATTENTION, &attention_params(shape, shape.batch)?, &buffers, groups)?;
    Ok((out, probs))
}
