//! Launcher of add_positions.wgsl.

use super::{elementwise_grid, to_u32, Gpu, Kernel};
use crate::backend::webgpu::pool::GpuTensor;
use crate::error::{Error, Result};

const ADD_POSITIONS: Kernel = Kernel { name: "add_positions", source: include_str!("add_positions.wgsl") };

/// x (B, T, D) plus the first T rows of `positions` (≥ T, D).
pub(crate) fn add_positions(gpu: &Gpu, x: &GpuTensor, positions: &GpuTensor) -> Result<GpuTensor> {
    let &[_, tokens, hidden] = x.shape() else {
        return Err(Error::Internal(format!("add positions: shape {:?} is not (B, T, D)", x.shape())));
    };
    if positions.shape().len() != 2 || positions.shape()[1] != hidden || positions.shape()[0] < tokens {
        return Err(Error::Internal(format!(
            "add positions: table {:?} cannot cover {tokens} tokens of width {hidden}",
            positions.shape()
        )));
    }
    let out = gpu.tensor(x.shape().to_vec())?;
    let params = [to_u32(x.elements())?, to_u32(tokens * hidden)?];
    gpu.dispatch(
        &ADD_POSITIONS,
        &params,
        &[x.buffer(), positions.buffer(), out.buffer()],
        elementwise_grid(gpu, x.elements())?,
    )?;
    Ok(out)
}
