//! Attention-based relevance: raw attention, rollout (Abnar & Zuidema 2020,
//! <https://arxiv.org/abs/2005.00928>) and Chefer et al.'s gradient-weighted relevance propagation
//! for generic attention models (2021, <https://arxiv.org/abs/2103.15679>). Only one row of each
//! product is ever needed (the CLS or pooled token), so products are taken as a row vector times
//! matrices: O(L·T²) instead of O(L·T³).

pub use crate::backend::HeadFusion;
use crate::loader::HostView;

/// One batch element's attention of one layer, (H, T, T), out of a (B, H, T, T) tensor.
fn heads_of<'a>(probs: &HostView<'a>, batch_index: usize) -> (usize, usize, &'a [f32]) {
    let (heads, tokens) = (probs.shape[1], probs.shape[2]);
    let size = heads * tokens * tokens;
    (heads, tokens, &probs.data[batch_index * size..(batch_index + 1) * size])
}

/// (H, T, T) → (T, T) combined over heads.
fn fuse(heads: usize, tokens: usize, values: &[f32], fusion: HeadFusion) -> Vec<f32> {
    let n = tokens * tokens;
    (0..n)
        .map(|i| {
            let per_head = (0..heads).map(|h| values[h * n + i]);
            match fusion {
                HeadFusion::Mean => per_head.sum::<f32>() / heads as f32,
                HeadFusion::Max => per_head.fold(f32::NEG_INFINITY, f32::max),
                HeadFusion::Min => per_head.fold(f32::INFINITY, f32::min),
            }
        })
        .collect()
}

/// r · M for a row vector r (T) and a matrix M (T, T).
fn row_times(row: &[f32], matrix: &[f32]) -> Vec<f32> {
    let tokens = row.len();
    let mut out = vec![0f64; tokens];
    for (i, r) in row.iter().enumerate() {
        if *r == 0.0 {
            continue;
        }
        for (o, m) in out.iter_mut().zip(&matrix[i * tokens..(i + 1) * tokens]) {
            *o += *r as f64 * *m as f64;
        }
    }
    out.into_iter().map(|v| v as f32).collect()
}

fn unit_row(tokens: usize, index: usize) -> Vec<f32> {
    let mut row = vec![0f32; tokens];
    row[index] = 1.0;
    row
}

/// Row `row` of the last layer's attention, averaged over heads (all T columns).
pub fn last_layer_attention(last: &HostView, row: usize) -> Vec<f32> {
    let (heads, tokens, values) = heads_of(last, 0);
    let fused = fuse(heads, tokens, values, HeadFusion::Mean);
    fused[row * tokens..(row + 1) * tokens].to_vec()
}

/// How many of a fused map's `entries` the discard `ratio` zeroes (rounded down).
pub fn discarded_entries(entries: usize, ratio: f32) -> usize {
    (entries as f32 * ratio) as usize
}

/// Zeroes the `count` smallest entries of the fused map, sparing entry 0 (CLS→CLS), as the
/// reference implementation (jacobgil/vit-explain) does.
fn discard_lowest(fused: &mut [f32], count: usize) {
    if count == 0 {
        return;
    }
    let mut order: Vec<usize> = (0..fused.len()).collect();
    order.sort_by(|a, b| fused[*a].total_cmp(&fused[*b]).then(a.cmp(b)));
    for index in order.into_iter().take(count).filter(|i| *i != 0) {
        fused[index] = 0.0;
    }
}

/// Row `row` of R = Â_L ⋯ Â_1, Â_l = rows-normalized(0.5 · fuse(A_l) + 0.5 · I), with the
/// `discard` smallest entries of each fused map zeroed (see [`discarded_entries`]).
pub fn rollout(layers: &[HostView], row: usize, fusion: HeadFusion, discard: usize) -> Vec<f32> {
    let tokens = layers[0].shape[2];
    let mut r = unit_row(tokens, row);
    for probs in layers.iter().rev() {
        let (heads, _, values) = heads_of(probs, 0);
        let mut a = fuse(heads, tokens, values, fusion);
        discard_lowest(&mut a, discard);
        // The halves cancel in the normalization: rows-normalized(A + I).
        for (i, a_row) in a.chunks_exact_mut(tokens).enumerate() {
            a_row[i] += 1.0;
            let total: f32 = a_row.iter().sum();
            for v in a_row.iter_mut() {
                *v /= total;
            }
        }
        r = row_times(&r, &a);
    }
    r
}

/// Row `row` of R after R ← R + mean_h(ReLU(∂s/∂A_l ⊙ A_l)) · R for l = 1..L, from R = I.
pub fn chefer(layers: &[HostView], grads: &[HostView], row: usize) -> Vec<f32> {
    chefer_from(layers, grads, unit_row(layers[0].shape[2], row))
}

/// `start` · (I + cam_L) ⋯ (I + cam_1), cam_l = mean_h(ReLU(∂s/∂A_l ⊙ A_l)): [`chefer`] from
/// any row vector.
pub fn chefer_from(layers: &[HostView], grads: &[HostView], start: Vec<f32>) -> Vec<f32> {
    let tokens = start.len();
    let mut r = start;
    for (probs, grad) in layers.iter().zip(grads).rev() {
        let (heads, _, a) = heads_of(probs, 0);
        let (_, _, g) = heads_of(grad, 0);
        let weighted: Vec<f32> = a.iter().zip(g).map(|(a, g)| (a * g).max(0.0)).collect();
        let cam = fuse(heads, tokens, &weighted, HeadFusion::Mean);
        let propagated = row_times(&r, &cam);
        for (ri, p) in r.iter_mut().zip(propagated) {
            *ri += p;
        }
    }
    r
}

/// Grad-CAM on tokens: w = mean over `weight_tokens` of ∂s/∂h; score_t = ReLU(Σ_c w_c · h_tc).
pub fn token_gradcam(hidden: &HostView, gradient: &HostView, weight_tokens: std::ops::Range<usize>) -> Vec<f32> {
    let (tokens, channels) = (hidden.shape[1], hidden.shape[2]);
    let mut weights = vec![0f64; channels];
    for t in weight_tokens.clone() {
        for (w, g) in weights.iter_mut().zip(&gradient.data[t * channels..(t + 1) * channels]) {
            *w += *g as f64;
        }
    }
    let count = weight_tokens.len() as f64;
    (0..tokens)
        .map(|t| {
            let dot: f64 = hidden.data[t * channels..(t + 1) * channels]
                .iter()
                .zip(&weights)
                .map(|(h, w)| *h as f64 * w / count)
                .sum();
            dot.max(0.0) as f32
        })
        .collect()
}
