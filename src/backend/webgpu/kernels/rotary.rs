//! Launcher of the rotary position embeddings and their VJP (rotary.wgsl, one kernel for both).

use super::{elementwise_grid, to_u32, Gpu, Kernel};
use crate::backend::webgpu::pool::GpuTensor;
use crate::backend::RotaryTables;
use crate::error::Result;

const ROTARY: Kernel = Kernel { name: "rotary", source: include_str!("rotary.wgsl") };

/// x (B, T, H·d) with each head's channel pairs turned by their position's angles from `offset`,
/// or turned back when `transposed`.
pub(crate) fn rotary(
    gpu: &Gpu,
    x: &GpuTensor,
    tables: &RotaryTables<GpuTensor>,
    offset: usize,
    transposed: bool,
) -> Result<GpuTensor> {
    let op = if transposed { "rotary backward" } else { "rotary" };
    let (rows, tokens) = tables.geometry(op, x.shape(), offset)?;
    let half = tables.head_dim() / 2;
    let heads = x.elements() / rows / tables.head_dim();
    let pairs = x.elements() / 2;
    let out = gpu.tensor(x.shape().to_vec())?;
    let direction: f32 = if transposed { -1.0 } else { 1.0 };
    let params = [to_u32(pairs)?, to_u32(tokens)?, to_u32(heads)?, to_u32(half)?, to_u32(offset)?, direction.to_bits()];
    let buffers = [x.buffer(), tables.cos().buffer(), tables.sin().buffer(), out.buffer()];
    gpu.dispatch(&ROTARY, &params, &buffers, elementwise_grid(gpu, pairs)?)?;
    Ok(out)
}
