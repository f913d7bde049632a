//! The reference backend: candle tensors on the CPU. Matrix products go to candle's gemm (SIMD,
//! multi-threaded natively, wasm SIMD in the browser); the cheap row-wise ops are plain loops over
//! contiguous slices, which keeps their backward passes easy to check against the formulas.

use super::cosine::scaled_cosine_with_gradients;
use super::{copies_shape, occlusion_geometry, patch_spans, AttentionGrads, Backend};
use crate::config::Activation;
use crate::error::{Error, Result};
use crate::loader::{HostTensor, QuantizedMatrix};
use candle_core::{Device, Storage, Tensor};

#[derive(Clone, Copy, Debug, Default)]
pub struct CpuBackend;

/// Runs `f` on the contiguous f32 values of `t` without copying them.
fn with_values<R>(t: &Tensor, f: impl FnOnce(&[f32]) -> R) -> Result<R> {
    let t = t.contiguous()?;
    let (storage, layout) = t.storage_and_layout();
    let Storage::Cpu(cpu) = &*storage else {
        return Err(Error::Backend("the cpu backend got a tensor on another device".into()));
    };
    let all = cpu.as_slice::<f32>()?;
    let (start, end) = layout
        .contiguous_offsets()
        .ok_or_else(|| Error::Backend("tensor is not contiguous after contiguous()".into()))?;
    Ok(f(&all[start..end]))
}

fn tensor(values: Vec<f32>, shape: &[usize]) -> Result<Tensor> {
    Ok(Tensor::from_vec(values, shape, &Device::Cpu)?)
}

fn last_dim(t: &Tensor) -> usize {
    t.dims().last().copied().unwrap_or(1)
}

/// (B, T, H·d) → (B·H, T, d), contiguous.
fn split_heads(x: &Tensor, heads: usize) -> Result<Tensor> {
    let (b, t, d) = x.dims3()?;
    Ok(x.reshape((b, t, heads, d / heads))?.transpose(1, 2)?.contiguous()?.reshape((b * heads, t, d / heads))?)
}

/// (B·H, T, d) → (B, T, H·d).
fn merge_heads(x: &Tensor, batch: usize, heads: usize) -> Result<Tensor> {
    let (_, t, d) = x.dims3()?;
    Ok(x.reshape((batch, heads, t, d))?.transpose(1, 2)?.contiguous()?.reshape((batch, t, heads * d))?)
}

fn sigmoid(x: f32) -> f32 {
    1.0 / (1.0 + (-x).exp())
}

/// Constants of GELU and of CLIP's quick approximation.
const QUICK_GELU_ALPHA: f32 = 1.702;
const SQRT_2_OVER_PI: f32 = 0.797_884_6;
const GELU_TANH_CUBIC: f32 = 0.044_715;
const INV_SQRT_2: f32 = std::f32::consts::FRAC_1_SQRT_2;

fn activate(x: f32, act: Activation) -> f32 {
    match act {
        Activation::QuickGelu => x * sigmoid(QUICK_GELU_ALPHA * x),
        Activation::Gelu => 0.5 * x * (1.0 + erf(x * INV_SQRT_2)),
        Activation::GeluTanh => 0.5 * x * (1.0 + (SQRT_2_OVER_PI * (x + GELU_TANH_CUBIC * x * x * x)).tanh()),
    }
}

/// (act(x), act'(x)) sharing the one transcendental each needs.
fn activate_with_derivative(x: f32, act: Activation) -> (f32, f32) {
    match act {
        Activation::QuickGelu => {
            let s = sigmoid(QUICK_GELU_ALPHA * x);
            (x * s, s * (1.0 + QUICK_GELU_ALPHA * x * (1.0 - s)))
        }
        Activation::Gelu => {
            let cdf = 0.5 * (1.0 + erf(x * INV_SQRT_2));
            let pdf = (-0.5 * x * x).exp() * INV_SQRT_2 / std::f32::consts::PI.sqrt();
            (x * cdf, cdf + x * pdf)
        }
        Activation::GeluTanh => {
            let t = (SQRT_2_OVER_PI * (x + GELU_TANH_CUBIC * x * x * x)).tanh();
            let d_inner = SQRT_2_OVER_PI * (1.0 + 3.0 * GELU_TANH_CUBIC * x * x);
            (0.5 * x * (1.0 + t), 0.5 * (1.0 + t) + 0.5 * x * (1.0 - t * t) * d_inner)
        }
    }
}

/// erf in f64 (Abramowitz–Stegun 7.1.26 is too coarse for a 2e-3 parity budget after many layers),
/// via the complementary error function's continued-fraction-free series of W. J. Cody's rational
/// approximations as implemented by libm.
fn erf(x: f32) -> f32 {
    libm_erf(x as f64) as f32
}

