//! Naive f64 references of the ops, written from the definitions (loops, no shortcuts), against
//! which the CPU backend's forward is checked and whose central differences check its VJPs.

use super::Exact;
use sightline::backend::{Activation, AttentionShape};

pub fn linear(x: &Exact, w: &Exact, bias: Option<&Exact>) -> Exact {
    let (outputs, inputs) = (w.shape[0], w.shape[1]);
    let rows = x.data.len() / inputs;
    let mut data = Vec::with_capacity(rows * outputs);
    for r in 0..rows {
        for o in 0..outputs {
            let dot: f64 = (0..inputs).map(|i| x.data[r * inputs + i] * w.data[o * inputs + i]).sum();
            data.push(dot + bias.map_or(0.0, |b| b.data[o]));
        }
    }
    Exact::new(with_last(&x.shape, outputs), data)
}

pub fn layer_norm(x: &Exact, gamma: &Exact, beta: &Exact, eps: f64) -> Exact {
    let d = gamma.data.len();
    let data = x
        .data
        .chunks(d)
        .flat_map(|row| {
            let mean = row.iter().sum::<f64>() / d as f64;
            let var = row.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / d as f64;
            (0..d).map(move |i| (row[i] - mean) / (var + eps).sqrt() * gamma.data[i] + beta.data[i])
        })
        .collect();
    Exact::new(x.shape.clone(), data)
}

pub fn rms_norm(x: &Exact, w: &Exact, eps: f64) -> Exact {
    let d = w.data.len();
    let data = x
        .data
        .chunks(d)
        .flat_map(|row| {
            let mean_square = row.iter().map(|v| v * v).sum::<f64>() / d as f64;
            (0..d).map(move |i| row[i] / (mean_square + eps).sqrt() * w.data[i])
        })
        .collect();
    Exact::new(x.shape.clone(), data)
}

pub fn activation(x: &Exact, act: Activation) -> Exact {
    let sigmoid = |v: f64| 1.0 / (1.0 + (-v).exp());
    let f = |v: f64| match act {
        Activation::QuickGelu => v * sigmoid(1.702 * v),
        Activation::Gelu => 0.5 * v * (1.0 + erf(v / std::f64::consts::SQRT_2)),
        Activation::GeluTanh => {
            0.5 * v * (1.0 + ((2.0 / std::f64::consts::PI).sqrt() * (v + 0.044715 * v.powi(3))).tanh())
        }
        Activation::Silu => v * sigmoid(v),
    };
    Exact::new(x.shape.clone(), x.data.iter().map(|&v| f(v)).collect())
}

/// erf to f64 precision: its Taylor series near 0, the continued fraction of erfc beyond.
pub fn erf(x: f64) -> f64 {
    let z = x.abs();
    let value = if z < 2.5 {
        let (mut term, mut sum, mut n) = (z, z, 0.0);
        while term.abs() > 1e-17 * sum.abs() {
            n += 1.0;
            term *= -z * z / n;
            sum += term / (2.0 * n + 1.0);
        }
        sum * 2.0 / std::f64::consts::PI.sqrt()
    } else {
        let fraction = (1..=200).rev().fold(z, |tail, n| z + n as f64 / 2.0 / tail);
        1.0 - (-z * z).exp() / (std::f64::consts::PI.sqrt() * fraction)
    };
    value.copysign(x)
}

/// a ⊙ b, b of a's shape or a batch of one of it.
pub fn multiply(a: &Exact, b: &Exact) -> Exact {
    let n = b.data.len();
    Exact::new(a.shape.clone(), a.data.iter().enumerate().map(|(i, v)| v * b.data[i % n]).collect())
}

pub fn add(a: &Exact, b: &Exact) -> Exact {
    Exact::new(a.shape.clone(), a.data.iter().zip(&b.data).map(|(x, y)| x + y).collect())
}

/// (output, probabilities) of softmax(q·kᵀ/√d) · v per head, masked entries 0.
pub fn attention(q: &Exact, k: &Exact, v: &Exact, s: &AttentionShape) -> (Exact, Exact) {
    let d = s.head_dim;
    let scale = 1.0 / (d as f64).sqrt();
    let (mut out, mut probs) = (vec![0f64; s.query_len()], vec![0f64; s.maps_len()]);
    let query = |b: usize, i: usize, h: usize| (b * s.queries + i) * s.query_width() + h * d;
    let key = |b: usize, j: usize, h: usize| (b * s.keys + j) * s.kv_width() + s.kv_head(h) * d;
    for b in 0..s.batch {
        for h in 0..s.heads {
            for i in 0..s.queries {
                let visible = s.visible(i);
                let scores: Vec<f64> = (0..visible)
                    .map(|j| (0..d).map(|c| q.data[query(b, i, h) + c] * k.data[key(b, j, h) + c]).sum::<f64>() * scale)
                    .collect();
                let max = scores.iter().copied().fold(f64::NEG_INFINITY, f64::max);
                let total: f64 = scores.iter().map(|x| (x - max).exp()).sum();
                let row = ((b * s.heads + h) * s.queries + i) * s.keys;
                for j in 0..visible {
                    probs[row + j] = (scores[j] - max).exp() / total;
                }
                for c in 0..d {
                    out[query(b, i, h) + c] = (0..visible).map(|j| probs[row + j] * v.data[key(b, j, h) + c]).sum();
                }
            }
        }
    }
    (Exact::new(s.query_dims().to_vec(), out), Exact::new(s.maps_dims().to_vec(), probs))
}

