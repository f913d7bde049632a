//! Launcher of drop_first_token.wgsl.

use super::{elementwise_grid, to_u32, Gpu, Kernel};
use crate::backend::webgpu::pool::GpuTensor;
use crate::error::{Error, Result};

const DROP_FIRST_TOKEN: Kernel = Kernel { name: "drop_first_token", source: include_str!("drop_first_token.wgsl") };

/// x (B, T, D) → (B, T − 1, D).
pub(crate) fn drop_first_token(gpu: &Gpu, x: &GpuTensor) -> Result<GpuTensor> {
    let &[batch, tokens, hidden] = x.shape() else {
        return Err(Error::Internal(format!("drop first token: shape {:?} is not (B, T, D)", x.shape())));
    };
    if tokens == 0 {
        return Err(Error::Internal("drop first token: there are no tokens".into()));
    }
    let out = gpu.tensor(vec![batch, tokens - 1, hidden])?;
    let params = [to_u32(out.elements())?, to_u32(tokens)?, to_u32(hidden)?];
    gpu.dispatch(&DROP_FIRST_TOKEN, &params, &[x.buffer(), out.buffer()], elementwise_grid(gpu, out.elements())?)?;
    Ok(out)
}
