//! Launcher of the layer norm's vector-Jacobian product (layer_norm_backward.wgsl).

use super::{to_u32, Gpu, Kernel};
use crate::backend::shapes::{check_saved_batch, rows_and_width};
use crate::backend::webgpu::pool::GpuTensor;
use crate::error::Result;

const LAYER_NORM_BACKWARD: Kernel = Kernel {
    name: "layer_norm_backward",
    source: concat!(include_str!("layer_norm_backward.wgsl"), include_str!("workgroup_reduce.wgsl")),
};

/// dx (K, .., D) for dy (K, .., D) and x of dy's shape or a batch of one of it.
pub(crate) fn layer_norm_backward(
    gpu: &Gpu,
    x: &GpuTensor,
    gamma: &GpuTensor,
    dy: &GpuTensor,
    eps: f64,
) -> Result<GpuTensor> {
    let (x_rows, width) = rows_and_width("layer norm backward", x.shape(), gamma.elements())?;
    check_saved_batch("layer norm backward", x.shape(), dy.shape())?;
    let rows = dy.elements() / width;
    let dx = gpu.tensor(dy.shape().to_vec())?;
    let params = [to_u32(rows)?, to_u32(width)?, (eps as f32).to_bits(), to_u32(x_rows)?];
    gpu.dispatch(
        &LAYER_NORM_BACKWARD,
        &params,
        &[x.buffer(), gamma.buffer(), dy.buffer(), dx.buffer()],
        gpu.grid(rows)?,
    )?;
    Ok(dx)
}
