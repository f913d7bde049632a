//! Multi-head attention and its backward pass on the CPU, on host slices. Each head's products
//! read and write that head's columns of the (B, T, H·d) activations in place through strides,
//! so there are no per-head copies; the softmax scale is folded into the exponent and into the
//! VJP, so the scores are never scaled in a pass of their own.

use super::cpu_products::{product_into, StridedMatrix};
use super::vector_exp::exp;
use crate::error::{Error, Result};
use std::ops::Range;

/// The geometry of attention over (B, T, H·d) activations with (B, H, T, T) maps.
#[derive(Clone, Copy, Debug)]
pub(super) struct HeadsShape {
    pub batch: usize,
    pub tokens: usize,
    pub hidden: usize,
    pub heads: usize,
    /// 1/√d.
    pub scale: f32,
}

impl HeadsShape {
    pub fn new(batch: usize, tokens: usize, hidden: usize, heads: usize) -> Result<Self> {
        if heads == 0 || hidden % heads != 0 {
            return Err(Error::Backend(format!("attention: {hidden} channels do not split into {heads} heads")));
        }
        let scale = 1.0 / ((hidden / heads) as f64).sqrt();
        Ok(HeadsShape { batch, tokens, hidden, heads, scale: scale as f32 })
    }

    pub fn activations_len(&self) -> usize {
        self.batch * self.tokens * self.hidden
    }

    pub fn maps_len(&self) -> usize {
        self.batch * self.heads * self.tokens * self.tokens
    }

    fn check(&self, what: &str, values: &[f32], len: usize) -> Result<()> {
        if values.len() != len {
            return Err(Error::Backend(format!("attention: {what} has {} values, {self:?} needs {len}", values.len())));
        }
        Ok(())
    }

    fn pairs(&self) -> impl Iterator<Item = (usize, usize)> {
        let heads = self.heads;
        (0..self.batch).flat_map(move |b| (0..heads).map(move |h| (b, h)))
    }

    /// Where head `h` of batch element `b` starts in the activations.
    fn head_start(&self, b: usize, h: usize) -> usize {
        b * self.tokens * self.hidden + h * (self.hidden / self.heads)
    }

    /// Head `h` of batch element `b`, (T, d), read in place.
    fn head<'a>(&self, activations: &'a [f32], b: usize, h: usize) -> StridedMatrix<'a> {
        StridedMatrix::rows_of(
            &activations[self.head_start(b, h)..],
            self.tokens,
            self.hidden / self.heads,
            self.hidden,
        )
    }

    /// Writes `lhs · rhs` into head `h` of batch element `b` of `activations`.
    fn write_head(
        &self,
        activations: &mut [f32],
        b: usize,
        h: usize,
        lhs: StridedMatrix,
        rhs: StridedMatrix,
    ) -> Result<()> {
        product_into(&mut activations[self.head_start(b, h)..], self.hidden, 1, lhs, rhs)
    }

    fn map_range(&self, b: usize, h: usize) -> Range<usize> {
        let size = self.tokens * self.tokens;
        let start = (b * self.heads + h) * size;
        start..start + size
    }

    fn map<'a>(&self, maps: &'a [f32], b: usize, h: usize) -> StridedMatrix<'a> {
        square(&maps[self.map_range(b, h)], self.tokens)
    }
}

fn square(values: &[f32], side: usize) -> StridedMatrix<'_> {
    StridedMatrix::rows_of(values, side, side, side)
}

/// (output (B, T, H·d), probabilities (B, H, T, T)) of softmax(q·kᵀ/√d) · v per head; with
/// `causal`, token i sees tokens 0..=i.
pub(super) fn attention(
    q: &[f32],
    k: &[f32],
    v: &[f32],
    shape: HeadsShape,
    causal: bool,
) -> Result<(Vec<f32>, Vec<f32>)> {
    for (what, values) in [("q", q), ("k", k), ("v", v)] {
        shape.check(what, values, shape.activations_len())?;
    }
    let tokens = shape.tokens;
    let mut probs = vec![0f32; shape.maps_len()];
    let mut out = vec![0f32; shape.activations_len()];
    for (b, h) in shape.pairs() {
        let map = &mut probs[shape.map_range(b, h)];
        product_into(map, tokens, 1, shape.head(q, b, h), shape.head(k, b, h).transposed())?;
        for (i, row) in map.chunks_exact_mut(tokens).enumerate() {
            let visible = if causal { i + 1 } else { tokens };
            scaled_softmax_in_place(row, visible, shape.scale);
        }
        shape.write_head(&mut out, b, h, shape.map(&probs, b, h), shape.head(v, b, h))?;
    }
    Ok((out, probs))
}

/// The gradients of attention's inputs and of its probabilities.
pub(super) struct AttentionGradients {
    pub d_query: Vec<f32>,
    pub d_key: Vec<f32>,
    pub d_value: Vec<f32>,
    pub d_probs: Vec<f32>,
}

