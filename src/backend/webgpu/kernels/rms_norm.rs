//! Launchers of RMSNorm (rms_norm.wgsl) and its vector-Jacobian product (rms_norm_backward.wgsl).

use super::{to_u32, Gpu, Kernel};
use crate::backend::shapes::{check_saved_batch, rows_and_width};
use crate::backend::webgpu::pool::GpuTensor;
use crate::error::Result;

const RMS_NORM: Kernel =
    Kernel { name: "rms_norm", source: concat!(include_str!("rms_norm.wgsl"), include_str!("workgroup_reduce.wgsl")) };
const RMS_NORM_BACKWARD: Kernel = Kernel {
    name: "rms_norm_backward",
    source: concat!(include_str!("rms_norm_backward.wgsl"), include_str!("workgroup_reduce.wgsl")),
};

pub(crate) fn rms_norm(gpu: &Gpu, x: &GpuTensor, w: &GpuTensor, eps: f64) -> Result<GpuTensor> {
    let (rows, width) = rows_and_width("rms norm", x.shape(), w.elements())?;
    let y = gpu.tensor(x.shape().to_vec())?;
    let params = [to_u32(rows)?, to_u32(width)?, (eps as f32).to_bits()];
    gpu.dispatch(&RMS_NORM, &params, &[x.buffer(), w.buffer(), y.buffer()], gpu.grid(rows)?)?;
    Ok(y)
}

/// dx (K, .., D) for dy (K, .., D) and x of dy's shape or a batch of one of it.
pub(crate) fn rms_norm_backward(
    gpu: &Gpu,
    x: &GpuTensor,
    w: &GpuTensor,
    dy: &GpuTensor,
    eps: f64,
) -> Result<GpuTensor> {
    let (x_rows, width) = rows_and_width("rms norm backward", x.shape(), w.elements())?;
    check_saved_batch("rms norm backward", x.shape(), dy.shape())?;
    let rows = dy.elements() / width;
    let dx = gpu.tensor(dy.shape().to_vec())?;
    let params = [to_u32(rows)?, to_u32(width)?, (eps as f32).to_bits(), to_u32(x_rows)?];
    gpu.dispatch(&RMS_NORM_BACKWARD, &params, &[x.buffer(), w.buffer(), dy.buffer(), dx.buffer()], gpu.grid(rows)?)?;
    Ok(dx)
}
