//! Launcher of the layer norm's vector-Jacobian product (layer_norm_backward.wgsl).

use super::{rows_and_width, same_shape, to_u32, Gpu, Kernel};
use crate::backend::webgpu::pool::GpuTensor;
use crate::error::Result;

const LAYER_NORM_BACKWARD: Kernel = Kernel {
    name: "layer_norm_backward",
    source: concat!(include_str!("layer_norm_backward.wgsl"), include_str!("workgroup_reduce.wgsl")),
};

pub(crate) fn layer_norm_backward(
    gpu: &Gpu,
    x: &GpuTensor,
    gamma: &GpuTensor,
    dy: &GpuTensor,
    eps: f64,
) -> Result<GpuTensor> {
    let (rows, width) = rows_and_width(x, gamma, "layer norm backward")?;
    same_shape(x, dy, "layer norm backward")?;
    let dx = gpu.tensor(x.shape().to_vec())?;
    let params = [to_u32(rows)?, to_u32(width)?, (eps as f32).to_bits()];
    gpu.dispatch(
        &LAYER_NORM_BACKWARD,
        &params,
        &[x.buffer(), gamma.buffer(), dy.buffer(), dx.buffer()],
        gpu.grid(rows)?,
    )?;
    Ok(dx)
}