pub(super) fn attention_backward(
    q: &[f32],
    k: &[f32],
    v: &[f32],
    probs: &[f32],
    d_out: &[f32],
    shape: HeadsShape,
) -> Result<AttentionGradients> {
    for (what, values) in [("q", q), ("k", k), ("v", v), ("d_out", d_out)] {
        shape.check(what, values, shape.activations_len())?;
    }
    shape.check("probs", probs, shape.maps_len())?;
    let tokens = shape.tokens;
    let mut d_probs = vec![0f32; shape.maps_len()];
    let mut d_scores = vec![0f32; tokens * tokens];
    let [mut d_query, mut d_key, mut d_value] = [(); 3].map(|_| vec![0f32; shape.activations_len()]);
    for (b, h) in shape.pairs() {
        let (d_out_h, p) = (shape.head(d_out, b, h), shape.map(probs, b, h));
        let d_map = &mut d_probs[shape.map_range(b, h)];
        product_into(d_map, tokens, 1, d_out_h, shape.head(v, b, h).transposed())?;
        shape.write_head(&mut d_value, b, h, p.transposed(), d_out_h)?;
        // Softmax VJP row by row, times the scores' scale: dS = scale · P ⊙ (dP − Σ_j dP_j P_j).
        for ((p_row, dp_row), ds_row) in
            p.values.chunks_exact(tokens).zip(d_map.chunks_exact(tokens)).zip(d_scores.chunks_exact_mut(tokens))
        {
            let dot = dot(p_row, dp_row);
            for ((ds, p), dp) in ds_row.iter_mut().zip(p_row).zip(dp_row) {
                *ds = shape.scale * p * (dp - dot);
            }
        }
        let d_scores = square(&d_scores, tokens);
        shape.write_head(&mut d_query, b, h, d_scores, shape.head(k, b, h))?;
        shape.write_head(&mut d_key, b, h, d_scores.transposed(), shape.head(q, b, h))?;
    }
    Ok(AttentionGradients { d_query, d_key, d_value, d_probs })
}

/// Lanes of the reductions below: independent partial results the compiler can keep in one
/// vector register, where a single running value would serialise every addition.
const LANES: usize = 8;

/// softmax(scale · row[..visible]) in place; the entries past `visible` (masked) become 0.
fn scaled_softmax_in_place(row: &mut [f32], visible: usize, scale: f32) {
    let (seen, masked) = row.split_at_mut(visible);
    masked.fill(0.0);
    let mut lanes = [f32::NEG_INFINITY; LANES];
    let mut chunks = seen.chunks_exact(LANES);
    for chunk in &mut chunks {
        for (lane, v) in lanes.iter_mut().zip(chunk) {
            *lane = lane.max(*v);
        }
    }
    let max = chunks.remainder().iter().chain(&lanes).copied().fold(f32::NEG_INFINITY, f32::max);
    for v in seen.iter_mut() {
        *v = exp((*v - max) * scale);
    }
    let inverse = 1.0 / sum(seen);
    for v in seen.iter_mut() {
        *v *= inverse;
    }
}

fn sum(values: &[f32]) -> f32 {
    let mut lanes = [0f32; LANES];
    let mut chunks = values.chunks_exact(LANES);
    for chunk in &mut chunks {
        for (lane, v) in lanes.iter_mut().zip(chunk) {
            *lane += v;
        }
    }
    lanes.iter().sum::<f32>() + chunks.remainder().iter().sum::<f32>()
}

fn dot(a: &[f32], b: &[f32]) -> f32 {
    let mut lanes = [0f32; LANES];
    let (mut a_chunks, mut b_chunks) = (a.chunks_exact(LANES), b.chunks_exact(LANES));
    for (x, y) in (&mut a_chunks).zip(&mut b_chunks) {
        for ((lane, x), y) in lanes.iter_mut().zip(x).zip(y) {
            *lane += x * y;
        }
    }
    let tail: f32 = a_chunks.remainder().iter().zip(b_chunks.remainder()).map(|(x, y)| x * y).sum();
    lanes.iter().sum::<f32>() + tail
}

#[cfg(test)]
mod tests {
    use super::*;

    fn values(n: usize, seed: u32) -> Vec<f32> {
        (0..n)
            .map(|i| ((i as u32).wrapping_mul(2_654_435_761).wrapping_add(seed) % 1000) as f32 / 250.0 - 2.0)
            .collect()
    }

