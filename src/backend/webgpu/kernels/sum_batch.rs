//! Launcher of the running sum over a batch (sum_batch.wgsl).

use super::{elementwise_grid, to_u32, Gpu, Kernel};
use crate::backend::webgpu::pool::GpuTensor;
use crate::error::{Error, Result};

const SUM_BATCH: Kernel = Kernel { name: "sum_batch", source: include_str!("sum_batch.wgsl") };

/// x (B, ...) → (...): `total` + Σ_b x[b], or of |x[b]| when `absolute`.
pub(crate) fn sum_batch(gpu: &Gpu, x: &GpuTensor, absolute: bool, total: Option<&GpuTensor>) -> Result<GpuTensor> {
    let Some((&batch, rest)) = x.shape().split_first() else {
        return Err(Error::Internal("sum over the batch: a tensor without dimensions".into()));
    };
    let count: usize = rest.iter().product();
    if total.is_some_and(|t| t.elements() != count) {
        return Err(Error::Internal(format!(
            "sum over the batch: total of {:?} for {:?}",
            total.map(|t| t.shape()),
            x.shape()
        )));
    }
    let out = gpu.tensor(rest.to_vec())?;
    let params = [to_u32(count)?, to_u32(batch)?, u32::from(absolute), u32::from(total.is_some())];
    let total_buffer = total.map_or(gpu.placeholder(), |t| t.buffer());
    gpu.dispatch(&SUM_BATCH, &params, &[total_buffer, x.buffer(), out.buffer()], elementwise_grid(gpu, count)?)?;
    Ok(out)
}
