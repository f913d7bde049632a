//! The reference backend: candle tensors on the CPU. Matrix products go to gemm (SIMD,
//! multi-threaded natively, wasm SIMD in the browser), called directly for linear layers and
//! attention (cpu_products.rs, cpu_attention.rs); the cheap row-wise ops are plain loops over
//! contiguous slices, which keeps their backward passes easy to check against the formulas.

use super::activations;
use super::cosine::scaled_cosine_with_gradients;
use super::cpu_attention::{self, HeadsShape};
use super::cpu_products::{product, StridedMatrix};
use super::{copies_shape, occlusion_geometry, patch_spans, AttentionGrads, Backend};
use crate::config::Activation;
use crate::error::{Error, Result};
use crate::loader::{HostTensor, HostView, QuantizedMatrix};
use candle_core::{Device, Layout, Storage, Tensor};

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
        return Err(Error::Backend(format!("a weight with strides {:?}", layout.stride())));
    };
    Ok(f(StridedMatrix { values, rows, cols, row_stride, col_stride }))
}

/// The values a contiguous tensor's `layout` covers in `storage`.
fn values_in<'a>(storage: &'a Storage, layout: &Layout) -> Result<&'a [f32]> {
    let all = all_values(storage)?;
    let (start, end) = layout
        .contiguous_offsets()
        .ok_or_else(|| Error::Backend("tensor is not contiguous after contiguous()".into()))?;
    Ok(&all[start..end])
}

/// Every f32 value of a CPU storage, whichever tensors view it.
fn all_values(storage: &Storage) -> Result<&[f32]> {
    let Storage::Cpu(cpu) = storage else {
        return Err(Error::Backend("the cpu backend got a tensor on another device".into()));
    };
    Ok(cpu.as_slice::<f32>()?)
}

fn tensor(values: Vec<f32>, shape: &[usize]) -> Result<Tensor> {
    Ok(Tensor::from_vec(values, shape, &Device::Cpu)?)
}

fn last_dim(t: &Tensor) -> usize {
    t.dims().last().copied().unwrap_or(1)
}

impl Backend for CpuBackend {
    type Tensor = Tensor;

    fn name(&self) -> &'static str {
        "cpu"
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

