//! The transformer ops on the CPU: products on gemm (products.rs), attention on strided heads
//! (attention.rs), and row-wise loops over contiguous slices for the rest.

use super::attention as cpu_attention;
use super::products::product;
use super::{
    activations, last_dim, norms, rotary, tensor, token_rows, with_all_values, with_values, with_weight, CpuBackend,
};
use crate::backend::shapes::{
    self, check_positions, check_saved_batch, placed_tokens, replacement_sources, rows_and_width, tokens_shape,
};
use crate::backend::{Activation, AttentionGrads, AttentionShape, Ops, RotaryTables};
use crate::error::{Error, Result};
use crate::loader::{HostTensor, QuantizedMatrix};
use candle_core::{Device, Tensor};

impl Ops for CpuBackend {
    fn linear(&self, x: &Tensor, w: &Tensor, b: Option<&Tensor>) -> Result<Tensor> {
        let (out, inp) = w.dims2()?;
        check_last_dim("linear", x.dims(), inp)?;
        let rows = x.elem_count() / inp.max(1);
        let bias = b.map(|b| with_values(b, <[f32]>::to_vec)).transpose()?;
        let y = with_values(x, |x| with_weight(w, |w| product(x, rows, w.transposed(), bias.as_deref())))???;
        let mut out_dims = x.dims().to_vec();
        *out_dims.last_mut().expect("x has at least one dimension") = out;
        tensor(y, &out_dims)
    }

    /// W stored transposed, (in, out) in memory, and viewed as (out, in). gemm streams a weight
    /// in this layout straight into its AVX-512 kernels, while W as PyTorch stores it is repacked
    /// on every product: on ViT-B/32's layers (50 rows, weights not in cache) a forward product
    /// takes 0.6–0.7× the time. The backward product dy · W already reads W in the fast layout, so W
    /// is kept too, at the cost of a second copy of the dense linear weights. Without AVX-512
    /// both layouts run at the same speed and no copy is made.
    fn linear_forward_copy(&self, w: &HostTensor) -> Result<Option<Tensor>> {
        if !fast_transposed_products() {
            return Ok(None);
        }
        let &[outputs, inputs] = w.shape.as_slice() else {
            return Err(Error::Internal(format!("linear weight of shape {:?} is not (out, in)", w.shape)));
        };
        Ok(Some(tensor(transpose(&w.data, outputs, inputs), &[inputs, outputs])?.t()?))
    }

    fn linear_backward(&self, dy: &Tensor, w: &Tensor) -> Result<Tensor> {
        let (out, inp) = w.dims2()?;
        check_last_dim("linear backward", dy.dims(), out)?;
        let rows = dy.elem_count() / out.max(1);
        let dx = with_values(dy, |dy| with_weight(w, |w| product(dy, rows, w, None)))???;
        let mut in_dims = dy.dims().to_vec();
        *in_dims.last_mut().expect("dy has at least one dimension") = inp;
        tensor(dx, &in_dims)
    }

    /// y = x · dequant(W)ᵀ, one chunk of W's rows (y's columns) at a time, so only a sliver of the
    /// weight is ever in f32. The activations stay f32: candle's quantized kernels round them to
    /// 8-bit blocks first, which alone moved the default model's Chefer maps to ρ 0.973 at q8_0
    /// (docs/QUANTIZATION.md).
    fn quantized_linear(&self, x: &Tensor, w: &QuantizedMatrix, b: Option<&Tensor>) -> Result<Tensor> {
        let (out, inp) = w.shape();
        check_last_dim("quantized linear", x.dims(), inp)?;
        let mut out_dims = x.dims().to_vec();
        let rows = x.elem_count() / inp;
        let x = x.reshape((rows, inp))?;
        let mut columns = Vec::new();
        w.for_each_row_chunk(|_, values| {
            let chunk = Tensor::from_slice(values, (values.len() / inp, inp), &Device::Cpu)?;
            columns.push(x.matmul(&chunk.t()?)?);
            Ok(())
        })?;
        let y = Tensor::cat(&columns, 1)?;
        let y = match b {
            Some(b) => y.broadcast_add(b)?,
            None => y,
        };
        *out_dims.last_mut().expect("x has at least one dimension") = out;
        Ok(y.reshape(out_dims)?)
    }

