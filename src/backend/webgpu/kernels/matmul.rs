//! Launcher of the tiled matrix product: matmul_tiles.wgsl behind one of two operand readers,
//! f32 (matmul_dense.wgsl) or quantized codes expanded as they are read (matmul_quantized.wgsl).

use super::{to_u32, Gpu, Kernel};
use crate::backend::webgpu::device::MAX_DISPATCH_MULTIPLY_ADDS;
use crate::backend::webgpu::pool::GpuTensor;
use crate::backend::webgpu::quantized::PackedMatrix;
use crate::error::Result;

const DENSE: Kernel = Kernel {
    name: "matmul_dense",
    source: concat!(include_str!("matmul_dense.wgsl"), include_str!("matmul_tiles.wgsl")),
};
const QUANTIZED: Kernel = Kernel {
    name: "matmul_quantized",
    source: concat!(include_str!("matmul_quantized.wgsl"), include_str!("matmul_tiles.wgsl")),
};
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

/// The right-hand operand.
#[derive(Clone, Copy)]
pub(crate) enum Operand<'a> {
    Dense(&'a GpuTensor),
    Quantized(&'a PackedMatrix),
}

/// a (rows, inner) · b → (rows, cols) with `shape` as the result's shape.
pub(crate) fn matmul(
    gpu: &Gpu,
    a: &GpuTensor,
    b: Operand,
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
        let mut params = vec![
            to_u32(rows)?,
            to_u32(cols)?,
            to_u32(inner)?,
            to_u32(row_offset)?,
            (layout == Layout::Transposed) as u32,
            bias.is_some() as u32,
        ];
        let groups = [to_u32(cols.div_ceil(BLOCK))?, to_u32(rows_here.div_ceil(BLOCK))?, 1];
        match b {
            Operand::Dense(b) => {
                gpu.dispatch(&DENSE, &params, &[a.buffer(), b.buffer(), bias_buffer, c.buffer()], groups)?
            }
            Operand::Quantized(w) => {
                params.extend([w.bits, w.zero]);
                let buffers = [a.buffer(), w.codes.buffer(), w.scales.buffer(), bias_buffer, c.buffer()];
                gpu.dispatch(&QUANTIZED, &params, &buffers, groups)?
            }
        }
    }
    Ok(c)
}