/// The output P·v per head for given probabilities P (B, H, Tq, Tk): what attention's gradient
/// with respect to its probabilities differentiates.
pub fn weighted_values(probs: &Exact, v: &Exact, s: &AttentionShape) -> Exact {
    let d = s.head_dim;
    let mut out = vec![0f64; s.query_len()];
    for b in 0..s.batch {
        for h in 0..s.heads {
            for i in 0..s.queries {
                let row = ((b * s.heads + h) * s.queries + i) * s.keys;
                for c in 0..d {
                    out[(b * s.queries + i) * s.query_width() + h * d + c] = (0..s.keys)
                        .map(|j| probs.data[row + j] * v.data[(b * s.keys + j) * s.kv_width() + s.kv_head(h) * d + c])
                        .sum();
                }
            }
        }
    }
    Exact::new(s.query_dims().to_vec(), out)
}

/// Llama's rotate-half: x·cos + rotate_half(x)·sin per head, cos and sin (P, d/2) repeated over
/// both halves, token t at position offset + t.
pub fn rotary(x: &Exact, cos: &Exact, sin: &Exact, offset: usize) -> Exact {
    let half = cos.shape[1];
    let (tokens, width) = (x.shape[1], x.shape[2]);
    let mut out = vec![0f64; x.data.len()];
    for (r, row) in x.data.chunks(width).enumerate() {
        let angle = (offset + r % tokens) * half;
        for head in (0..width).step_by(2 * half) {
            for c in 0..2 * half {
                let rotated_half = if c < half { -row[head + c + half] } else { row[head + c - half] };
                let (cos, sin) = (cos.data[angle + c % half], sin.data[angle + c % half]);
                out[r * width + head + c] = row[head + c] * cos + rotated_half * sin;
            }
        }
    }
    Exact::new(x.shape.clone(), out)
}

/// pixels (B, C, S, S) convolved with w (D, C, P, P) at stride P → (B, N, D).
pub fn patch_embed(pixels: &Exact, w: &Exact, patch: usize) -> Exact {
    let (batch, channels, size) = (pixels.shape[0], pixels.shape[1], pixels.shape[2]);
    let (hidden, side) = (w.shape[0], size / patch);
    let mut out = Vec::with_capacity(batch * side * side * hidden);
    for b in 0..batch {
        for n in 0..side * side {
            let (row, col) = (n / side, n % side);
            for o in 0..hidden {
                let mut sum = 0.0;
                for c in 0..channels {
                    for ky in 0..patch {
                        for kx in 0..patch {
                            let pixel = ((b * channels + c) * size + row * patch + ky) * size + col * patch + kx;
                            sum += pixels.data[pixel] * w.data[((o * channels + c) * patch + ky) * patch + kx];
                        }
                    }
                }
                out.push(sum);
            }
        }
    }
    Exact::new(vec![batch, side * side, hidden], out)
}

/// The rows of x (B, T, D) at `positions` → (B, N, D).
pub fn select_rows(x: &Exact, positions: &[usize]) -> Exact {
    let (batch, tokens, width) = (x.shape[0], x.shape[1], x.shape[2]);
    let mut out = Vec::with_capacity(batch * positions.len() * width);
    for b in 0..batch {
        for &p in positions {
            out.extend_from_slice(&x.data[(b * tokens + p) * width..(b * tokens + p + 1) * width]);
        }
    }
    Exact::new(vec![batch, positions.len(), width], out)
}

/// x (B, T, D) with the token at positions[n] replaced by rows (B, N, D)[:, n].
pub fn replace_rows(x: &Exact, rows: &Exact, positions: &[usize]) -> Exact {
    let (tokens, width, count) = (x.shape[1], x.shape[2], positions.len());
    let mut out = x.data.clone();
    for b in 0..x.shape[0] {
        for (n, &p) in positions.iter().enumerate() {
            let source = &rows.data[(b * count + n) * width..(b * count + n + 1) * width];
            out[(b * tokens + p) * width..(b * tokens + p + 1) * width].copy_from_slice(source);
        }
    }
    Exact::new(x.shape.clone(), out)
}

/// a (B, T1, W) then b (B, T2, W) along the tokens.
pub fn concat_tokens(a: &Exact, b: &Exact) -> Exact {
    let (batch, width) = (a.shape[0], a.shape[2]);
    let per = |t: &Exact| t.shape[1] * width;
    let data = (0..batch)
        .flat_map(|i| a.data[i * per(a)..(i + 1) * per(a)].iter().chain(&b.data[i * per(b)..(i + 1) * per(b)]))
        .copied()
        .collect();
    Exact::new(vec![batch, a.shape[1] + b.shape[1], width], data)
}