    /// dx = dy · dequant(W), one chunk of W's rows at a time: dx = Σ_chunks dy[:, rows] · W[rows, :],
    /// so only a sliver of the weight is ever in f32.
    fn quantized_linear_backward(&self, dy: &Tensor, w: &QuantizedMatrix) -> Result<Tensor> {
        let (out, inp) = w.shape();
        check_last_dim("quantized linear backward", dy.dims(), out)?;
        let mut in_dims = dy.dims().to_vec();
        let rows = dy.elem_count() / out;
        let dy = dy.reshape((rows, out))?;
        let mut dx: Option<Tensor> = None;
        w.for_each_row_chunk(|first, values| {
            let count = values.len() / inp;
            let chunk = Tensor::from_slice(values, (count, inp), &Device::Cpu)?;
            let part = dy.narrow(1, first, count)?.contiguous()?.matmul(&chunk)?;
            dx = Some(match dx.take() {
                Some(sum) => (sum + part)?,
                None => part,
            });
            Ok(())
        })?;
        let dx = dx.ok_or_else(|| Error::Internal("a quantized weight with no rows".into()))?;
        *in_dims.last_mut().expect("dy has at least one dimension") = inp;
        Ok(dx.reshape(in_dims)?)
    }

    fn layer_norm(&self, x: &Tensor, gamma: &Tensor, beta: &Tensor, eps: f64) -> Result<Tensor> {
        rows_and_width("layer norm", x.dims(), gamma.elem_count())?;
        rows_and_width("layer norm", x.dims(), beta.elem_count())?;
        let out = with_all_values(&[x, gamma, beta], |t| norms::layer_norm(t[0].data, t[1].data, t[2].data, eps))?;
        tensor(out, x.dims())
    }

    fn layer_norm_backward(&self, x: &Tensor, gamma: &Tensor, dy: &Tensor, eps: f64) -> Result<Tensor> {
        rows_and_width("layer norm backward", x.dims(), gamma.elem_count())?;
        check_saved_batch("layer norm backward", x.dims(), dy.dims())?;
        let dx =
            with_all_values(&[x, gamma, dy], |t| norms::layer_norm_backward(t[0].data, t[1].data, t[2].data, eps))?;
        tensor(dx, dy.dims())
    }

    fn rms_norm(&self, x: &Tensor, w: &Tensor, eps: f64) -> Result<Tensor> {
        rows_and_width("rms norm", x.dims(), w.elem_count())?;
        tensor(with_all_values(&[x, w], |t| norms::rms_norm(t[0].data, t[1].data, eps))?, x.dims())
    }

    fn rms_norm_backward(&self, x: &Tensor, w: &Tensor, dy: &Tensor, eps: f64) -> Result<Tensor> {
        rows_and_width("rms norm backward", x.dims(), w.elem_count())?;
        check_saved_batch("rms norm backward", x.dims(), dy.dims())?;
        let dx = with_all_values(&[x, w, dy], |t| norms::rms_norm_backward(t[0].data, t[1].data, t[2].data, eps))?;
        tensor(dx, dy.dims())
    }

    fn activation(&self, x: &Tensor, act: Activation) -> Result<Tensor> {
        tensor(with_values(x, |x| activations::apply(x, act))?, x.dims())
    }

    fn activation_with_derivative(&self, x: &Tensor, act: Activation) -> Result<(Tensor, Tensor)> {
        let (values, derivatives) = with_values(x, |x| activations::apply_with_derivative(x, act))?;
        Ok((tensor(values, x.dims())?, tensor(derivatives, x.dims())?))
    }

