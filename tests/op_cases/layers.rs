//! Cases of the layers' ops: linear (dense and quantized), layer norm, RMSNorm, the activations,
//! elementwise products and sums, and the gated MLP (SwiGLU) composed from them.

use super::reference as exact;
use super::{random, repeated, OpCase};
use candle_core::quantized::GgmlDType;
use sightline::backend::prelude::*;
use sightline::backend::Activation;
use sightline::loader::QuantizedMatrix;
use sightline::Result;

/// (rows, in, out): below, at and above the GPU's 64 block and 16-deep tile, and single rows.
const LINEAR_SHAPES: [(usize, usize, usize); 6] =
    [(1, 1, 1), (1, 7, 3), (5, 16, 64), (50, 33, 65), (64, 64, 64), (130, 100, 17)];
/// (rows, width, spread, offset) of the norms' inputs: odd widths, wider than a workgroup, and
/// rows whose (centred) mean square is of the order of eps, where eps shapes the result (RMSNorm
/// of one value is ±w whatever the value unless it is that small).
const NORM_INPUTS: [(usize, usize, f32, f32); 7] = [
    (1, 5, 2.0, 3.0),
    (3, 64, 2.0, 3.0),
    (7, 300, 2.0, 3.0),
    (50, 768, 2.0, 3.0),
    (1, 1, 1e-3, 0.0),
    (2, 5, 1e-3, 0.0),
    (3, 33, 3e-3, 2e-3),
];
/// Gradients of a batch of this many run against one saved forward.
const COPIES: usize = 3;
const LAYER_NORM_EPS: f64 = 1e-5;
/// Llama's `rms_norm_eps`.
const RMS_EPS: f64 = 1e-6;

