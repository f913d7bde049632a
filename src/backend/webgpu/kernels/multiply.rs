//! Launcher of the elementwise product (multiply.wgsl).

use super::{elementwise_grid, same_shape, to_u32, Gpu, Kernel};
use crate::backend::webgpu::pool::GpuTensor;
use crate::error::Result;

const MULTIPLY: Kernel = Kernel { name: "multiply", source: include_str!("multiply.wgsl") };

pub(crate) fn multiply(gpu: &Gpu, a: &GpuTensor, b: &GpuTensor) -> Result<GpuTensor> {
    same_shape(a, b, "multiply")?;
    let out = gpu.tensor(a.shape().to_vec())?;
    let params = [to_u32(a.elements())?];
    gpu.dispatch(&MULTIPLY, &params, &[a.buffer(), b.buffer(), out.buffer()], elementwise_grid(gpu, a.elements())?)?;
    Ok(out)
}