    fn linear(&self, x: &Tensor, w: &Tensor, b: Option<&Tensor>) -> Result<Tensor> {
        let (out, inp) = w.dims2()?;
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
            return Err(Error::Backend(format!("linear weight of shape {:?} is not (out, in)", w.shape)));
        };
        Ok(Some(tensor(transpose(&w.data, outputs, inputs), &[inputs, outputs])?.t()?))
    }

    fn linear_backward(&self, dy: &Tensor, w: &Tensor) -> Result<Tensor> {
        let (out, inp) = w.dims2()?;
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
        let dx = dx.ok_or_else(|| Error::Backend("a quantized weight with no rows".into()))?;
        *in_dims.last_mut().expect("dy has at least one dimension") = inp;
        Ok(dx.reshape(in_dims)?)
    }

    fn layer_norm(&self, x: &Tensor, gamma: &Tensor, beta: &Tensor, eps: f64) -> Result<Tensor> {
        let d = last_dim(x);
        let gamma = with_values(gamma, |v| v.to_vec())?;
        let beta = with_values(beta, |v| v.to_vec())?;
        let out = with_values(x, |x| {
            let mut out = vec![0f32; x.len()];
            for (row, out_row) in x.chunks_exact(d).zip(out.chunks_exact_mut(d)) {
                let (mean, rstd) = row_statistics(row, eps);
                for i in 0..d {
                    out_row[i] = (row[i] - mean) * rstd * gamma[i] + beta[i];
                }
            }
            out
        })?;
        tensor(out, x.dims())
    }

    fn layer_norm_backward(&self, x: &Tensor, gamma: &Tensor, dy: &Tensor, eps: f64) -> Result<Tensor> {
        let d = last_dim(x);
        let gamma = with_values(gamma, |v| v.to_vec())?;
        let dy = with_values(dy, |v| v.to_vec())?;
        let out = with_values(x, |x| {
            let mut dx = vec![0f32; x.len()];
            for ((row, dy_row), dx_row) in x.chunks_exact(d).zip(dy.chunks_exact(d)).zip(dx.chunks_exact_mut(d)) {
                let (mean, rstd) = row_statistics(row, eps);
                // dx = rstd · (g − mean(g) − x̂ · mean(g ⊙ x̂)), g = dy ⊙ γ.
                let (mut mean_g, mut mean_gx) = (0f32, 0f32);
                for i in 0..d {
                    let g = dy_row[i] * gamma[i];
                    mean_g += g;
                    mean_gx += g * (row[i] - mean) * rstd;
                }
                mean_g /= d as f32;
                mean_gx /= d as f32;
                for i in 0..d {
                    let xhat = (row[i] - mean) * rstd;
                    dx_row[i] = rstd * (dy_row[i] * gamma[i] - mean_g - xhat * mean_gx);
                }
            }
            dx
        })?;
        tensor(out, x.dims())
    }

    fn activation(&self, x: &Tensor, act: Activation) -> Result<Tensor> {
        tensor(with_values(x, |x| activations::apply(x, act))?, x.dims())
    }

    fn activation_with_derivative(&self, x: &Tensor, act: Activation) -> Result<(Tensor, Tensor)> {
        let (values, derivatives) = with_values(x, |x| activations::apply_with_derivative(x, act))?;
        Ok((tensor(values, x.dims())?, tensor(derivatives, x.dims())?))
    }

    fn multiply(&self, a: &Tensor, b: &Tensor) -> Result<Tensor> {
        Ok((a * b)?)
    }

    fn add(&self, a: &Tensor, b: &Tensor) -> Result<Tensor> {
        Ok((a + b)?)
    }

    fn attention(&self, q: &Tensor, k: &Tensor, v: &Tensor, heads: usize, causal: bool) -> Result<(Tensor, Tensor)> {
        let (batch, tokens, hidden) = q.dims3()?;
        let shape = HeadsShape::new(batch, tokens, hidden, heads)?;
        let (out, probs) =
            with_all_values(&[q, k, v], |t| cpu_attention::attention(t[0].data, t[1].data, t[2].data, shape, causal))??;
        Ok((tensor(out, &[batch, tokens, hidden])?, tensor(probs, &[batch, heads, tokens, tokens])?))
    }

    fn attention_backward(
        &self,
        q: &Tensor,
        k: &Tensor,
        v: &Tensor,
        probs: &Tensor,
        d_out: &Tensor,
        heads: usize,
    ) -> Result<AttentionGrads<Tensor>> {
        let (batch, tokens, hidden) = q.dims3()?;
        let shape = HeadsShape::new(batch, tokens, hidden, heads)?;
        let grads = with_all_values(&[q, k, v, probs, d_out], |t| {
            cpu_attention::attention_backward(t[0].data, t[1].data, t[2].data, t[3].data, t[4].data, shape)
        })??;
        let activations = |values| tensor(values, &[batch, tokens, hidden]);
        Ok(AttentionGrads {
            d_query: activations(grads.d_query)?,
            d_key: activations(grads.d_key)?,
            d_value: activations(grads.d_value)?,
            d_probs: tensor(grads.d_probs, &[batch, heads, tokens, tokens])?,
        })
    }

    fn patch_embed(&self, pixels: &Tensor, w: &Tensor, patch: usize) -> Result<Tensor> {
        let (batch, channels, size, _) = pixels.dims4()?;
        let hidden = w.dims()[0];
        let side = size / patch;
        let patch_len = channels * patch * patch;
        let patches = with_values(pixels, |px| {
            let mut out = vec![0f32; batch * side * side * patch_len];
            for b in 0..batch {
                for (n, chunk) in out[b * side * side * patch_len..(b + 1) * side * side * patch_len]
                    .chunks_exact_mut(patch_len)
                    .enumerate()
                {
                    let (row, col) = (n / side, n % side);
                    for c in 0..channels {
                        for ky in 0..patch {
                            let src = ((b * channels + c) * size + row * patch + ky) * size + col * patch;
                            let dst = (c * patch + ky) * patch;
                            chunk[dst..dst + patch].copy_from_slice(&px[src..src + patch]);
                        }
                    }
                }
            }
            out
        })?;
        let patches = tensor(patches, &[batch * side * side, patch_len])?;
        let w = w.reshape((hidden, patch_len))?;
        Ok(patches.matmul(&w.t()?)?.reshape((batch, side * side, hidden))?)
    }

    fn patch_embed_backward(&self, d_patches: &Tensor, w: &Tensor, patch: usize, image_size: usize) -> Result<Tensor> {
        let (batch, patches, hidden) = d_patches.dims3()?;
        let channels = w.elem_count() / (hidden * patch * patch);
        let patch_len = channels * patch * patch;
        let side = image_size / patch;
        let d_flat = d_patches.reshape((batch * patches, hidden))?.matmul(&w.reshape((hidden, patch_len))?)?;
        let out = with_values(&d_flat, |d| {
            let mut px = vec![0f32; batch * channels * image_size * image_size];
            for b in 0..batch {
                for n in 0..patches {
                    let chunk = &d[(b * patches + n) * patch_len..(b * patches + n + 1) * patch_len];
                    let (row, col) = (n / side, n % side);
                    for c in 0..channels {
                        for ky in 0..patch {
                            let dst = ((b * channels + c) * image_size + row * patch + ky) * image_size + col * patch;
                            let src = (c * patch + ky) * patch;
                            px[dst..dst + patch].copy_from_slice(&chunk[src..src + patch]);
                        }
                    }
                }
            }
            px
        })?;
        tensor(out, &[batch, channels, image_size, image_size])
    }

    fn prepend_class(&self, patches: &Tensor, class: &Tensor) -> Result<Tensor> {
        let (batch, _, hidden) = patches.dims3()?;
        let class = class.reshape((1, 1, hidden))?.broadcast_as((batch, 1, hidden))?;
        Ok(Tensor::cat(&[&class, patches], 1)?)
    }

    fn add_positions(&self, x: &Tensor, positions: &Tensor) -> Result<Tensor> {
        let tokens = x.dims()[1];
        Ok(x.broadcast_add(&positions.narrow(0, 0, tokens)?)?)
    }

    fn gather_rows(&self, table: &Tensor, ids: &[u32]) -> Result<Tensor> {
        let index = Tensor::from_vec(ids.to_vec(), ids.len(), &Device::Cpu)?;
        Ok(table.index_select(&index, 0)?.unsqueeze(0)?)
    }

    fn select_token(&self, x: &Tensor, position: usize) -> Result<Tensor> {
        Ok(x.narrow(1, position, 1)?.squeeze(1)?.contiguous()?)
    }

    fn select_token_backward(&self, dy: &Tensor, position: usize, tokens: usize) -> Result<Tensor> {
        let (batch, hidden) = dy.dims2()?;
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

    fn drop_first_token(&self, x: &Tensor) -> Result<Tensor> {
        let tokens = x.dims()[1];
        Ok(x.narrow(1, 1, tokens - 1)?.contiguous()?)
    }

    fn scaled_copies(&self, x: &Tensor, factors: &[f32]) -> Result<Tensor> {
        let shape = copies_shape(x.dims(), factors.len(), "scaled copies")?;
        let values = with_values(x, |v| factors.iter().flat_map(|f| v.iter().map(move |x| f * x)).collect())?;
        tensor(values, &shape)
    }

    fn occluded_copies(&self, x: &Tensor, first: usize, count: usize, patch: usize) -> Result<Tensor> {
        let (size, grid) = occlusion_geometry(x.dims(), first, count, patch)?;
        let values = with_values(x, |v| {
            let mut all = Vec::with_capacity(count * v.len());
            for index in first..first + count {
                let mut copy = v.to_vec();
                for span in patch_spans(size, patch, grid, index) {
                    copy[span].fill(0.0);
                }
                all.extend(copy);
            }
            all
        })?;
        tensor(values, &copies_shape(x.dims(), count, "occluded copies")?)
    }

    fn scaled_cosine_with_gradients(&self, image: &Tensor, text: &Tensor, multiplier: f32) -> Result<(Tensor, Tensor)> {
        let (rows, width) = image.dims2()?;
        let text = with_values(text, <[f32]>::to_vec)?;
        if text.len() != width {
            return Err(Error::Backend(format!("scaled cosine: image {:?} vs text of {}", image.dims(), text.len())));
        }
        let (scores, gradients): (Vec<f32>, Vec<Vec<f32>>) = with_values(image, |v| {
            v.chunks_exact(width.max(1))
                .map(|u| {
                    let s = scaled_cosine_with_gradients(multiplier, u, &text);
                    (s.score, s.d_image)
                })
                .unzip()
        })?;
        Ok((tensor(scores, &[rows])?, tensor(gradients.concat(), &[rows, width])?))
    }

    fn sum_batch(&self, x: &Tensor, absolute: bool, total: Option<&Tensor>) -> Result<Tensor> {
        let Some((_, rest)) = x.dims().split_first() else {
            return Err(Error::Backend("sum over the batch: a tensor without dimensions".into()));
        };
        let count: usize = rest.iter().product();
        let mut sum = match total {
            Some(t) if t.elem_count() == count => with_values(t, <[f32]>::to_vec)?,
            Some(t) => {
                return Err(Error::Backend(format!("sum over the batch: total {:?} for {:?}", t.dims(), x.dims())))
            }
            None => vec![0f32; count],
        };
        with_values(x, |v| {
            for item in v.chunks_exact(count.max(1)) {
                for (s, value) in sum.iter_mut().zip(item) {
                    *s += if absolute { value.abs() } else { *value };
                }
            }
        })?;
        tensor(sum, rest)
    }
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

/// Mean and 1/σ of one row, accumulated in f64 so long rows stay exact to f32 precision.
fn row_statistics(row: &[f32], eps: f64) -> (f32, f32) {
    let n = row.len() as f64;
    let mean = row.iter().map(|v| *v as f64).sum::<f64>() / n;
    let var = row.iter().map(|v| (*v as f64 - mean).powi(2)).sum::<f64>() / n;
    (mean as f32, (1.0 / (var + eps).sqrt()) as f32)
}