    fn multiply(&self, a: &Tensor, b: &Tensor) -> Result<Tensor> {
        check_saved_batch("multiply", b.dims(), a.dims())?;
        Ok(a.broadcast_mul(b)?)
    }

    fn add(&self, a: &Tensor, b: &Tensor) -> Result<Tensor> {
        Ok((a + b)?)
    }

    fn attention(&self, q: &Tensor, k: &Tensor, v: &Tensor, shape: &AttentionShape) -> Result<(Tensor, Tensor)> {
        shape.check_inputs("attention", q.dims(), k.dims(), v.dims())?;
        let (out, probs) =
            with_all_values(&[q, k, v], |t| cpu_attention::attention(t[0].data, t[1].data, t[2].data, *shape))??;
        Ok((tensor(out, &shape.query_dims())?, tensor(probs, &shape.maps_dims())?))
    }

    fn attention_backward(
        &self,
        q: &Tensor,
        k: &Tensor,
        v: &Tensor,
        probs: &Tensor,
        d_out: &Tensor,
        shape: &AttentionShape,
    ) -> Result<AttentionGrads<Tensor>> {
        let saved = [q, k, v, probs].map(|t| t.dims());
        let saved_batch = shape.saved_batch("attention backward", saved, d_out.dims())?;
        let grads = with_all_values(&[q, k, v, probs, d_out], |t| {
            cpu_attention::attention_backward(
                t[0].data,
                t[1].data,
                t[2].data,
                t[3].data,
                t[4].data,
                *shape,
                saved_batch,
            )
        })??;
        Ok(AttentionGrads {
            d_query: tensor(grads.d_query, &shape.query_dims())?,
            d_key: tensor(grads.d_key, &shape.kv_dims())?,
            d_value: tensor(grads.d_value, &shape.kv_dims())?,
            d_probs: tensor(grads.d_probs, &shape.maps_dims())?,
        })
    }

    fn rotary(&self, x: &Tensor, tables: &RotaryTables<Tensor>, offset: usize) -> Result<Tensor> {
        rotate(x, tables, offset, false, "rotary")
    }

    fn rotary_backward(&self, dy: &Tensor, tables: &RotaryTables<Tensor>, offset: usize) -> Result<Tensor> {
        rotate(dy, tables, offset, true, "rotary backward")
    }

    fn gather_rows(&self, table: &Tensor, ids: &[u32]) -> Result<Tensor> {
        let (vocabulary, _) = table.dims2()?;
        check_positions("gather rows", vocabulary, ids)?;
        let index = Tensor::from_vec(ids.to_vec(), ids.len(), &Device::Cpu)?;
        Ok(table.index_select(&index, 0)?.unsqueeze(0)?)
    }

    fn select_token(&self, x: &Tensor, position: usize) -> Result<Tensor> {
        Ok(x.narrow(1, position, 1)?.squeeze(1)?.contiguous()?)
    }

    fn select_token_backward(&self, dy: &Tensor, position: usize, tokens: usize) -> Result<Tensor> {
        let (batch, hidden) = dy.dims2()?;
        if position >= tokens {
            return Err(Error::Internal(format!("select token backward: position {position} of {tokens} tokens")));
        }
        let mut parts = Vec::with_capacity(3);
        if position > 0 {
            parts.push(Tensor::zeros((batch, position, hidden), dy.dtype(), &Device::Cpu)?);
        }
        parts.push(dy.unsqueeze(1)?);
        if position + 1 < tokens {
            parts.push(Tensor::zeros((batch, tokens - position - 1, hidden), dy.dtype(), &Device::Cpu)?);
        }
        Ok(Tensor::cat(&parts, 1)?)
    }

    fn place_tokens(&self, rows: &Tensor, positions: &[u32], tokens: usize) -> Result<Tensor> {
        let (batch, width) = placed_tokens("place tokens", rows.dims(), positions, tokens)?;
        let out = with_values(rows, |rows| {
            let mut out = vec![0f32; batch * tokens * width];
            for ((row, sequence), &position) in
                rows.chunks_exact(width).zip(out.chunks_exact_mut(tokens * width)).zip(positions)
            {
                let start = position as usize * width;
                sequence[start..start + width].copy_from_slice(row);
            }
            out
        })?;
        tensor(out, &[batch, tokens, width])
    }

