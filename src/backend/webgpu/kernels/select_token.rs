//! Launcher of select_token.wgsl.

use super::{elementwise_grid, to_u32, Gpu, Kernel};
use crate::backend::webgpu::pool::GpuTensor;
use crate::error::{Error, Result};

const SELECT_TOKEN: Kernel = Kernel { name: "select_token", source: include_str!("select_token.wgsl") };

/// x (B, T, D) → (B, D), the token at `position`.
pub(crate) fn select_token(gpu: &Gpu, x: &GpuTensor, position: usize) -> Result<GpuTensor> {
    let &[batch, tokens, hidden] = x.shape() else {
        return Err(Error::Internal(format!("select token: shape {:?} is not (B, T, D)", x.shape())));
    };
    if position >= tokens {
        return Err(Error::Internal(format!("select token: position {position} of {tokens} tokens")));
    }
    let out = gpu.tensor(vec![batch, hidden])?;
    let params = [to_u32(out.elements())?, to_u32(tokens)?, to_u32(hidden)?, to_u32(position)?];
    gpu.dispatch(&SELECT_TOKEN, &params, &[x.buffer(), out.buffer()], elementwise_grid(gpu, out.elements())?)?;
    Ok(out)
}