/// (B, N, D) → (B, N + 1, D) with `class` (D) first.
pub fn prepend_class(patches: &Exact, class: &Exact) -> Exact {
    let class_row = Exact::new(vec![patches.shape[0], 1, class.data.len()], class.data.repeat(patches.shape[0]));
    concat_tokens(&class_row, patches)
}

/// x (B, T, D) plus the first T rows of `positions`.
pub fn add_positions(x: &Exact, positions: &Exact) -> Exact {
    let n = x.shape[1] * x.shape[2];
    Exact::new(x.shape.clone(), x.data.iter().enumerate().map(|(i, v)| v + positions.data[i % n]).collect())
}

/// x (B, T, D) → (B, T − 1, D).
pub fn drop_first_token(x: &Exact) -> Exact {
    let rest: Vec<usize> = (1..x.shape[1]).collect();
    select_rows(x, &rest)
}

/// x (B, T, D) → (B, D).
pub fn select_token(x: &Exact, position: usize) -> Exact {
    let rows = select_rows(x, &[position]);
    Exact::new(vec![x.shape[0], x.shape[2]], rows.data)
}

/// The rows of `table` (V, D) at `ids` → (1, T, D).
pub fn gather_rows(table: &Exact, ids: &[usize]) -> Exact {
    let width = table.shape[1];
    let data = ids.iter().flat_map(|&id| table.data[id * width..(id + 1) * width].iter().copied()).collect();
    Exact::new(vec![1, ids.len(), width], data)
}

/// x (1, ...) → (F, ...), copy k = factors[k] · x.
pub fn scaled_copies(x: &Exact, factors: &[f64]) -> Exact {
    let data = factors.iter().flat_map(|f| x.data.iter().map(move |v| f * v)).collect();
    Exact::new(with_batch(&x.shape, factors.len()), data)
}

/// x (1, 3, S, S) → (count, 3, S, S), copy k with patch first + k of the P-pixel grid zeroed.
pub fn occluded_copies(x: &Exact, first: usize, count: usize, patch: usize) -> Exact {
    let size = x.shape[2];
    let side = size / patch;
    let mut data = Vec::with_capacity(count * x.data.len());
    for index in first..first + count {
        let (row, col) = (index / side, index % side);
        data.extend(x.data.iter().enumerate().map(|(i, v)| {
            let (y, x) = ((i / size) % size, i % size);
            let inside = y / patch == row && x / patch == col && y < side * patch && x < side * patch;
            if inside {
                0.0
            } else {
                *v
            }
        }));
    }
    Exact::new(with_batch(&x.shape, count), data)
}

/// total + Σ_b x[b] (or of |x[b]|).
pub fn sum_batch(x: &Exact, absolute: bool, total: Option<&Exact>) -> Exact {
    let n = x.data.len() / x.shape[0];
    let mut sum = total.map_or(vec![0.0; n], |t| t.data.clone());
    for (i, v) in x.data.iter().enumerate() {
        sum[i % n] += if absolute { v.abs() } else { *v };
    }
    Exact::new(x.shape[1..].to_vec(), sum)
}

/// c · cos(u_b, v) for each row u_b of `image` (B, E) and `text` (E).
pub fn scaled_cosines(image: &Exact, text: &Exact, multiplier: f64) -> Exact {
    let norm = |v: &[f64]| v.iter().map(|x| x * x).sum::<f64>().sqrt();
    let width = text.data.len();
    let scores = image
        .data
        .chunks(width)
        .map(|u| multiplier * u.iter().zip(&text.data).map(|(a, b)| a * b).sum::<f64>() / (norm(u) * norm(&text.data)))
        .collect();
    Exact::new(vec![image.shape[0]], scores)
}

fn with_last(shape: &[usize], last: usize) -> Vec<usize> {
    let mut shape = shape.to_vec();
    *shape.last_mut().expect("a shape with dimensions") = last;
    shape
}

fn with_batch(shape: &[usize], batch: usize) -> Vec<usize> {
    [&[batch], &shape[1..]].concat()
}

/// rows (B, D) → (B, T, D): row b at token positions[b], zero elsewhere.
pub fn place_tokens(rows: &Exact, positions: &[usize], tokens: usize) -> Exact {
    let width = rows.shape[1];
    let mut data = vec![0f64; positions.len() * tokens * width];
    for (b, &position) in positions.iter().enumerate() {
        let start = (b * tokens + position) * width;
        data[start..start + width].copy_from_slice(&rows.data[b * width..(b + 1) * width]);
    }
    Exact::new(vec![positions.len(), tokens, width], data)
}

/// Batch element `index` of x (B, ...), as (1, ...).
pub fn batch_element(x: &Exact, index: usize) -> Exact {
    let size: usize = x.shape[1..].iter().product();
    Exact::new([&[1], &x.shape[1..]].concat(), x.data[index * size..(index + 1) * size].to_vec())
}
