//! Launcher of the elementwise product (multiply.wgsl).

use super::{elementwise_grid, to_u32, Gpu, Kernel};
use crate::backend::shapes::check_saved_batch;
use crate::backend::webgpu::pool::GpuTensor;
use crate::error::Result;

const MULTIPLY: Kernel = Kernel { name: "multiply", source: include_str!("multiply.wgsl") };

/// a ⊙ b for b of a's shape or a batch of one of it.
pub(crate) fn multiply(gpu: &Gpu, a: &GpuTensor, b: &GpuTensor) -> Result<GpuTensor> {
    check_saved_batch("multiply", b.shape(), a.shape())?;
    let out = gpu.tensor(a.shape().to_vec())?;
    let params = [to_u32(a.elements())?, to_u32(b.elements())?];
    gpu.dispatch(&MULTIPLY, &params, &[a.buffer(), b.buffer(), out.buffer()], elementwise_grid(gpu, a.elements())?)?;
    Ok(out)
}
