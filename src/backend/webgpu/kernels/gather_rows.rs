//! Launcher of gather_rows.wgsl.

use super::{elementwise_grid, to_u32, Gpu, Kernel};
use crate::backend::webgpu::pool::GpuTensor;
use crate::error::{Error, Result};

const GATHER_ROWS: Kernel = Kernel { name: "gather_rows", source: include_str!("gather_rows.wgsl") };

/// The rows of `table` (V, D) at `ids`, as (1, T, D).
pub(crate) fn gather_rows(gpu: &Gpu, table: &GpuTensor, ids: &[u32]) -> Result<GpuTensor> {
    let &[vocabulary, hidden] = table.shape() else {
        return Err(Error::Internal(format!("gather rows: table shape {:?} is not (V, D)", table.shape())));
    };
    // The kernel indexes without checking, so every id is checked here.
    if let Some(bad) = ids.iter().find(|&&id| id as usize >= vocabulary) {
        return Err(Error::Internal(format!("token id {bad} is outside the vocabulary of {vocabulary}")));
    }
    let id_tensor = gpu.upload(bytemuck::cast_slice(ids), vec![ids.len()])?;
    let out = gpu.tensor(vec![1, ids.len(), hidden])?;
    let params = [to_u32(out.elements())?, to_u32(hidden)?];
    gpu.dispatch(
        &GATHER_ROWS,
        &params,
        &[table.buffer(), id_tensor.buffer(), out.buffer()],
        elementwise_grid(gpu, out.elements())?,
    )?;
    Ok(out)
}