    fn select_rows(&self, x: &Tensor, positions: &[u32]) -> Result<Tensor> {
        let (batch, tokens, width) = tokens_shape("select rows", x.dims())?;
        check_positions("select rows", tokens, positions)?;
        let rows = with_values(x, |x| token_rows::select_rows(x, (tokens, width), positions))?;
        tensor(rows, &[batch, positions.len(), width])
    }

    fn replace_rows(&self, x: &Tensor, rows: &Tensor, positions: &[u32]) -> Result<Tensor> {
        let (batch, tokens, width) = tokens_shape("replace rows", x.dims())?;
        let sources = replacement_sources("replace rows", tokens, positions)?;
        if rows.dims() != [batch, positions.len(), width] {
            return Err(Error::Internal(format!(
                "replace rows: rows {:?} for {} positions of {:?}",
                rows.dims(),
                positions.len(),
                x.dims()
            )));
        }
        let out = with_all_values(&[x, rows], |t| {
            token_rows::replace_rows(t[0].data, Some(t[1].data), (tokens, width), &sources, positions.len())
        })?;
        tensor(out, x.dims())
    }

    fn replace_rows_backward(&self, dy: &Tensor, positions: &[u32]) -> Result<(Tensor, Tensor)> {
        let (_, tokens, width) = tokens_shape("replace rows backward", dy.dims())?;
        let sources = replacement_sources("replace rows backward", tokens, positions)?;
        let dx = with_values(dy, |dy| token_rows::replace_rows(dy, None, (tokens, width), &sources, positions.len()))?;
        Ok((tensor(dx, dy.dims())?, self.select_rows(dy, positions)?))
    }

    fn concat_tokens(&self, a: &Tensor, b: &Tensor) -> Result<Tensor> {
        shapes::concatenated(a.dims(), b.dims())?;
        Ok(Tensor::cat(&[a, b], 1)?)
    }
}

/// x (B, T, H·d) rotated from position `offset` (or back, when `transposed`).
fn rotate(x: &Tensor, tables: &RotaryTables<Tensor>, offset: usize, transposed: bool, op: &str) -> Result<Tensor> {
    let (_, tokens) = tables.geometry(op, x.dims(), offset)?;
    let width = last_dim(x);
    let out = with_all_values(&[x, &tables.cos, &tables.sin], |t| {
        rotary::rotate(t[0].data, (t[1].data, t[2].data), tables.head_dim() / 2, (tokens, width), offset, transposed)
    })?;
    tensor(out, x.dims())
}

/// Errors unless the last dimension of `dims` is the weight's `width`.
fn check_last_dim(op: &str, dims: &[usize], width: usize) -> Result<()> {
    if dims.last() != Some(&width) {
        return Err(Error::Internal(format!("{op}: input {dims:?} does not fit a weight of width {width}")));
    }
    Ok(())
}

/// Whether gemm's products read a transposed weight faster than PyTorch's layout: with its
/// AVX-512 kernels (chosen at run time), measured on x86-64; elsewhere unmeasured, so no.
fn fast_transposed_products() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        std::arch::is_x86_feature_detected!("avx512f")
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        false
    }
}

/// (rows, cols) row-major → (cols, rows) row-major, in square blocks that stay in cache.
fn transpose(values: &[f32], rows: usize, cols: usize) -> Vec<f32> {
    const BLOCK: usize = 32;
    let mut out = vec![0f32; values.len()];
    for row_block in (0..rows).step_by(BLOCK) {
        for col_block in (0..cols).step_by(BLOCK) {
            for r in row_block..(row_block + BLOCK).min(rows) {
                for c in col_block..(col_block + BLOCK).min(cols) {
                    out[c * rows + r] = values[r * cols + c];
                }
            }
        }
    }
    out
}
