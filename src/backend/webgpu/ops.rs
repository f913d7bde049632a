//! The transformer ops as WGSL kernels: one launcher per kernel in kernels/.

use super::kernels::{self, matmul::Operand};
use super::{GpuTensor, WebGpuBackend};
use crate::backend::{Activation, AttentionGrads, AttentionShape, Ops, RotaryTables, TensorStore};
use crate::error::{Error, Result};
use crate::loader::QuantizedMatrix;

impl Ops for WebGpuBackend {
    fn linear(&self, x: &GpuTensor, w: &GpuTensor, b: Option<&GpuTensor>) -> Result<GpuTensor> {
        let &[outputs, inputs] = w.shape() else {
            return Err(Error::Internal(format!("linear: weight shape {:?} is not (out, in)", w.shape())));
        };
        self.linear_product(x, Operand::Dense(w), (outputs, inputs), b)
    }

    fn linear_backward(&self, dy: &GpuTensor, w: &GpuTensor) -> Result<GpuTensor> {
        let &[outputs, inputs] = w.shape() else {
            return Err(Error::Internal(format!("linear backward: weight shape {:?} is not (out, in)", w.shape())));
        };
        self.linear_backward_product(dy, Operand::Dense(w), (outputs, inputs))
    }

    fn quantized_linear(&self, x: &GpuTensor, w: &QuantizedMatrix, b: Option<&GpuTensor>) -> Result<GpuTensor> {
        match self.packed.get(&self.gpu, w)? {
            Some(packed) => self.linear_product(x, Operand::Quantized(&packed), w.shape(), b),
            None => self.linear(x, &self.upload(&w.dequantize()?)?, b),
        }
    }

    fn quantized_linear_backward(&self, dy: &GpuTensor, w: &QuantizedMatrix) -> Result<GpuTensor> {
        match self.packed.get(&self.gpu, w)? {
            Some(packed) => self.linear_backward_product(dy, Operand::Quantized(&packed), w.shape()),
            None => self.linear_backward(dy, &self.upload(&w.dequantize()?)?),
        }
    }

    fn layer_norm(&self, x: &GpuTensor, gamma: &GpuTensor, beta: &GpuTensor, eps: f64) -> Result<GpuTensor> {
        kernels::layer_norm(&self.gpu, x, gamma, beta, eps)
    }

    fn layer_norm_backward(&self, x: &GpuTensor, gamma: &GpuTensor, dy: &GpuTensor, eps: f64) -> Result<GpuTensor> {
        kernels::layer_norm_backward(&self.gpu, x, gamma, dy, eps)
    }

    fn rms_norm(&self, x: &GpuTensor, w: &GpuTensor, eps: f64) -> Result<GpuTensor> {
        kernels::rms_norm(&self.gpu, x, w, eps)
    }

    fn rms_norm_backward(&self, x: &GpuTensor, w: &GpuTensor, dy: &GpuTensor, eps: f64) -> Result<GpuTensor> {
        kernels::rms_norm_backward(&self.gpu, x, w, dy, eps)
    }

    fn activation(&self, x: &GpuTensor, act: Activation) -> Result<GpuTensor> {
        Ok(kernels::activation(&self.gpu, x, act, false)?.0)
    }

    fn activation_with_derivative(&self, x: &GpuTensor, act: Activation) -> Result<(GpuTensor, GpuTensor)> {
        match kernels::activation(&self.gpu, x, act, true)? {
            (y, Some(derivative)) => Ok((y, derivative)),
            (_, None) => Err(Error::Internal("the activation kernel did not produce its derivative".into())),
        }
    }

    fn multiply(&self, a: &GpuTensor, b: &GpuTensor) -> Result<GpuTensor> {
        kernels::multiply(&self.gpu, a, b)
    }

    fn add(&self, a: &GpuTensor, b: &GpuTensor) -> Result<GpuTensor> {
        kernels::add(&self.gpu, a, b)
    }

    fn attention(
        &self,
        q: &GpuTensor,
        k: &GpuTensor,
        v: &GpuTensor,
        shape: &AttentionShape,
    ) -> Result<(GpuTensor, GpuTensor)> {
        shape.check_inputs("attention", q.shape(), k.shape(), v.shape())?;
        kernels::attention(&self.gpu, q, k, v, shape)
    }

    fn attention_backward(
        &self,
        q: &GpuTensor,
        k: &GpuTensor,
        v: &GpuTensor,
        probs: &GpuTensor,
        d_out: &GpuTensor,
        shape: &AttentionShape,
    ) -> Result<AttentionGrads<GpuTensor>> {
        kernels::attention_backward(&self.gpu, (q, k, v), probs, d_out, shape)
    }

    fn rotary(&self, x: &GpuTensor, tables: &RotaryTables<GpuTensor>, offset: usize) -> Result<GpuTensor> {
        kernels::rotary(&self.gpu, x, tables, offset, false)
    }

    fn rotary_backward(&self, dy: &GpuTensor, tables: &RotaryTables<GpuTensor>, offset: usize) -> Result<GpuTensor> {
        kernels::rotary(&self.gpu, dy, tables, offset, true)
    }

    fn gather_rows(&self, table: &GpuTensor, ids: &[u32]) -> Result<GpuTensor> {
        kernels::gather_rows(&self.gpu, table, ids)
    }

    fn select_token(&self, x: &GpuTensor, position: usize) -> Result<GpuTensor> {
        kernels::select_token(&self.gpu, x, position)
    }

    fn select_token_backward(&self, dy: &GpuTensor, position: usize, tokens: usize) -> Result<GpuTensor> {
        kernels::select_token_backward(&self.gpu, dy, position, tokens)
    }

    fn place_tokens(&self, rows: &GpuTensor, positions: &[u32], tokens: usize) -> Result<GpuTensor> {
        kernels::place_tokens(&self.gpu, rows, positions, tokens)
    }

    fn select_rows(&self, x: &GpuTensor, positions: &[u32]) -> Result<GpuTensor> {
        kernels::select_rows(&self.gpu, x, positions)
    }

    fn replace_rows(&self, x: &GpuTensor, rows: &GpuTensor, positions: &[u32]) -> Result<GpuTensor> {
        kernels::replace_rows(&self.gpu, x, Some(rows), positions)
    }

    fn replace_rows_backward(&self, dy: &GpuTensor, positions: &[u32]) -> Result<(GpuTensor, GpuTensor)> {
        Ok((kernels::replace_rows(&self.gpu, dy, None, positions)?, kernels::select_rows(&self.gpu, dy, positions)?))
    }

    fn concat_tokens(&self, a: &GpuTensor, b: &GpuTensor) -> Result<GpuTensor> {
        kernels::concat_tokens(&self.gpu, a, b)
    }
}
