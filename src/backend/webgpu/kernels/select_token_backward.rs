//! Launcher of select_token_backward.wgsl.

use super::{elementwise_grid, to_u32, Gpu, Kernel};
use crate::backend::webgpu::pool::GpuTensor;
use crate::error::{Error, Result};

const SELECT_TOKEN_BACKWARD: Kernel =
    Kernel { name: "select_token_backward", source: include_str!("select_token_backward.wgsl") };

/// dy (B, D) → (B, T, D), zero everywhere but `position`.
pub(crate) fn select_token_backward(gpu: &Gpu, dy: &GpuTensor, position: usize, tokens: usize) -> Result<GpuTensor> {
    let &[batch, hidden] = dy.shape() else {
        return Err(Error::Internal(format!("select token backward: shape {:?} is not (B, D)", dy.shape())));
    };
    if position >= tokens {
        return Err(Error::Internal(format!("select token backward: position {position} of {tokens} tokens")));
    }
    let dx = gpu.tensor(vec![batch, tokens, hidden])?;
    let params = [to_u32(dx.elements())?, to_u32(tokens)?, to_u32(hidden)?, to_u32(position)?];
    gpu.dispatch(&SELECT_TOKEN_BACKWARD, &params, &[dy.buffer(), dx.buffer()], elementwise_grid(gpu, dx.elements())?)?;
    Ok(dx)
}
