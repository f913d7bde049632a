//! The reference backend: candle tensors on the CPU. Matrix products go to gemm (SIMD,
//! multi-threaded natively, wasm SIMD in the browser), called directly for linear layers and
//! attention (products.rs, attention.rs); the cheap row-wise ops are plain loops over
//! contiguous slices, which keeps their backward passes easy to check against the formulas.
//! One file per part of the vocabulary: ops.rs, vision.rs, batch.rs (with the scores); the loops
//! of the row-wise ops in norms.rs, rotary.rs, token_rows.rs and activations.rs.

mod activations;
mod attention;
mod batch;
mod norms;
mod ops;
mod products;
mod rotary;
mod token_rows;
mod vector_exp;
mod vision;

use super::shapes::check_reshape;
use super::{RelevanceOps, TensorStore};
use crate::error::{Error, Result};
use crate::loader::{HostTensor, HostView};
use candle_core::{Device, Layout, Storage, Tensor};
use products::StridedMatrix;

#[derive(Clone, Copy, Debug, Default)]
pub struct CpuBackend;

/// Runs `f` on the contiguous f32 values of `t` without copying them.
fn with_values<R>(t: &Tensor, f: impl FnOnce(&[f32]) -> R) -> Result<R> {
    let t = t.contiguous()?;
    let (storage, layout) = t.storage_and_layout();
    Ok(f(values_in(&storage, layout)?))
}

/// Runs `f` on the contiguous values of every tensor, read in place.
fn with_all_values<R>(tensors: &[&Tensor], f: impl FnOnce(&[HostView]) -> R) -> Result<R> {
    let contiguous = tensors.iter().map(|t| t.contiguous()).collect::<candle_core::Result<Vec<_>>>()?;
    let storages: Vec<_> = contiguous.iter().map(|t| t.storage_and_layout()).collect();
    let views = storages
        .iter()
        .zip(&contiguous)
        .map(|((storage, layout), t)| Ok(HostView { data: values_in(storage, layout)?, shape: t.dims() }))
        .collect::<Result<Vec<_>>>()?;
    Ok(f(&views))
}

/// Runs `f` on a weight (out, in), contiguous or a transposed view of a contiguous (in, out), read
/// in place through its strides.
fn with_weight<R>(w: &Tensor, f: impl FnOnce(StridedMatrix) -> R) -> Result<R> {
    let (rows, cols) = w.dims2()?;
    let (storage, layout) = w.storage_and_layout();
    let values = &all_values(&storage)?[layout.start_offset()..];
    let &[row_stride, col_stride] = layout.stride() else {
        return Err(Error::Internal(format!("a weight with strides {:?}", layout.stride())));
    };
    Ok(f(StridedMatrix { values, rows, cols, row_stride, col_stride }))
}

/// The values a contiguous tensor's `layout` covers in `storage`.
fn values_in<'a>(storage: &'a Storage, layout: &Layout) -> Result<&'a [f32]> {
    let all = all_values(storage)?;
    let (start, end) = layout
        .contiguous_offsets()
        .ok_or_else(|| Error::Internal("tensor is not contiguous after contiguous()".into()))?;
    Ok(&all[start..end])
}

/// Every f32 value of a CPU storage, whichever tensors view it.
fn all_values(storage: &Storage) -> Result<&[f32]> {
    let Storage::Cpu(cpu) = storage else {
        return Err(Error::Internal("the cpu backend got a tensor on another device".into()));
    };
    Ok(cpu.as_slice::<f32>()?)
}

fn tensor(values: Vec<f32>, shape: &[usize]) -> Result<Tensor> {
    Ok(Tensor::from_vec(values, shape, &Device::Cpu)?)
}

fn last_dim(t: &Tensor) -> usize {
    t.dims().last().copied().unwrap_or(1)
}

impl TensorStore for CpuBackend {
    type Tensor = Tensor;

    fn name(&self) -> &'static str {
        "cpu"
    }

    fn dims<'t>(&self, t: &'t Tensor) -> &'t [usize] {
        t.dims()
    }

    fn reshape(&self, t: &Tensor, dims: &[usize]) -> Result<Tensor> {
        check_reshape(t.dims(), dims)?;
        Ok(t.reshape(dims)?)
    }

    fn upload(&self, t: &HostTensor) -> Result<Tensor> {
        tensor(t.data.clone(), &t.shape)
    }

    fn download(&self, t: &Tensor) -> Result<HostTensor> {
        let data = with_values(t, |v| v.to_vec())?;
        Ok(HostTensor::new(data, t.dims().to_vec()))
    }

    fn with_host_views<R>(&self, tensors: &[&Tensor], f: &mut dyn FnMut(&[HostView]) -> R) -> Result<Option<R>> {
        with_all_values(tensors, f).map(Some)
    }
}

/// The relevance rows are computed on the host, reading this backend's maps in place.
impl RelevanceOps for CpuBackend {}
