//! Launcher of the attention backward: attention_backward_rows.wgsl (∂s/∂P, the softmax VJP and
//! d_q, row by row) then attention_backward_columns.wgsl (d_k and d_v, column by column).

use super::{to_u32, AttentionShape, Gpu, Kernel};
use crate::backend::webgpu::pool::GpuTensor;
use crate::backend::AttentionGrads;
use crate::error::Result;

const ROWS: Kernel = Kernel {
    name: "attention_backward_rows",
    source: concat!(include_str!("attention_backward_rows.wgsl"), include_str!("workgroup_reduce.wgsl")),
};
const COLUMNS: Kernel =
    Kernel { name: "attention_backward_columns", source: include_str!("attention_backward_columns.wgsl") };

pub(crate) fn attention_backward(
    gpu: &Gpu,
    (q, k, v): (&GpuTensor, &GpuTensor, &GpuTensor),
    probs: &GpuTensor,
    d_out: &GpuTensor,
    shape: AttentionShape,
) -> Result<AttentionGrads<GpuTensor>> {
    let AttentionShape { batch, tokens, hidden, heads } = shape;
    let d_probs = gpu.tensor(vec![batch, heads, tokens, tokens])?;
    let d_scores = gpu.tensor(vec![batch, heads, tokens, tokens])?;
    let d_query = gpu.tensor(vec![batch, tokens, hidden])?;
    let d_key = gpu.tensor(vec![batch, tokens, hidden])?;
    let d_value = gpu.tensor(vec![batch, tokens, hidden])?;
    let dims = [to_u32(batch)?, to_u32(tokens)?, to_u32(hidden)?, to_u32(heads)?, to_u32(shape.head_dim())?];
    let groups = gpu.grid(batch * heads * tokens)?;
    let mut row_params = dims.to_vec();
    row_params.push(shape.scale().to_bits());
    gpu.dispatch(
        &ROWS,
        &row_params,
        &[
            k.buffer(),
            v.buffer(),
            probs.buffer(),
            d_out.buffer(),
            d_probs.buffer(),
            d_scores.buffer(),
            d_query.buffer(),
        ],
        groups,
    )?;
    gpu.dispatch(
        &COLUMNS,
        &dims,
        &[q.buffer(), probs.buffer(), d_scores.buffer(), d_out.buffer(), d_key.buffer(), d_value.buffer()],
        groups,
    )?;
    Ok(AttentionGrads { d_query, d_key, d_value, d_probs })
}
