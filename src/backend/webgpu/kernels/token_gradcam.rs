//! Launcher of Grad-CAM on tokens (token_gradcam.wgsl): only the T scores are read back.

use super::{to_u32, Gpu, Kernel};
use crate::backend::webgpu::pool::GpuTensor;
use crate::error::{Error, Result};
use std::ops::Range;

const TOKEN_GRADCAM: Kernel = Kernel {
    name: "token_gradcam",
    source: concat!(include_str!("token_gradcam.wgsl"), include_str!("workgroup_reduce.wgsl")),
};

/// ReLU(Σ_c w_c · h[t, c]) for every token t of batch element 0, w = the mean of ∂s/∂h over
/// `weighted` tokens; `hidden` and `gradient` are (B, T, D).
pub(crate) fn token_gradcam(
    gpu: &Gpu,
    hidden: &GpuTensor,
    gradient: &GpuTensor,
    weighted: Range<usize>,
) -> Result<GpuTensor> {
    let &[_, tokens, channels] = hidden.shape() else {
        return Err(Error::Internal(format!("gradcam: shape {:?} is not (B, T, D)", hidden.shape())));
    };
    if gradient.shape() != hidden.shape() || weighted.is_empty() || weighted.end > tokens {
        return Err(Error::Internal(format!(
            "gradcam: hidden {:?}, gradient {:?}, weighting tokens {weighted:?}",
            hidden.shape(),
            gradient.shape()
        )));
    }
    let out = gpu.tensor(vec![tokens])?;
    let params = [to_u32(tokens)?, to_u32(channels)?, to_u32(weighted.start)?, to_u32(weighted.len())?];
    gpu.dispatch(
        &TOKEN_GRADCAM,
        &params,
        &[hidden.buffer(), gradient.buffer(), out.buffer()],
        [to_u32(tokens)?, 1, 1],
    )?;
    Ok(out)
}
