//! Launcher of the batched explained score and its gradient (scaled_cosine.wgsl).

use super::{to_u32, Gpu, Kernel};
use crate::backend::webgpu::pool::GpuTensor;
use crate::error::{Error, Result};

const SCALED_COSINE: Kernel = Kernel {
    name: "scaled_cosine",
    source: concat!(include_str!("scaled_cosine.wgsl"), include_str!("workgroup_reduce.wgsl")),
};

/// For image (B, E) and text (E): c · cos(u_b, v) as (B), and its gradients with respect to each
/// u_b as (B, E).
pub(crate) fn scaled_cosine_with_gradients(
    gpu: &Gpu,
    image: &GpuTensor,
    text: &GpuTensor,
    multiplier: f32,
) -> Result<(GpuTensor, GpuTensor)> {
    let &[rows, width] = image.shape() else {
        return Err(Error::Internal(format!("scaled cosine: image {:?} is not (B, E)", image.shape())));
    };
    if text.elements() != width {
        return Err(Error::Internal(format!("scaled cosine: image {:?} vs text {:?}", image.shape(), text.shape())));
    }
    let scores = gpu.tensor(vec![rows])?;
    let d_image = gpu.tensor(vec![rows, width])?;
    let params = [to_u32(rows)?, to_u32(width)?, multiplier.to_bits()];
    let buffers = [image.buffer(), text.buffer(), scores.buffer(), d_image.buffer()];
    gpu.dispatch(&SCALED_COSINE, &params, &buffers, gpu.grid(rows)?)?;
    Ok((scores, d_image))
}
