//! Launcher of the attention backward: attention_backward_rows.wgsl (∂s/∂P, the softmax VJP and
//! d_q, row by row) then attention_backward_columns.wgsl (d_k and d_v, column by column, summed
//! over the query heads of each key/value head).

use super::attention::attention_params;
use super::{Gpu, Kernel};
use crate::backend::webgpu::pool::GpuTensor;
use crate::backend::{AttentionGrads, AttentionShape};
use crate::error::Result;

const ROWS: Kernel = Kernel {
    name: "attention_backward_rows",
    source: concat!(
        include_str!("attention_backward_rows.wgsl"),
        include_str!("attention_shape.wgsl"),
        include_str!("workgroup_reduce.wgsl")
    ),
};
const COLUMNS: Kernel = Kernel {
    name: "attention_backward_columns",
    source: concat!(include_str!("attention_backward_columns.wgsl"), include_str!("attention_shape.wgsl")),
};

/// The gradients for d_out of `shape`'s batch from q, k, v and probabilities of that batch or of
/// batch 1.
pub(crate) fn attention_backward(
    gpu: &Gpu,
    (q, k, v): (&GpuTensor, &GpuTensor, &GpuTensor),
    probs: &GpuTensor,
    d_out: &GpuTensor,
    shape: &AttentionShape,
) -> Result<AttentionGrads<GpuTensor>> {
    let saved = [q, k, v, probs].map(GpuTensor::shape);
    let saved_batch = shape.saved_batch("attention backward", saved, d_out.shape())?;
    let d_probs = gpu.tensor(shape.maps_dims().to_vec())?;
    let d_scores = gpu.tensor(shape.maps_dims().to_vec())?;
    let d_query = gpu.tensor(shape.query_dims().to_vec())?;
    let d_key = gpu.tensor(shape.kv_dims().to_vec())?;
    let d_value = gpu.tensor(shape.kv_dims().to_vec())?;
    let params = attention_params(shape, saved_batch)?;
    let rows =
        [k.buffer(), v.buffer(), probs.buffer(), d_out.buffer(), d_probs.buffer(), d_scores.buffer(), d_query.buffer()];
    gpu.dispatch(&ROWS, &params, &rows, gpu.grid(shape.batch * shape.heads * shape.queries)?)?;
    let columns = [q.buffer(), probs.buffer(), d_scores.buffer(), d_out.buffer(), d_key.buffer(), d_value.buffer()];
    gpu.dispatch(&COLUMNS, &params, &columns, gpu.grid(shape.batch * shape.kv_heads * shape.keys)?)?;
    Ok(AttentionGrads { d_query, d_key, d_value, d_probs })
}
