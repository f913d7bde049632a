//! Launcher of the elementwise sum (add.wgsl).

use super::{elementwise_grid, same_shape, to_u32, Gpu, Kernel};
use crate::backend::webgpu::pool::GpuTensor;
use crate::error::Result;

const ADD: Kernel = Kernel { name: "add", source: include_str!("add.wgsl") };

pub(crate) fn add(gpu: &Gpu, a: &GpuTensor, b: &GpuTensor) -> Result<GpuTensor> {
    same_shape(a, b, "add")?;
    let out = gpu.tensor(a.shape().to_vec())?;
    let params = [to_u32(a.elements())?];
    gpu.dispatch(&ADD, &params, &[a.buffer(), b.buffer(), out.buffer()], elementwise_grid(gpu, a.elements())?)?;
    Ok(out)
}