pub fn linear_and_norm_cases() -> Vec<OpCase> {
    let mut cases = Vec::new();
    for (i, &(rows, inputs, outputs)) in LINEAR_SHAPES.iter().enumerate() {
        let seed = 10 * i as u64;
        let x = random(seed, &[2, rows, inputs], 1.0);
        let w = random(seed + 1, &[outputs, inputs], 0.5);
        let bias = random(seed + 2, &[outputs], 1.0);
        cases.push(
            OpCase::new(
                format!("linear {rows}x{inputs}->{outputs}"),
                vec![x, w, bias],
                on_both!(|b, x| vec![b.linear(&x[0], &x[1], Some(&x[2]))?, b.linear(&x[0], &x[1], None)?]),
                |x| vec![exact::linear(&x[0], &x[1], Some(&x[2])), exact::linear(&x[0], &x[1], None)],
            )
            .vjp(&[0], &[0], on_both!(|b, x| vec![b.linear_backward(&x[3], &x[1])?])),
        );
    }
    // `in` whole blocks (32, or 256 for the k-quants); q6_k has no kernel and runs expanded.
    let quantized = [
        (GgmlDType::Q8_0, 1, 32, 1),
        (GgmlDType::Q8_0, 50, 96, 65),
        (GgmlDType::Q4_0, 7, 64, 130),
        (GgmlDType::Q4K, 33, 256, 70),
        (GgmlDType::Q4K, 3, 512, 5),
        (GgmlDType::Q6K, 5, 256, 9),
    ];
    for (i, &(dtype, rows, inputs, outputs)) in quantized.iter().enumerate() {
        let seed = 100 + 10 * i as u64;
        let weight = QuantizedMatrix::quantize(&random(seed, &[outputs, inputs], 0.5).data, outputs, inputs, dtype)
            .expect("quantizable");
        let expanded = super::Exact::of(&weight.dequantize().expect("expandable"));
        cases.push(
            OpCase::new(
                format!("{dtype:?} linear {rows}x{inputs}->{outputs}"),
                vec![random(seed + 1, &[1, rows, inputs], 1.0), random(seed + 2, &[outputs], 1.0)],
                on_both!(
                    [weight] | b,
                    x | vec![
                        b.quantized_linear(&x[0], &weight, Some(&x[1]))?,
                        b.quantized_linear(&x[0], &weight, None)?
                    ]
                ),
                move |x| vec![exact::linear(&x[0], &expanded, Some(&x[1])), exact::linear(&x[0], &expanded, None)],
            )
            .vjp(
                &[0],
                &[0],
                on_both!([weight] | b, x | vec![b.quantized_linear_backward(&x[2], &weight)?]),
            ),
        );
    }
    for (i, &(rows, width, spread, offset)) in NORM_INPUTS.iter().enumerate() {
        let seed = 200 + 10 * i as u64;
        // Offset from 0, so the layer norm's centring matters.
        let mut x = random(seed, &[1, rows, width], spread);
        x.data.iter_mut().for_each(|v| *v += offset);
        let (gamma, beta) = (random(seed + 1, &[width], 1.0), random(seed + 2, &[width], 1.0));
        cases.push(
            OpCase::new(
                format!("layer norm {rows}x{width} of values {offset} ± {spread}"),
                vec![x.clone(), gamma.clone(), beta.clone()],
                on_both!(|b, x| vec![b.layer_norm(&x[0], &x[1], &x[2], LAYER_NORM_EPS)?]),
                |x| vec![exact::layer_norm(&x[0], &x[1], &x[2], LAYER_NORM_EPS)],
            )
            .vjp(
                &[0],
                &[0],
                on_both!(|b, x| vec![b.layer_norm_backward(&x[0], &x[1], &x[3], LAYER_NORM_EPS)?]),
            ),
        );
        cases.push(
            OpCase::new(
                format!("rms norm {rows}x{width} of values {offset} ± {spread}"),
                vec![x.clone(), gamma.clone()],
                on_both!(|b, x| vec![b.rms_norm(&x[0], &x[1], RMS_EPS)?]),
                |x| vec![exact::rms_norm(&x[0], &x[1], RMS_EPS)],
            )
            .vjp(&[0], &[0], on_both!(|b, x| vec![b.rms_norm_backward(&x[0], &x[1], &x[2], RMS_EPS)?])),
        );
        if rows > 1 {
            // One saved forward (x of batch 1) for a batch of gradients: the VJP of the forward
            // on repeated copies of x.
            let copies = repeated(&x, COPIES);
            cases.push(
                OpCase::new(
                    format!(
                        "layer norm {rows}x{width} of values {offset} ± {spread}, x of batch 1 for {COPIES} gradients"
                    ),
                    vec![copies.clone(), gamma.clone(), beta, x.clone()],
                    on_both!(|b, x| vec![b.layer_norm(&x[0], &x[1], &x[2], LAYER_NORM_EPS)?]),
                    |x| vec![exact::layer_norm(&x[0], &x[1], &x[2], LAYER_NORM_EPS)],
                )
                .vjp(
                    &[0],
                    &[0],
                    on_both!(|b, x| vec![b.layer_norm_backward(&x[3], &x[1], &x[4], LAYER_NORM_EPS)?]),
                ),
            );
            cases.push(
                OpCase::new(
                    format!(
                        "rms norm {rows}x{width} of values {offset} ± {spread}, x of batch 1 for {COPIES} gradients"
                    ),
                    vec![copies, gamma, x],
                    on_both!(|b, x| vec![b.rms_norm(&x[0], &x[1], RMS_EPS)?]),
                    |x| vec![exact::rms_norm(&x[0], &x[1], RMS_EPS)],
                )
                .vjp(
                    &[0],
                    &[0],
                    on_both!(|b, x| vec![b.rms_norm_backward(&x[2], &x[1], &x[3], RMS_EPS)?]),
                ),
            );
        }
    }
    cases
}

