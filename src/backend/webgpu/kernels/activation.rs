//! Launcher of the activation and its derivative (activation.wgsl).

use super::{elementwise_grid, to_u32, Gpu, Kernel};
use crate::backend::webgpu::pool::GpuTensor;
use crate::backend::Activation;
use crate::error::Result;

const ACTIVATION: Kernel = Kernel { name: "activation", source: include_str!("activation.wgsl") };

fn kind(act: Activation) -> u32 {
    match act {
        Activation::QuickGelu => 0,
        Activation::Gelu => 1,
        Activation::GeluTanh => 2,
        Activation::Silu => 3,
    }
}

/// act(x), and act'(x) when `with_derivative`.
pub(crate) fn activation(
    gpu: &Gpu,
    x: &GpuTensor,
    act: Activation,
    with_derivative: bool,
) -> Result<(GpuTensor, Option<GpuTensor>)> {
    let y = gpu.tensor(x.shape().to_vec())?;
    let derivative = if with_derivative { Some(gpu.tensor(x.shape().to_vec())?) } else { None };
    let params = [to_u32(x.elements())?, kind(act), with_derivative as u32];
    let derivative_buffer = derivative.as_ref().map(GpuTensor::buffer).unwrap_or(gpu.placeholder());
    gpu.dispatch(
        &ACTIVATION,
        &params,
        &[x.buffer(), y.buffer(), derivative_buffer],
        elementwise_grid(gpu, x.elements())?,
    )?;
    Ok((y, derivative))
}
