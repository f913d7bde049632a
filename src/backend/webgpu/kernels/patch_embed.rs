//! Launchers of the patch convolution: patchify.wgsl then the matrix product with the weight
//! (forward), the product then unpatchify.wgsl (backward).

use super::matmul::{matmul, Layout, Operand};
use super::{elementwise_grid, to_u32, Gpu, Kernel};
use crate::backend::webgpu::pool::GpuTensor;
use crate::error::{Error, Result};

const PATCHIFY: Kernel = Kernel { name: "patchify", source: include_str!("patchify.wgsl") };
const UNPATCHIFY: Kernel = Kernel { name: "unpatchify", source: include_str!("unpatchify.wgsl") };

/// pixels (B, C, S, S), w (D, C, P, P) → (B, N, D).
pub(crate) fn patch_embed(gpu: &Gpu, pixels: &GpuTensor, w: &GpuTensor, patch: usize) -> Result<GpuTensor> {
    let &[batch, channels, size, width] = pixels.shape() else {
        return Err(Error::Internal(format!(
            "patch embedding: pixels have shape {:?}, not (B, C, S, S)",
            pixels.shape()
        )));
    };
    let hidden = w.shape().first().copied().unwrap_or(0);
    let patch_len = channels * patch * patch;
    if patch == 0 || size != width || w.elements() != hidden * patch_len {
        return Err(Error::Internal(format!(
            "patch embedding: pixels {:?} do not fit weight {:?} with patch {patch}",
            pixels.shape(),
            w.shape()
        )));
    }
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
    let &[batch, patches, hidden] = d_patches.shape() else {
        return Err(Error::Internal(format!(
            "patch embedding backward: shape {:?} is not (B, N, D)",
            d_patches.shape()
        )));
    };
    let side = image_size.checked_div(patch).unwrap_or(0);
    if patch == 0 || hidden == 0 || side * side != patches || !w.elements().is_multiple_of(hidden * patch * patch) {
        return Err(Error::Internal(format!(
            "patch embedding backward: gradient {:?} does not fit weight {:?}, patch {patch}, image {image_size}",
            d_patches.shape(),
            w.shape()
        )));
    }
    let channels = w.elements() / (hidden * patch * patch);
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
