//! Launchers of the batched methods' inputs made on the device from the one uploaded image
//! (scaled_copies.wgsl, occluded_copies.wgsl).

use super::{elementwise_grid, to_u32, Gpu, Kernel};
use crate::backend::webgpu::pool::GpuTensor;
use crate::backend::{copies_shape, occlusion_geometry};
use crate::error::Result;

const SCALED_COPIES: Kernel = Kernel { name: "scaled_copies", source: include_str!("scaled_copies.wgsl") };
const OCCLUDED_COPIES: Kernel = Kernel { name: "occluded_copies", source: include_str!("occluded_copies.wgsl") };

/// x (1, ...) → (F, ...): copy k is factors[k] · x.
pub(crate) fn scaled_copies(gpu: &Gpu, x: &GpuTensor, factors: &[f32]) -> Result<GpuTensor> {
    let shape = copies_shape(x.shape(), factors.len(), "scaled copies")?;
    let out = gpu.tensor(shape)?;
    let factors_on_device = gpu.upload(bytemuck::cast_slice(factors), vec![factors.len()])?;
    let params = [to_u32(x.elements())?, to_u32(factors.len())?];
    let buffers = [x.buffer(), factors_on_device.buffer(), out.buffer()];
    gpu.dispatch(&SCALED_COPIES, &params, &buffers, elementwise_grid(gpu, out.elements())?)?;
    Ok(out)
}

/// x (1, 3, S, S) → (count, 3, S, S): copy k has patch `first + k` of the grid of `patch` × `patch`
/// patches set to 0.
pub(crate) fn occluded_copies(gpu: &Gpu, x: &GpuTensor, first: usize, count: usize, patch: usize) -> Result<GpuTensor> {
    let (size, grid) = occlusion_geometry(x.shape(), first, count, patch)?;
    let out = gpu.tensor(copies_shape(x.shape(), count, "occluded copies")?)?;
    let params = [to_u32(count)?, to_u32(size)?, to_u32(patch)?, to_u32(grid)?, to_u32(first)?];
    gpu.dispatch(&OCCLUDED_COPIES, &params, &[x.buffer(), out.buffer()], elementwise_grid(gpu, out.elements())?)?;
    Ok(out)
}