    /// softmax(q kᵀ/√d) v one head at a time, with f64 sums.
    fn naive(q: &[f32], k: &[f32], v: &[f32], s: HeadsShape, causal: bool) -> (Vec<f32>, Vec<f32>) {
        let (t, d) = (s.tokens, s.hidden / s.heads);
        let (mut out, mut probs) = (vec![0f32; s.activations_len()], vec![0f32; s.maps_len()]);
        let at = |x: &[f32], b: usize, i: usize, h: usize, c: usize| x[(b * t + i) * s.hidden + h * d + c] as f64;
        for (b, h) in s.pairs() {
            for i in 0..t {
                let visible = if causal { i + 1 } else { t };
                let scores: Vec<f64> = (0..visible)
                    .map(|j| (0..d).map(|c| at(q, b, i, h, c) * at(k, b, j, h, c)).sum::<f64>() * s.scale as f64)
                    .collect();
                let max = scores.iter().copied().fold(f64::NEG_INFINITY, f64::max);
                let total: f64 = scores.iter().map(|x| (x - max).exp()).sum();
                for j in 0..visible {
                    probs[(b * s.heads + h) * t * t + i * t + j] = ((scores[j] - max).exp() / total) as f32;
                }
                for c in 0..d {
                    let o: f64 = (0..visible)
                        .map(|j| probs[(b * s.heads + h) * t * t + i * t + j] as f64 * at(v, b, j, h, c))
                        .sum();
                    out[(b * t + i) * s.hidden + h * d + c] = o as f32;
                }
            }
        }
        (out, probs)
    }

    fn assert_close(what: &str, actual: &[f32], expected: &[f32]) {
        assert_eq!(actual.len(), expected.len(), "{what}");
        for (i, (a, e)) in actual.iter().zip(expected).enumerate() {
            assert!((a - e).abs() <= 1e-5 * (1.0 + e.abs()), "{what}[{i}]: {a} vs {e}");
        }
    }

    #[test]
    fn attention_matches_a_naive_loop() {
        for &(batch, tokens, hidden, heads) in &[(1, 1, 1, 1), (2, 9, 12, 3), (1, 17, 64, 4)] {
            let s = HeadsShape::new(batch, tokens, hidden, heads).unwrap();
            let [q, k, v] = [1, 2, 3].map(|seed| values(s.activations_len(), seed));
            for causal in [false, true] {
                let (out, probs) = attention(&q, &k, &v, s, causal).unwrap();
                let (expected_out, expected_probs) = naive(&q, &k, &v, s, causal);
                assert_close(&format!("probs {s:?} causal {causal}"), &probs, &expected_probs);
                assert_close(&format!("out {s:?} causal {causal}"), &out, &expected_out);
            }
        }
    }

    /// Each input gradient against central differences of Σ out ⊙ w (w fixed), in f32 with a
    /// tolerance that covers the difference quotient's rounding.
    #[test]
    fn gradients_match_central_differences() {
        let s = HeadsShape::new(2, 5, 8, 2).unwrap();
        let [q, k, v, w] =
            [4, 5, 6, 7].map(|seed| values(s.activations_len(), seed).iter().map(|x| x * 0.5).collect::<Vec<_>>());
        let loss = |q: &[f32], k: &[f32], v: &[f32]| -> f64 {
            let (out, _) = attention(q, k, v, s, true).unwrap();
            out.iter().zip(&w).map(|(o, w)| (*o as f64) * (*w as f64)).sum()
        };
        let (_, probs) = attention(&q, &k, &v, s, true).unwrap();
        let grads = attention_backward(&q, &k, &v, &probs, &w, s).unwrap();
        let h = 1e-2f32;
        for (which, analytic) in [(0, &grads.d_query), (1, &grads.d_key), (2, &grads.d_value)] {
            for i in (0..s.activations_len()).step_by(7) {
                let mut inputs = [q.clone(), k.clone(), v.clone()];
                inputs[which][i] += h;
                let above = loss(&inputs[0], &inputs[1], &inputs[2]);
                inputs[which][i] -= 2.0 * h;
                let below = loss(&inputs[0], &inputs[1], &inputs[2]);
                let numeric = (above - below) / (2.0 * h as f64);
                assert!(
                    (numeric - analytic[i] as f64).abs() < 2e-3,
                    "input {which}[{i}]: {numeric} vs {}",
                    analytic[i]
                );
            }
        }
    }

    #[test]
    fn wrong_lengths_and_head_counts_are_errors() {
        assert!(HeadsShape::new(1, 4, 10, 3).is_err());
        assert!(HeadsShape::new(1, 4, 10, 0).is_err());
        let s = HeadsShape::new(1, 4, 4, 2).unwrap();
        let x = vec![0f32; s.activations_len()];
        assert!(attention(&x[1..], &x, &x, s, false).is_err());
        assert!(attention_backward(&x, &x, &x, &x, &x, s).is_err(), "probs of the activations' size");
    }

    #[test]
    fn reductions_cover_every_element() {
        let a = values(37, 9);
        let b = values(37, 10);
        let naive_dot: f32 = a.iter().zip(&b).map(|(x, y)| x * y).sum();
        assert!((dot(&a, &b) - naive_dot).abs() < 1e-4);
        assert!((sum(&a) - a.iter().sum::<f32>()).abs() < 1e-4);
    }
}
