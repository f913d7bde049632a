//! Multi-head attention and its backward pass on the CPU, on host slices, for any
//! [`AttentionShape`]: queries and keys of different lengths, grouped-query heads, a causal mask
//! with an offset. Each head's products read and write that head's columns of the (B, T, H·d)
//! activations in place through strides, so there are no per-head copies; the softmax scale is
//! folded into the exponent and into the VJP, so the scores are never scaled in a pass of their own.

use super::products::{product_into, StridedMatrix};
use super::vector_exp::exp;
use crate::backend::AttentionShape;
use crate::error::{Error, Result};
use std::ops::Range;

/// Where the heads of one attention op lie in its flat q, k/v and map buffers.
#[derive(Clone, Copy)]
struct Heads(AttentionShape);

impl Heads {
    fn check(&self, what: &str, values: &[f32], len: usize) -> Result<()> {
        if values.len() != len {
            return Err(Error::Internal(format!(
                "attention: {what} has {} values, {:?} needs {len}",
                values.len(),
                self.0
            )));
        }
        Ok(())
    }

    fn pairs(&self) -> impl Iterator<Item = (usize, usize)> {
        let heads = self.0.heads;
        (0..self.0.batch).flat_map(move |b| (0..heads).map(move |h| (b, h)))
    }

    /// Query head `h` of batch element `b` in q, the output or their gradients, (Tq, d), read in place.
    fn query<'a>(&self, values: &'a [f32], b: usize, h: usize) -> StridedMatrix<'a> {
        let s = &self.0;
        let start = b * s.queries * s.query_width() + h * s.head_dim;
        StridedMatrix::rows_of(&values[start..], s.queries, s.head_dim, s.query_width())
    }

    /// Where key/value head `g` of batch element `b` starts in k or v.
    fn kv_start(&self, b: usize, g: usize) -> usize {
        let s = &self.0;
        b * s.keys * s.kv_width() + g * s.head_dim
    }

    /// The key/value head that query head `h` reads, (Tk, d), read in place.
    fn kv<'a>(&self, values: &'a [f32], b: usize, h: usize) -> StridedMatrix<'a> {
        let s = &self.0;
        StridedMatrix::rows_of(&values[self.kv_start(b, s.kv_head(h))..], s.keys, s.head_dim, s.kv_width())
    }

    /// Writes (or adds) `lhs · rhs` into query head `h` of batch element `b`.
    fn write_query(&self, dst: &mut [f32], b: usize, h: usize, lhs: StridedMatrix, rhs: StridedMatrix) -> Result<()> {
        let s = &self.0;
        let start = b * s.queries * s.query_width() + h * s.head_dim;
        product_into(&mut dst[start..], s.query_width(), 1, lhs, rhs, false)
    }

    /// Adds `lhs · rhs` into the key/value head query head `h` reads; the first query head of each
    /// group writes instead, so the group's contributions are summed.
    fn accumulate_kv(&self, dst: &mut [f32], b: usize, h: usize, lhs: StridedMatrix, rhs: StridedMatrix) -> Result<()> {
        let s = &self.0;
        let start = self.kv_start(b, s.kv_head(h));
        product_into(&mut dst[start..], s.kv_width(), 1, lhs, rhs, h % s.group() != 0)
    }

    fn map_range(&self, b: usize, h: usize) -> Range<usize> {
        let size = self.0.queries * self.0.keys;
        let start = (b * self.0.heads + h) * size;
        start..start + size
    }

    fn map<'a>(&self, maps: &'a [f32], b: usize, h: usize) -> StridedMatrix<'a> {
        StridedMatrix::rows_of(&maps[self.map_range(b, h)], self.0.queries, self.0.keys, self.0.keys)
    }
}

