//! Cases of the attention op: square self-attention, plain and causal; the decoder's shapes
//! (grouped and single key/value heads, queries against longer keys, causal offsets); the
//! gradient with respect to the probabilities; and one saved forward for a batch of gradients.

use super::reference as exact;
use super::{random, repeated, OpCase};
use sightline::backend::prelude::*;
use sightline::backend::{AttentionMask, AttentionShape};
use sightline::loader::HostTensor;

/// Gradients of a batch of this many run against one saved forward.
const COPIES: usize = 3;

/// Square self-attention (batch, tokens, hidden, heads) — one token, one head, odd token counts,
/// head_dim above 64 — each plain and causal; then grouped-query (GQA) and single key/value
/// head (MQA) shapes with queries against longer keys and causal offsets.
fn shapes() -> Vec<AttentionShape> {
    let square = [(1, 1, 8, 1), (1, 1, 16, 2), (2, 5, 12, 3), (1, 50, 64, 4), (3, 17, 130, 1), (1, 77, 96, 12)];
    let mut shapes: Vec<AttentionShape> = square
        .iter()
        .flat_map(|&(batch, tokens, hidden, heads)| {
            [false, true].map(|causal| AttentionShape::square(batch, tokens, hidden, heads, causal).unwrap())
        })
        .collect();
    shapes.extend([
        decoder(1, 9, 9, 9, 3, 64, AttentionMask::Causal { offset: 0 }),
        decoder(2, 4, 11, 6, 1, 5, AttentionMask::Causal { offset: 7 }),
        decoder(1, 1, 30, 4, 2, 70, AttentionMask::Causal { offset: 29 }),
        decoder(1, 3, 8, 8, 4, 3, AttentionMask::None),
    ]);
    shapes
}

fn decoder(
    batch: usize,
    queries: usize,
    keys: usize,
    heads: usize,
    kv_heads: usize,
    head_dim: usize,
    mask: AttentionMask,
) -> AttentionShape {
    AttentionShape { batch, queries, keys, heads, kv_heads, head_dim, mask }.checked().unwrap()
}

/// q, k, v of `shape`, scaled so the softmax is neither flat nor one-hot.
fn inputs(seed: u64, shape: &AttentionShape) -> [HostTensor; 3] {
    let (q_dims, kv_dims) = (shape.query_dims(), shape.kv_dims());
    [random(seed, &q_dims, 1.5), random(seed + 1, &kv_dims, 1.5), random(seed + 2, &kv_dims, 1.0)]
}

/// Non-negative maps (B, H, Tq, Tk), masked entries included: the gradient with respect to the
/// probabilities holds for any values of them. No op computes the weighted values P·v from given
/// P alone, so those cases have no forward of their own: the reference defines the function the
/// VJP differentiates.
fn maps(seed: u64, shape: &AttentionShape) -> HostTensor {
    let mut maps = random(seed, &shape.maps_dims(), 0.3);
    maps.data.iter_mut().for_each(|v| *v = v.abs());
    maps
}

pub fn cases() -> Vec<OpCase> {
    let mut cases = Vec::new();
    for (i, shape) in shapes().into_iter().enumerate() {
        let seed = 600 + 10 * i as u64;
        cases.push(
            OpCase::new(
                format!("attention {shape:?}"),
                inputs(seed, &shape).to_vec(),
                on_both!(|b, x| {
                    let (out, probs) = b.attention(&x[0], &x[1], &x[2], &shape)?;
                    vec![out, probs]
                }),
                move |x| {
                    let (out, probs) = exact::attention(&x[0], &x[1], &x[2], &shape);
                    vec![out, probs]
                },
            )
            .vjp(
                &[0, 1, 2],
                &[0],
                on_both!(|b, x| {
                    let (_, probs) = b.attention(&x[0], &x[1], &x[2], &shape)?;
                    let g = b.attention_backward(&x[0], &x[1], &x[2], &probs, &x[3], &shape)?;
                    vec![g.d_query, g.d_key, g.d_value]
                }),
            ),
        );
    }
    for (i, shape) in shapes().into_iter().enumerate().filter(|(i, _)| [3, 5, 13].contains(i)) {
        let seed = 800 + 10 * i as u64;
        cases.push(
            OpCase::vjp_only(
                format!("attention probabilities' gradient {shape:?}"),
                [inputs(seed, &shape).to_vec(), vec![maps(seed + 3, &shape)]].concat(),
                move |x| vec![exact::weighted_values(&x[3], &x[2], &shape)],
            )
            .vjp(
                &[3, 2],
                &[0],
                on_both!(|b, x| {
                    let g = b.attention_backward(&x[0], &x[1], &x[2], &x[3], &x[4], &shape)?;
                    vec![g.d_probs, g.d_value]
                }),
            ),
        );
    }
    cases.extend(one_forward_for_a_batch());
    cases
}

/// The backward pass of K gradients against one forward (q, k, v, P of batch 1): the VJP of the
/// forward on K repeated copies.
fn one_forward_for_a_batch() -> Vec<OpCase> {
    let single = [
        decoder(1, 5, 5, 4, 2, 3, AttentionMask::Causal { offset: 0 }),
        decoder(1, 2, 6, 3, 1, 70, AttentionMask::Causal { offset: 4 }),
        decoder(1, 4, 4, 2, 2, 8, AttentionMask::None),
    ];
    let mut cases = Vec::new();
    for (i, one) in single.into_iter().enumerate() {
        let seed = 900 + 10 * i as u64;
        let batch = AttentionShape { batch: COPIES, ..one };
        let saved = inputs(seed, &one);
        let copies = saved.clone().map(|t| repeated(&t, COPIES));
        cases.push(
            OpCase::new(
                format!("attention backward of {COPIES} gradients, one forward {one:?}"),
                [copies.to_vec(), saved.to_vec()].concat(),
                on_both!(|b, x| vec![b.attention(&x[0], &x[1], &x[2], &batch)?.0]),
                move |x| vec![exact::attention(&x[0], &x[1], &x[2], &batch).0],
            )
            .vjp(
                &[0, 1, 2],
                &[0],
                on_both!(|b, x| {
                    let (_, probs) = b.attention(&x[3], &x[4], &x[5], &one)?;
                    let g = b.attention_backward(&x[3], &x[4], &x[5], &probs, &x[6], &batch)?;
                    vec![g.d_query, g.d_key, g.d_value]
                }),
            ),
        );
        let probs = maps(seed + 3, &one);
        cases.push(
            OpCase::vjp_only(
                format!("attention probabilities' gradient of {COPIES} gradients, one forward {one:?}"),
                [saved.to_vec(), vec![probs.clone(), repeated(&probs, COPIES), copies[2].clone()]].concat(),
                move |x| vec![exact::weighted_values(&x[4], &x[5], &batch)],
            )
            .vjp(
                &[4, 5],
                &[0],
                on_both!(|b, x| {
                    let g = b.attention_backward(&x[0], &x[1], &x[2], &x[3], &x[6], &batch)?;
                    vec![g.d_probs, g.d_value]
                }),
            ),
        );
    }
    cases
}
