//! Launcher of the tiled matrix product (matmul.wgsl).

use super::{to_u32, Gpu, Kernel};
use crate::backend::webgpu::device::MAX_DISPATCH_MULTIPLY_ADDS;
use crate::backend::webgpu::pool::GpuTensor;
use crate::error::Result;

const MATMUL: Kernel = Kernel { name: "matmul", source: include_str!("matmul.wgsl") };
/// Rows and columns of C per workgroup.
const BLOCK: usize = 64;

/// How B is stored.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Layout {
    /// (cols, inner): C = A · Bᵀ, as a linear layer applies its (out, in) weight.
    Transposed,
    /// (inner, cols): C = A · B.
    Plain,
}

/// a (rows, inner) · b → (rows, cols) with `shape` as the result's shape.
pub(crate) fn matmul(
    gpu: &Gpu,
    a: &GpuTensor,
    b: &GpuTensor,
    bias: Option<&GpuTensor>,
    (rows, inner, cols): (usize, usize, usize),
    layout: Layout,
    shape: Vec<usize>,
) -> Result<GpuTensor> {
    let c = gpu.tensor(shape)?;
    // Whole 64-row blocks per dispatch, as many as keep one dispatch under the work cap.
    let work_per_block = (BLOCK * cols.max(1) * inner.max(1)) as u64;
    let blocks_per_dispatch = (MAX_DISPATCH_MULTIPLY_ADDS / work_per_block).max(1) as usize;
    let rows_per_dispatch = blocks_per_dispatch * BLOCK;
    let bias_buffer = bias.map(GpuTensor::buffer).unwrap_or(gpu.placeholder());
    for row_offset in (0..rows).step_by(rows_per_dispatch) {
        let rows_here = rows_per_dispatch.min(rows - row_offset);
        let params = [
            to_u32(rows)?,
            to_u32(cols)?,
            to_u32(inner)?,
            to_u32(row_offset)?,
            (layout == Layout::Transposed) as u32,
            bias.is_some() as u32,
        ];
        let groups = [to_u32(cols.div_ceil(BLOCK))?, to_u32(rows_here.div_ceil(BLOCK))?, 1];
        gpu.dispatch(&MATMUL, &params, &[a.buffer(), b.buffer(), bias_buffer, c.buffer()], groups)?;
    }
    Ok(c)
}
