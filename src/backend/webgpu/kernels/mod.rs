//! One launcher per WGSL kernel, each beside its `.wgsl` file. A launcher checks shapes (the
//! kernels index without bounds on their inputs' sizes), allocates the outputs and records the
//! dispatch; nothing here waits for the GPU.

mod activation;
mod add;
mod add_positions;
mod attention;
mod attention_backward;
mod batched_inputs;
mod chefer;
mod drop_first_token;
mod gather_rows;
mod layer_norm;
mod layer_norm_backward;
pub(crate) mod matmul;
mod multiply;
mod patch_embed;
mod prepend_class;
mod rms_norm;
mod rollout;
mod rotary;
mod scaled_cosine;
mod select_token;
mod select_token_backward;
mod sum_batch;
mod token_gradcam;
mod token_rows;

pub(crate) use activation::activation;
pub(crate) use add::add;
pub(crate) use add_positions::add_positions;
pub(crate) use attention::attention;
pub(crate) use attention_backward::attention_backward;
pub(crate) use batched_inputs::{occluded_copies, scaled_copies};
pub(crate) use chefer::chefer_row;
pub(crate) use drop_first_token::drop_first_token;
pub(crate) use gather_rows::gather_rows;
pub(crate) use layer_norm::layer_norm;
pub(crate) use layer_norm_backward::layer_norm_backward;
pub(crate) use multiply::multiply;
pub(crate) use patch_embed::{patch_embed, patch_embed_backward};
pub(crate) use prepend_class::prepend_class;
pub(crate) use rms_norm::{rms_norm, rms_norm_backward};
pub(crate) use rollout::{attention_row, rollout_row};
pub(crate) use rotary::rotary;
pub(crate) use scaled_cosine::scaled_cosine_with_gradients;
pub(crate) use select_token::select_token;
pub(crate) use select_token_backward::select_token_backward;
pub(crate) use sum_batch::sum_batch;
pub(crate) use token_gradcam::token_gradcam;
pub(crate) use token_rows::{concat_tokens, place_tokens, replace_rows, select_rows};

use super::device::Gpu;
use super::pipelines::Kernel;
use super::pool::GpuTensor;
use crate::error::{Error, Result};

/// Threads per workgroup of the elementwise kernels.
const ELEMENTWISE_THREADS: usize = 256;

fn elementwise_grid(gpu: &Gpu, count: usize) -> Result<[u32; 3]> {
    gpu.grid(count.div_ceil(ELEMENTWISE_THREADS))
}

/// Kernels index with u32; a size beyond it is refused rather than wrapped.
fn to_u32(value: usize) -> Result<u32> {
    u32::try_from(value).map_err(|_| Error::Device(format!("size {value} exceeds what a GPU kernel can index")))
}

fn same_shape(a: &GpuTensor, b: &GpuTensor, op: &str) -> Result<()> {
    if a.shape() != b.shape() {
        return Err(Error::Internal(format!("{op}: shapes {:?} and {:?} differ", a.shape(), b.shape())));
    }
    Ok(())
}

/// (heads, tokens) of per-layer attention maps (B, H, T, T), all of one shape.
fn attention_maps_shape(maps: &[&GpuTensor], op: &str) -> Result<(usize, usize)> {
    let first = maps.first().ok_or_else(|| Error::Internal(format!("{op}: no layers")))?;
    let &[_, heads, tokens, columns] = first.shape() else {
        return Err(Error::Internal(format!("{op}: maps of shape {:?} are not (B, H, T, T)", first.shape())));
    };
    if tokens != columns || heads == 0 || maps.iter().any(|m| m.shape() != first.shape()) {
        return Err(Error::Internal(format!("{op}: maps must all be (B, H, T, T), first is {:?}", first.shape())));
    }
    Ok((heads, tokens))
}

/// The one-hot row e_row (T) on the device, where a relevance row starts before the layers.
fn unit_row(gpu: &Gpu, tokens: usize, row: usize) -> Result<GpuTensor> {
    let mut unit = vec![0f32; tokens];
    unit[row] = 1.0;
    gpu.upload(bytemuck::cast_slice(&unit), vec![tokens])
}
