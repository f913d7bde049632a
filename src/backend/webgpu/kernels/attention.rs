//! Launcher of the fused attention forward (attention.wgsl).

use super::{to_u32, AttentionShape, Gpu, Kernel};
use crate::backend::webgpu::pool::GpuTensor;
use crate::error::Result;

const ATTENTION: Kernel = Kernel {
    name: "attention",
    source: concat!(include_str!("attention.wgsl"), include_str!("workgroup_reduce.wgsl")),
};

/// (output (B, T, D), probabilities (B, H, T, T)).
pub(crate) fn attention(
    gpu: &Gpu,
    q: &GpuTensor,
    k: &GpuTensor,
    v: &GpuTensor,
    shape: AttentionShape,
    causal: bool,
) -> Result<(GpuTensor, GpuTensor)> {
    let AttentionShape { batch, tokens, hidden, heads } = shape;
    let out = gpu.tensor(vec![batch, tokens, hidden])?;
    let probs = gpu.tensor(vec![batch, heads, tokens, tokens])?;
    let params = [
        to_u32(batch)?,
        to_u32(tokens)?,
        to_u32(hidden)?,
        to_u32(heads)?,
        to_u32(shape.head_dim())?,
        causal as u32,
        shape.scale().to_bits(),
    ];
    let groups = gpu.grid(batch * heads * tokens)?;
    gpu.dispatch(&ATTENTION, &params, &[q.buffer(), k.buffer(), v.buffer(), out.buffer(), probs.buffer()], groups)?;
    Ok((out, probs))
}