/// (output (B, Tq, H·d), probabilities (B, H, Tq, Tk)) of softmax(q·kᵀ/√d) · v per head; masked
/// entries of the probabilities are 0.
pub(super) fn attention(q: &[f32], k: &[f32], v: &[f32], shape: AttentionShape) -> Result<(Vec<f32>, Vec<f32>)> {
    let heads = Heads(shape);
    heads.check("q", q, shape.query_len())?;
    heads.check("k", k, shape.kv_len())?;
    heads.check("v", v, shape.kv_len())?;
    let mut probs = vec![0f32; shape.maps_len()];
    let mut out = vec![0f32; shape.query_len()];
    for (b, h) in heads.pairs() {
        let map = &mut probs[heads.map_range(b, h)];
        product_into(map, shape.keys, 1, heads.query(q, b, h), heads.kv(k, b, h).transposed(), false)?;
        for (i, row) in map.chunks_exact_mut(shape.keys).enumerate() {
            scaled_softmax_in_place(row, shape.visible(i), shape.scale());
        }
        heads.write_query(&mut out, b, h, heads.map(&probs, b, h), heads.kv(v, b, h))?;
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

/// The gradients for d_out of `shape`'s batch B, from q, k, v and probabilities saved by a forward
/// of batch `saved_batch`: B, or 1 for one forward serving B backward passes (element b then reads
/// the saved element b mod `saved_batch`).
pub(super) fn attention_backward(
    q: &[f32],
    k: &[f32],
    v: &[f32],
    probs: &[f32],
    d_out: &[f32],
    shape: AttentionShape,
    saved_batch: usize,
) -> Result<AttentionGradients> {
    let heads = Heads(shape);
    let saved = Heads(AttentionShape { batch: saved_batch, ..shape });
    heads.check("d_out", d_out, shape.query_len())?;
    saved.check("q", q, saved.0.query_len())?;
    saved.check("k", k, saved.0.kv_len())?;
    saved.check("v", v, saved.0.kv_len())?;
    saved.check("probs", probs, saved.0.maps_len())?;
    if saved_batch == 0 {
        return Err(Error::Internal(format!("attention backward: a saved batch of 0 for {shape:?}")));
    }
    let keys = shape.keys;
    let mut d_probs = vec![0f32; shape.maps_len()];
    let mut d_scores = vec![0f32; shape.queries * keys];
    let mut d_query = vec![0f32; shape.query_len()];
    let [mut d_key, mut d_value] = [(); 2].map(|_| vec![0f32; shape.kv_len()]);
    for (b, h) in heads.pairs() {
        let sb = b % saved_batch;
        let (d_out_h, p) = (heads.query(d_out, b, h), saved.map(probs, sb, h));
        let d_map = &mut d_probs[heads.map_range(b, h)];
        product_into(d_map, keys, 1, d_out_h, saved.kv(v, sb, h).transposed(), false)?;
        heads.accumulate_kv(&mut d_value, b, h, p.transposed(), d_out_h)?;
        // Softmax VJP row by row, times the scores' scale: dS = scale · P ⊙ (dP − Σ_j dP_j P_j).
        for ((p_row, dp_row), ds_row) in
            p.values.chunks_exact(keys).zip(d_map.chunks_exact(keys)).zip(d_scores.chunks_exact_mut(keys))
        {
            let dot = dot(p_row, dp_row);
            for ((ds, p), dp) in ds_row.iter_mut().zip(p_row).zip(dp_row) {
                *ds = shape.scale() * p * (dp - dot);
            }
        }
        let d_scores = StridedMatrix::rows_of(&d_scores, shape.queries, keys, keys);
        heads.write_query(&mut d_query, b, h, d_scores, saved.kv(k, sb, h))?;
        heads.accumulate_kv(&mut d_key, b, h, d_scores.transposed(), saved.query(q, sb, h))?;
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
    use crate::backend::AttentionMask;

    fn values(n: usize, seed: u32) -> Vec<f32> {
        (0..n)
            .map(|i| ((i as u32).wrapping_mul(2_654_435_761).wrapping_add(seed) % 1000) as f32 / 250.0 - 2.0)
            .collect()
    }

    fn shape(
        batch: usize,
        queries: usize,
        keys: usize,
        heads: usize,
        kv_heads: usize,
        mask: AttentionMask,
    ) -> AttentionShape {
        AttentionShape { batch, queries, keys, heads, kv_heads, head_dim: 3, mask }.checked().unwrap()
    }

    /// Shapes that exercise every part of the geometry: one token, one head, grouped and single
    /// key/value heads, more keys than queries with and without a causal offset.
    fn awkward_shapes() -> Vec<AttentionShape> {
        vec![
            shape(1, 1, 1, 1, 1, AttentionMask::None),
            shape(2, 5, 5, 3, 3, AttentionMask::None),
            shape(2, 5, 5, 3, 3, AttentionMask::Causal { offset: 0 }),
            shape(1, 4, 7, 6, 2, AttentionMask::None),
            shape(2, 3, 7, 4, 1, AttentionMask::Causal { offset: 4 }),
            shape(1, 1, 6, 4, 2, AttentionMask::Causal { offset: 5 }),
        ]
    }

    /// softmax(q kᵀ/√d) v one head at a time, with f64 sums.
    fn naive(q: &[f32], k: &[f32], v: &[f32], s: AttentionShape) -> (Vec<f64>, Vec<f64>) {
        let d = s.head_dim;
        let (mut out, mut probs) = (vec![0f64; s.query_len()], vec![0f64; s.maps_len()]);
        let query =
            |b: usize, i: usize, h: usize, c: usize| q[(b * s.queries + i) * s.query_width() + h * d + c] as f64;
        let key_value = |x: &[f32], b: usize, j: usize, h: usize, c: usize| {
            x[(b * s.keys + j) * s.kv_width() + s.kv_head(h) * d + c] as f64
        };
        for b in 0..s.batch {
            for h in 0..s.heads {
                for i in 0..s.queries {
                    let visible = s.visible(i);
                    let scores: Vec<f64> = (0..visible)
                        .map(|j| {
                            (0..d).map(|c| query(b, i, h, c) * key_value(k, b, j, h, c)).sum::<f64>() * s.scale() as f64
                        })
                        .collect();
                    let max = scores.iter().copied().fold(f64::NEG_INFINITY, f64::max);
                    let total: f64 = scores.iter().map(|x| (x - max).exp()).sum();
                    let row = ((b * s.heads + h) * s.queries + i) * s.keys;
                    for j in 0..visible {
                        probs[row + j] = (scores[j] - max).exp() / total;
                    }
                    for c in 0..d {
                        out[(b * s.queries + i) * s.query_width() + h * d + c] =
                            (0..visible).map(|j| probs[row + j] * key_value(v, b, j, h, c)).sum();
                    }
                }
            }
        }
        (out, probs)
    }

    fn assert_close(what: &str, actual: &[f32], expected: &[f64], tolerance: f64) {
        assert_eq!(actual.len(), expected.len(), "{what}");
        for (i, (a, e)) in actual.iter().zip(expected).enumerate() {
            assert!(a.is_finite() && (*a as f64 - e).abs() <= tolerance * (1.0 + e.abs()), "{what}[{i}]: {a} vs {e}");
        }
    }

    #[test]
    fn attention_matches_a_naive_loop() {
        for s in awkward_shapes() {
            let q = values(s.query_len(), 1);
            let [k, v] = [2, 3].map(|seed| values(s.kv_len(), seed));
            let (out, probs) = attention(&q, &k, &v, s).unwrap();
            let (expected_out, expected_probs) = naive(&q, &k, &v, s);
            assert_close(&format!("probs {s:?}"), &probs, &expected_probs, 1e-5);
            assert_close(&format!("out {s:?}"), &out, &expected_out, 1e-5);
        }
    }

    /// Each input gradient against central differences of Σ out ⊙ w (w fixed) on the f64 loop,
    /// and ∂/∂P against Σ over the map of the output's dependence on P.
    #[test]
    fn gradients_match_central_differences() {
        for s in awkward_shapes() {
            let scaled = |n: usize, seed: u32| values(n, seed).iter().map(|x| x * 0.5).collect::<Vec<_>>();
            let (q, k, v, w) =
                (scaled(s.query_len(), 4), scaled(s.kv_len(), 5), scaled(s.kv_len(), 6), scaled(s.query_len(), 7));
            let loss = |q: &[f32], k: &[f32], v: &[f32]| -> f64 {
                naive(q, k, v, s).0.iter().zip(&w).map(|(o, w)| o * *w as f64).sum()
            };
            let (_, probs) = attention(&q, &k, &v, s).unwrap();
            let grads = attention_backward(&q, &k, &v, &probs, &w, s, s.batch).unwrap();
            let h = 1e-3f32;
            for (which, analytic) in [(0, &grads.d_query), (1, &grads.d_key), (2, &grads.d_value)] {
                for i in 0..analytic.len() {
                    let mut inputs = [q.clone(), k.clone(), v.clone()];
                    inputs[which][i] += h;
                    let above = loss(&inputs[0], &inputs[1], &inputs[2]);
                    inputs[which][i] -= 2.0 * h;
                    let below = loss(&inputs[0], &inputs[1], &inputs[2]);
                    let step = (inputs[which][i] + 2.0 * h) as f64 - inputs[which][i] as f64;
                    let numeric = (above - below) / step;
                    assert!(
                        (numeric - analytic[i] as f64).abs() < 1e-3 * (1.0 + numeric.abs()),
                        "{s:?} input {which}[{i}]: {numeric} vs {}",
                        analytic[i]
                    );
                }
            }
            // ∂(Σ out ⊙ w)/∂P[b, h, i, j] = w[b, i, h] · v[b, j, kv(h)].
            for b in 0..s.batch {
                for head in 0..s.heads {
                    for i in 0..s.queries {
                        for j in 0..s.keys {
                            let expected: f64 = (0..s.head_dim)
                                .map(|c| {
                                    w[(b * s.queries + i) * s.query_width() + head * s.head_dim + c] as f64
                                        * v[(b * s.keys + j) * s.kv_width() + s.kv_head(head) * s.head_dim + c] as f64
                                })
                                .sum();
                            let actual = grads.d_probs[((b * s.heads + head) * s.queries + i) * s.keys + j] as f64;
                            assert!((actual - expected).abs() < 1e-5, "{s:?} d_probs: {actual} vs {expected}");
                        }
                    }
                }
            }
        }
    }

    #[test]
    fn wrong_lengths_are_errors() {
        let s = shape(1, 4, 6, 4, 2, AttentionMask::None);
        let (q, kv) = (vec![0f32; s.query_len()], vec![0f32; s.kv_len()]);
        assert!(attention(&q[1..], &kv, &kv, s).is_err());
        assert!(attention(&q, &q, &kv, s).is_err(), "keys of the queries' width");
        let probs = vec![0f32; s.maps_len()];
        assert!(attention_backward(&q, &kv, &kv, &q, &q, s, 1).is_err(), "probs of the activations' size");
        assert!(attention_backward(&q, &kv, &kv, &probs, &kv, s, 1).is_err(), "d_out of the keys' size");
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
