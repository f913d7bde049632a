//! Launcher of prepend_class.wgsl.

use super::{elementwise_grid, to_u32, Gpu, Kernel};
use crate::backend::webgpu::pool::GpuTensor;
use crate::error::{Error, Result};

const PREPEND_CLASS: Kernel = Kernel { name: "prepend_class", source: include_str!("prepend_class.wgsl") };

/// (B, N, D) → (B, N + 1, D) with `class` (D) first.
pub(crate) fn prepend_class(gpu: &Gpu, patches: &GpuTensor, class: &GpuTensor) -> Result<GpuTensor> {
    let &[batch, count, hidden] = patches.shape() else {
        return Err(Error::Internal(format!("prepend class: shape {:?} is not (B, N, D)", patches.shape())));
    };
    if class.elements() != hidden {
        return Err(Error::Internal(format!("prepend class: class {:?} vs hidden {hidden}", class.shape())));
    }
    let out = gpu.tensor(vec![batch, count + 1, hidden])?;
    let params = [to_u32(out.elements())?, to_u32(count + 1)?, to_u32(hidden)?];
    gpu.dispatch(
        &PREPEND_CLASS,
        &params,
        &[patches.buffer(), class.buffer(), out.buffer()],
        elementwise_grid(gpu, out.elements())?,
    )?;
    Ok(out)
}
