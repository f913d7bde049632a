//! Launcher of the row-wise layer norm (layer_norm.wgsl).

use super::{to_u32, Gpu, Kernel};
use crate::backend::shapes::rows_and_width;
use crate::backend::webgpu::pool::GpuTensor;
use crate::error::Result;

const LAYER_NORM: Kernel = Kernel {
    name: "layer_norm",
    source: concat!(include_str!("layer_norm.wgsl"), include_str!("workgroup_reduce.wgsl")),
};

pub(crate) fn layer_norm(gpu: &Gpu, x: &GpuTensor, gamma: &GpuTensor, beta: &GpuTensor, eps: f64) -> Result<GpuTensor> {
    let (rows, width) = rows_and_width("layer norm", x.shape(), gamma.elements())?;
    rows_and_width("layer norm", x.shape(), beta.elements())?;
    let y = gpu.tensor(x.shape().to_vec())?;
    let params = [to_u32(rows)?, to_u32(width)?, (eps as f32).to_bits()];
    gpu.dispatch(&LAYER_NORM, &params, &[x.buffer(), gamma.buffer(), beta.buffer(), y.buffer()], gpu.grid(rows)?)?;
    Ok(y)
}
