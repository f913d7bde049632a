//! Layer norm and RMSNorm on the CPU, row by row over contiguous slices. Each row's statistics
//! are accumulated in f64 so long rows stay exact to f32 precision; the backward passes recompute
//! them from x rather than keeping them from the forward. The backward passes read x row by row
//! cyclically, so an x of one batch element serves a gradient of K (`Ops`' saved-batch rule).

/// (x − mean) / √(var + eps) · γ + β for every row of `gamma.len()` values.
pub(super) fn layer_norm(x: &[f32], gamma: &[f32], beta: &[f32], eps: f64) -> Vec<f32> {
    let d = gamma.len();
    let mut out = vec![0f32; x.len()];
    for (row, out_row) in x.chunks_exact(d).zip(out.chunks_exact_mut(d)) {
        let (mean, rstd) = row_statistics(row, eps);
        for i in 0..d {
            out_row[i] = (row[i] - mean) * rstd * gamma[i] + beta[i];
        }
    }
    out
}

/// dx = rstd · (g − mean(g) − x̂ · mean(g ⊙ x̂)), g = dy ⊙ γ, x̂ = (x − mean) · rstd.
pub(super) fn layer_norm_backward(x: &[f32], gamma: &[f32], dy: &[f32], eps: f64) -> Vec<f32> {
    let d = gamma.len();
    let mut dx = vec![0f32; dy.len()];
    for ((row, dy_row), dx_row) in x.chunks_exact(d).cycle().zip(dy.chunks_exact(d)).zip(dx.chunks_exact_mut(d)) {
        let (mean, rstd) = row_statistics(row, eps);
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
}

/// x / √(mean(x²) + eps) · w for every row of `w.len()` values.
pub(super) fn rms_norm(x: &[f32], w: &[f32], eps: f64) -> Vec<f32> {
    let d = w.len();
    let mut out = vec![0f32; x.len()];
    for (row, out_row) in x.chunks_exact(d).zip(out.chunks_exact_mut(d)) {
        let r = inverse_rms(row, eps);
        for i in 0..d {
            out_row[i] = row[i] * r * w[i];
        }
    }
    out
}

/// dx = r · (g − x̂ · mean(g ⊙ x̂)), g = dy ⊙ w, x̂ = x · r, r = 1 / √(mean(x²) + eps): the layer
/// norm's VJP without the centring terms.
pub(super) fn rms_norm_backward(x: &[f32], w: &[f32], dy: &[f32], eps: f64) -> Vec<f32> {
    let d = w.len();
    let mut dx = vec![0f32; dy.len()];
    for ((row, dy_row), dx_row) in x.chunks_exact(d).cycle().zip(dy.chunks_exact(d)).zip(dx.chunks_exact_mut(d)) {
        let r = inverse_rms(row, eps);
        let mut mean_gx = 0f32;
        for i in 0..d {
            mean_gx += dy_row[i] * w[i] * row[i] * r;
        }
        mean_gx /= d as f32;
        for i in 0..d {
            dx_row[i] = r * (dy_row[i] * w[i] - row[i] * r * mean_gx);
        }
    }
    dx
}

/// Mean and 1/σ of one row.
fn row_statistics(row: &[f32], eps: f64) -> (f32, f32) {
    let n = row.len() as f64;
    let mean = row.iter().map(|v| *v as f64).sum::<f64>() / n;
    let var = row.iter().map(|v| (*v as f64 - mean).powi(2)).sum::<f64>() / n;
    (mean as f32, (1.0 / (var + eps).sqrt()) as f32)
}

/// 1 / √(mean(x²) + eps) of one row.
fn inverse_rms(row: &[f32], eps: f64) -> f32 {
    let mean_square = row.iter().map(|v| (*v as f64).powi(2)).sum::<f64>() / row.len() as f64;
    (1.0 / (mean_square + eps).sqrt()) as f32
}