pub fn activation_and_product_cases() -> Vec<OpCase> {
    let mut cases = Vec::new();
    for act in [Activation::QuickGelu, Activation::Gelu, Activation::GeluTanh, Activation::Silu] {
        for (i, shape) in [vec![1], vec![3, 7], vec![2, 50, 257]].into_iter().enumerate() {
            // Wide inputs reach the tails where erf, σ and tanh saturate.
            let x = random(300 + i as u64, &shape, 4.0);
            cases.push(
                OpCase::new(
                    format!("{act:?} {shape:?}"),
                    vec![x],
                    on_both!(|b, x| vec![b.activation(&x[0], act)?, b.activation_with_derivative(&x[0], act)?.0]),
                    move |x| vec![exact::activation(&x[0], act), exact::activation(&x[0], act)],
                )
                .vjp(
                    &[0],
                    &[0],
                    on_both!(|b, x| vec![b.multiply(&x[1], &b.activation_with_derivative(&x[0], act)?.1)?]),
                ),
            );
        }
    }
    for (i, shape) in [vec![1], vec![1, 1, 1], vec![3, 77, 65]].into_iter().enumerate() {
        let inputs = vec![random(400 + i as u64, &shape, 1.0), random(410 + i as u64, &shape, 1.0)];
        cases.push(
            OpCase::new(
                format!("multiply {shape:?}"),
                inputs.clone(),
                on_both!(|b, x| vec![b.multiply(&x[0], &x[1])?]),
                |x| vec![exact::multiply(&x[0], &x[1])],
            )
            .vjp(
                &[0, 1],
                &[0],
                on_both!(|b, x| vec![b.multiply(&x[2], &x[1])?, b.multiply(&x[2], &x[0])?]),
            ),
        );
        cases.push(
            OpCase::new(format!("add {shape:?}"), inputs, on_both!(|b, x| vec![b.add(&x[0], &x[1])?]), |x| {
                vec![exact::add(&x[0], &x[1])]
            })
            .vjp(&[0, 1], &[0], on_both!(|_b, x| vec![x[2].clone(), x[2].clone()])),
        );
    }
    // A saved activation of batch 1 times a batch of gradients.
    for (i, shape) in [[1, 1, 1], [1, 5, 33]].into_iter().enumerate() {
        let saved = random(420 + i as u64, &shape, 1.0);
        let gradients = random(430 + i as u64, &[COPIES, shape[1], shape[2]], 1.0);
        cases.push(
            OpCase::new(
                format!("multiply {shape:?} into a batch of {COPIES}"),
                vec![gradients, saved],
                on_both!(|b, x| vec![b.multiply(&x[0], &x[1])?]),
                |x| vec![exact::multiply(&x[0], &x[1])],
            )
            .vjp(&[0], &[0], on_both!(|b, x| vec![b.multiply(&x[2], &x[1])?])),
        );
    }
    cases.extend(swiglu_cases());
    cases
}

/// Llama's MLP, down(silu(gate(x)) ⊙ up(x)), composed from the vocabulary, and its VJP as a
/// decoder runs it, also with one saved forward for a batch of gradients.
fn swiglu_cases() -> Vec<OpCase> {
    let (tokens, hidden, intermediate) = (3, 13, 21);
    let x = random(500, &[1, tokens, hidden], 1.0);
    let weights = [
        random(501, &[intermediate, hidden], 0.4),
        random(502, &[intermediate, hidden], 0.4),
        random(503, &[hidden, intermediate], 0.4),
    ];
    let case = |name: String, forward_input: super::HostTensor| {
        OpCase::new(
            name,
            [vec![forward_input, x.clone()], weights.to_vec()].concat(),
            on_both!(|b, x| vec![swiglu(b, &x[0], [&x[2], &x[3], &x[4]])?]),
            |x| {
                let gate = exact::activation(&exact::linear(&x[0], &x[2], None), Activation::Silu);
                let up = exact::linear(&x[0], &x[3], None);
                vec![exact::linear(&exact::multiply(&gate, &up), &x[4], None)]
            },
        )
        .vjp(&[0], &[0], on_both!(|b, x| vec![swiglu_backward(b, &x[1], [&x[2], &x[3], &x[4]], &x[5])?]))
    };
    vec![
        case(format!("swiglu {tokens}x{hidden}->{intermediate}"), x.clone()),
        case(
            format!("swiglu {tokens}x{hidden}->{intermediate}, one forward for {COPIES} gradients"),
            repeated(&x, COPIES),
        ),
    ]
}

pub fn swiglu<B: Backend>(b: &B, x: &B::Tensor, [gate, up, down]: [&B::Tensor; 3]) -> Result<B::Tensor> {
    let activated = b.activation(&b.linear(x, gate, None)?, Activation::Silu)?;
    b.linear(&b.multiply(&activated, &b.linear(x, up, None)?)?, down, None)
}

/// dx of the SwiGLU MLP for dy (K, T, D) from the forward at x (1 or K, T, D): the saved
/// activations broadcast over the gradients' batch.
pub fn swiglu_backward<B: Backend>(
    b: &B,
    x: &B::Tensor,
    [gate, up, down]: [&B::Tensor; 3],
    dy: &B::Tensor,
) -> Result<B::Tensor> {
    let (activated, slope) = b.activation_with_derivative(&b.linear(x, gate, None)?, Activation::Silu)?;
    let up_values = b.linear(x, up, None)?;
    let d_hidden = b.linear_backward(dy, down)?;
    let d_up = b.multiply(&d_hidden, &activated)?;
    let d_gate = b.multiply(&b.multiply(&d_hidden, &up_values)?, &slope)?;
    b.add(&b.linear_backward(&d_gate, gate)?, &b.linear_backward(&d_up, up)?)
}
