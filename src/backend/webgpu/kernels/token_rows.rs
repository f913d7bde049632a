//! Launchers of the decoder's token rows: select_rows.wgsl (the rows at given positions),
//! replace_rows.wgsl (rows put in place of others, or zeroed for the VJP), place_tokens.wgsl (each
//! batch element's row at its own token) and concat_tokens.wgsl
//! (a key/value cache with the new step appended).

use super::{elementwise_grid, to_u32, Gpu, Kernel};
use crate::backend::shapes::{check_positions, concatenated, placed_tokens, replacement_sources, tokens_shape};
use crate::backend::webgpu::pool::GpuTensor;
use crate::error::{Error, Result};

const SELECT_ROWS: Kernel = Kernel { name: "select_rows", source: include_str!("select_rows.wgsl") };
const REPLACE_ROWS: Kernel = Kernel { name: "replace_rows", source: include_str!("replace_rows.wgsl") };
const PLACE_TOKENS: Kernel = Kernel { name: "place_tokens", source: include_str!("place_tokens.wgsl") };
const CONCAT_TOKENS: Kernel = Kernel { name: "concat_tokens", source: include_str!("concat_tokens.wgsl") };

/// x (B, T, D) → (B, N, D), the tokens at `positions`.
pub(crate) fn select_rows(gpu: &Gpu, x: &GpuTensor, positions: &[u32]) -> Result<GpuTensor> {
    let (batch, tokens, hidden) = tokens_shape("select rows", x.shape())?;
    // The kernel indexes without checking, so every position is checked here.
    check_positions("select rows", tokens, positions)?;
    let positions_on_device = gpu.upload(bytemuck::cast_slice(positions), vec![positions.len()])?;
    let out = gpu.tensor(vec![batch, positions.len(), hidden])?;
    let params = [to_u32(out.elements())?, to_u32(tokens)?, to_u32(hidden)?, to_u32(positions.len())?];
    let buffers = [x.buffer(), positions_on_device.buffer(), out.buffer()];
    gpu.dispatch(&SELECT_ROWS, &params, &buffers, elementwise_grid(gpu, out.elements())?)?;
    Ok(out)
}

/// rows (B, D) → (B, T, D): row b at token positions[b] of batch element b, zero elsewhere.
pub(crate) fn place_tokens(gpu: &Gpu, rows: &GpuTensor, positions: &[u32], tokens: usize) -> Result<GpuTensor> {
    // The kernel indexes without checking, so every position is checked here.
    let (batch, hidden) = placed_tokens("place tokens", rows.shape(), positions, tokens)?;
    let positions_on_device = gpu.upload(bytemuck::cast_slice(positions), vec![positions.len()])?;
    let out = gpu.tensor(vec![batch, tokens, hidden])?;
    let params = [to_u32(out.elements())?, to_u32(tokens)?, to_u32(hidden)?];
    let buffers = [rows.buffer(), positions_on_device.buffer(), out.buffer()];
    gpu.dispatch(&PLACE_TOKENS, &params, &buffers, elementwise_grid(gpu, out.elements())?)?;
    Ok(out)
}

/// x (B, T, D) with the token at positions[n] replaced by rows[:, n] (rows (B, N, D)), or by
/// zeros when `rows` is `None`.
pub(crate) fn replace_rows(gpu: &Gpu, x: &GpuTensor, rows: Option<&GpuTensor>, positions: &[u32]) -> Result<GpuTensor> {
    let op = if rows.is_some() { "replace rows" } else { "replace rows backward" };
    let (batch, tokens, hidden) = tokens_shape(op, x.shape())?;
    let sources = replacement_sources(op, tokens, positions)?;
    if let Some(rows) = rows.filter(|r| r.shape() != [batch, positions.len(), hidden]) {
        return Err(Error::Internal(format!(
            "{op}: rows {:?} for {} positions of {:?}",
            rows.shape(),
            positions.len(),
            x.shape()
        )));
    }
    let sources_on_device = gpu.upload(bytemuck::cast_slice(&sources), vec![tokens])?;
    let out = gpu.tensor(x.shape().to_vec())?;
    let params = [
        to_u32(out.elements())?,
        to_u32(tokens)?,
        to_u32(hidden)?,
        to_u32(positions.len())?,
        u32::from(rows.is_none()),
    ];
    let rows_buffer = rows.map_or(gpu.placeholder(), GpuTensor::buffer);
    let buffers = [x.buffer(), rows_buffer, sources_on_device.buffer(), out.buffer()];
    gpu.dispatch(&REPLACE_ROWS, &params, &buffers, elementwise_grid(gpu, out.elements())?)?;
    Ok(out)
}

/// a (B, T1, W), b (B, T2, W) → (B, T1 + T2, W).
pub(crate) fn concat_tokens(gpu: &Gpu, a: &GpuTensor, b: &GpuTensor) -> Result<GpuTensor> {
    let shape = concatenated(a.shape(), b.shape())?;
    let out = gpu.tensor(shape.to_vec())?;
    let params = [to_u32(out.elements())?, to_u32(a.shape()[1])?, to_u32(b.shape()[1])?, to_u32(shape[2])?];
    gpu.dispatch(
        &CONCAT_TOKENS,
        &params,
        &[a.buffer(), b.buffer(), out.buffer()],
        elementwise_grid(gpu, out.elements())?,
    )?;
    Ok(out)
}
