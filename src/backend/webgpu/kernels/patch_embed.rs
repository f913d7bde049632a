//! Launchers of the patch convolution: patchify.wgsl then the matrix product with the weight
//! (forward), the product then unpatchify.wgsl (backward).

use super::matmul::{matmul, Layout, Operand};
use super::{elementwise_grid, to_u32, Gpu, Kernel};
use crate::backend::webgpu::pool::GpuTensor;
use crate::backend::{patch_embed_backward_geometry, patch_embed_geometry};
use crate::error::Result;

const PATCHIFY: Kernel = Kernel { name: "patchify", source: include_str!("patchify.wgsl") };
const UNPATCHIFY: Kernel = Kernel { name: "unpatchify", source: include_str!("unpatchify.wgsl") };

/// pixels (B, C, S, S), w (D, C, P, P) → (B, N, D).
pub(crate) fn patch_embed(gpu: &Gpu, pixels: &GpuTensor, w: &GpuTensor, patch: usize) -> Result<GpuTensor> {
    let [batch, channels, size, hidden] = patch_embed_geometry(pixels.shape(), w.shape(), patch)?;
    let patch_len = channels * patch * patch;
    let side = size / patch;
    let rows = batch * side * side;
    let patches = gpu.tensor(vec![rows, patch_len])?;
    let params = [to_u32(patches.elements())?, to_u32(channels)?, to_u32(size)?, to_u32(patch)?, to_u32(side)?];
    gpu.dispatch(&PATCHIFY, &params, &[pixels.buffer(), patches.buffer()], elementwise_grid(gpu, patches.elements())?)?;
    matmul(
        gpu,
        &patches,
        Operand::Dense(w),
        None,
        (rows, patch_len, hidden),
        Layout::Transposed,
        vec![batch, side * side, hidden],
    )
}

/// d_patches (B, N, D) → d_pixels (B, C, S, S).
pub(crate) fn patch_embed_backward(
    gpu: &Gpu,
    d_patches: &GpuTensor,
    w: &GpuTensor,
    patch: usize,
    image_size: usize,
) -> Result<GpuTensor> {
    let [batch, patches, hidden, channels] =
        patch_embed_backward_geometry(d_patches.shape(), w.shape(), patch, image_size)?;
    let side = image_size / patch;
    let patch_len = channels * patch * patch;
    let rows = batch * patches;
    let d_flat = matmul(
        gpu,
        d_patches,
        Operand::Dense(w),
        None,
        (rows, hidden, patch_len),
        Layout::Plain,
        vec![rows, patch_len],
    )?;
    let d_pixels = gpu.tensor(vec![batch, channels, image_size, image_size])?;
    let params = [to_u32(d_pixels.elements())?, to_u32(channels)?, to_u32(image_size)?, to_u32(patch)?, to_u32(side)?];
    gpu.dispatch(
        &UNPATCHIFY,
        &params,
        &[d_flat.buffer(), d_pixels.buffer()],
        elementwise_grid(gpu, d_pixels.elements())?,
    )?;
    Ok(d_pixels)
}