fn libm_erf(x: f64) -> f64 {
    // std has no erf; this is the classic Numerical Recipes erfc with relative error < 1.2e-7.
    let z = x.abs();
    let t = 1.0 / (1.0 + 0.5 * z);
    let poly = -z * z - 1.265_512_23
        + t * (1.000_023_68
            + t * (0.374_091_96
                + t * (0.096_784_18
                    + t * (-0.186_288_06
                        + t * (0.278_868_07
                            + t * (-1.135_203_98 + t * (1.488_515_87 + t * (-0.822_152_23 + t * 0.170_872_77))))))));
    let erfc = t * poly.exp();
    if x >= 0.0 {
        1.0 - erfc
    } else {
        erfc - 1.0
    }
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

    fn linear(&self, x: &Tensor, w: &Tensor, b: Option<&Tensor>) -> Result<Tensor> {
        let dims = x.dims().to_vec();
        let (out, inp) = w.dims2()?;
        let rows = x.elem_count() / inp;
        let y = x.reshape((rows, inp))?.matmul(&w.t()?)?;
        let y = match b {
            Some(b) => y.broadcast_add(b)?,
            None => y,
        };
        let mut out_dims = dims;
        *out_dims.last_mut().expect("x has at least one dimension") = out;
        Ok(y.reshape(out_dims)?)
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
        let dims = dy.dims().to_vec();
        let (out, inp) = w.dims2()?;
        let rows = dy.elem_count() / out;
        let dx = dy.reshape((rows, out))?.matmul(w)?;
        let mut in_dims = dims;
        *in_dims.last_mut().expect("dy has at least one dimension") = inp;
        Ok(dx.reshape(in_dims)?)
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
        let out = with_values(x, |x| x.iter().map(|v| activate(*v, act)).collect())?;
        tensor(out, x.dims())
    }

    fn activation_with_derivative(&self, x: &Tensor, act: Activation) -> Result<(Tensor, Tensor)> {
        let (values, derivatives): (Vec<f32>, Vec<f32>) =
            with_values(x, |x| x.iter().map(|v| activate_with_derivative(*v, act)).unzip())?;
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
        let scale = 1.0 / ((hidden / heads) as f64).sqrt();
        let (qh, kh, vh) = (split_heads(q, heads)?, split_heads(k, heads)?, split_heads(v, heads)?);
        let scores = (qh.matmul(&kh.t()?)? * scale)?;
        let probs = with_values(&scores, |s| {
            let mut p = vec![0f32; s.len()];
            for (i, (row, out)) in s.chunks_exact(tokens).zip(p.chunks_exact_mut(tokens)).enumerate() {
                let visible = if causal { i % tokens + 1 } else { tokens };
                softmax_row(&row[..visible], &mut out[..visible]);
            }
            p
        })?;
        let probs = tensor(probs, &[batch * heads, tokens, tokens])?;
        let out = merge_heads(&probs.matmul(&vh)?, batch, heads)?;
        Ok((out, probs.reshape((batch, heads, tokens, tokens))?))
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
        let scale = 1.0 / ((hidden / heads) as f64).sqrt();
        let (qh, kh, vh) = (split_heads(q, heads)?, split_heads(k, heads)?, split_heads(v, heads)?);
        let d_outh = split_heads(d_out, heads)?;
        let p = probs.reshape((batch * heads, tokens, tokens))?;
        let d_probs = d_outh.matmul(&vh.t()?)?;
        let d_value = p.t()?.matmul(&d_outh)?;
        // Softmax VJP, row by row: dS = P ⊙ (dP − Σ_j dP_j P_j).
        let d_scores = with_values(&p, |p| {
            with_values(&d_probs, |dp| {
                let mut ds = vec![0f32; p.len()];
                for ((p_row, dp_row), ds_row) in
                    p.chunks_exact(tokens).zip(dp.chunks_exact(tokens)).zip(ds.chunks_exact_mut(tokens))
                {
                    let dot: f32 = p_row.iter().zip(dp_row).map(|(a, b)| a * b).sum();
                    for j in 0..tokens {
                        ds_row[j] = p_row[j] * (dp_row[j] - dot);
                    }
                }
                ds
            })
        })??;
        let d_scores = (tensor(d_scores, &[batch * heads, tokens, tokens])? * scale)?;
        let d_query = d_scores.matmul(&kh)?;
        let d_key = d_scores.t()?.matmul(&qh)?;
        Ok(AttentionGrads {
            d_query: merge_heads(&d_query, batch, heads)?,
            d_key: merge_heads(&d_key, batch, heads)?,
            d_value: merge_heads(&d_value, batch, heads)?,
            d_probs: d_probs.reshape((batch, heads, tokens, tokens))?,
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

fn softmax_row(scores: &[f32], out: &mut [f32]) {
    let max = scores.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    let mut total = 0f32;
    for (o, s) in out.iter_mut().zip(scores) {
        *o = (s - max).exp();
        total += *o;
    }
    for o in out.iter_mut() {
        *o /= total;
    }
}
