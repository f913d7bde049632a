//! Every WGSL kernel against the CPU backend (the reference) on random inputs: sizes that are not
//! multiples of the 64 × 64 matmul block or the 16-deep K tile, and degenerate ones (1 token,
//! 1 head, 1 row). Without a WebGPU adapter the tests skip loudly, or fail where the run requires the GPU path
//! (`common::webgpu`).

mod common;

use common::assert_close;
use common::webgpu::webgpu_or_skip;
use sightline::backend::cpu::CpuBackend;
use sightline::backend::webgpu::WebGpuBackend;
use sightline::backend::Backend;
use sightline::config::Activation;
use sightline::explain::noise::standard_normals;
use sightline::loader::{HostTensor, HostView};
use std::sync::OnceLock;

/// f32 kernels sum in a different order than candle's gemm and the CPU's loops.
const TOLERANCE: f32 = 1e-4;

/// One device for the whole file, so tests also exercise buffer reuse across ops.
fn gpu() -> Option<&'static WebGpuBackend> {
    static GPU: OnceLock<Option<WebGpuBackend>> = OnceLock::new();
    GPU.get_or_init(|| {
        let backend = webgpu_or_skip("webgpu_kernels")?;
        eprintln!("webgpu kernels on {}", backend.adapter_description());
        Some(backend)
    })
    .as_ref()
}

fn random(seed: u64, shape: &[usize], scale: f32) -> HostTensor {
    let n = shape.iter().product();
    HostTensor::new(standard_normals(seed, n).into_iter().map(|z| z as f32 * scale).collect(), shape.to_vec())
}

/// Runs `$body` (a Vec of output tensors built from the uploaded `$inputs`) on both backends and
/// compares every output.
macro_rules! compare {
    ($name:expr, $inputs:expr, |$b:ident, $x:ident| $body:expr) => {{
        let Some(gpu) = gpu() else { return };
        let inputs: Vec<HostTensor> = $inputs;
        let expected: Vec<HostTensor> = {
            let $b = &CpuBackend;
            let $x: Vec<_> = inputs.iter().map(|t| $b.upload(t).unwrap()).collect();
            let outputs: Vec<_> = $body;
            outputs.iter().map(|t| $b.download(t).unwrap()).collect()
        };
        let actual: Vec<HostTensor> = {
            let $b = gpu;
            let $x: Vec<_> = inputs.iter().map(|t| $b.upload(t).unwrap()).collect();
            let outputs: Vec<_> = $body;
            outputs.iter().map(|t| $b.download(t).unwrap()).collect()
        };
        for (i, (a, e)) in actual.iter().zip(&expected).enumerate() {
            let what = format!("{} output {i}", $name);
            assert_eq!(a.shape, e.shape, "{what}: shape");
            assert_close(&what, &a.data, &e.data, TOLERANCE);
        }
    }};
}

/// (rows, in, out): below, at and above the 64 block and the 16-deep tile, plus single rows.
const LINEAR_SHAPES: [(usize, usize, usize); 6] =
    [(1, 1, 1), (1, 7, 3), (5, 16, 64), (50, 33, 65), (64, 64, 64), (130, 100, 17)];

#[test]
fn linear_with_and_without_bias() {
    for (seed, &(rows, inputs, outputs)) in LINEAR_SHAPES.iter().enumerate() {
        let seed = seed as u64 * 10;
        let x = random(seed, &[1, rows, inputs], 1.0);
        let w = random(seed + 1, &[outputs, inputs], 0.5);
        let bias = random(seed + 2, &[outputs], 1.0);
        compare!(format!("linear {rows}x{inputs}->{outputs}"), vec![x, w, bias], |b, x| vec![
            b.linear(&x[0], &x[1], Some(&x[2])).unwrap(),
            b.linear(&x[0], &x[1], None).unwrap(),
        ]);
    }
}

#[test]
fn linear_backward() {
    for (seed, &(rows, inputs, outputs)) in LINEAR_SHAPES.iter().enumerate() {
        let seed = 100 + seed as u64 * 10;
        let dy = random(seed, &[2, rows, outputs], 1.0);
        let w = random(seed + 1, &[outputs, inputs], 0.5);
        compare!(format!("linear backward {rows}x{outputs}->{inputs}"), vec![dy, w], |b, x| vec![b
            .linear_backward(&x[0], &x[1])
            .unwrap()]);
    }
}

#[test]
fn layer_norm_forward_and_backward() {
    for (seed, &(rows, width)) in [(1, 1), (1, 5), (3, 64), (7, 300), (50, 768)].iter().enumerate() {
        let seed = 200 + seed as u64 * 10;
        let mut x = random(seed, &[1, rows, width], 2.0);
        x.data.iter_mut().for_each(|v| *v += 3.0);
        let gamma = random(seed + 1, &[width], 1.0);
        let beta = random(seed + 2, &[width], 1.0);
        let dy = random(seed + 3, &[1, rows, width], 1.0);
        compare!(format!("layer norm {rows}x{width}"), vec![x, gamma, beta, dy], |b, x| vec![
            b.layer_norm(&x[0], &x[1], &x[2], 1e-5).unwrap(),
            b.layer_norm_backward(&x[0], &x[1], &x[3], 1e-5).unwrap(),
        ]);
    }
}

#[test]
fn activations_and_their_derivatives() {
    for act in [Activation::QuickGelu, Activation::Gelu, Activation::GeluTanh] {
        for (seed, shape) in [vec![1], vec![3, 7], vec![2, 50, 257]].into_iter().enumerate() {
            // Wide inputs reach the tails where erf, σ and tanh saturate.
            let x = random(300 + seed as u64, &shape, 4.0);
            compare!(format!("{act:?} {shape:?}"), vec![x], |b, x| {
                let (value, derivative) = b.activation_with_derivative(&x[0], act).unwrap();
                vec![b.activation(&x[0], act).unwrap(), value, derivative]
            });
        }
    }
}

#[test]
fn elementwise_add_and_multiply() {
    for (seed, shape) in [vec![1], vec![1, 1, 1], vec![3, 77, 65]].into_iter().enumerate() {
        let a = random(400 + seed as u64, &shape, 1.0);
        let c = random(410 + seed as u64, &shape, 1.0);
        compare!(format!("add/multiply {shape:?}"), vec![a, c], |b, x| vec![
            b.add(&x[0], &x[1]).unwrap(),
            b.multiply(&x[0], &x[1]).unwrap(),
        ]);
    }
}

/// (batch, tokens, hidden, heads): one token, one head, odd token counts, head_dim above 64.
const ATTENTION_SHAPES: [(usize, usize, usize, usize); 6] =
    [(1, 1, 8, 1), (1, 1, 16, 2), (2, 5, 12, 3), (1, 50, 64, 4), (3, 17, 130, 1), (1, 77, 96, 12)];

#[test]
fn attention_forward_causal_and_not() {
    for (seed, &(batch, tokens, hidden, heads)) in ATTENTION_SHAPES.iter().enumerate() {
        let seed = 500 + seed as u64 * 10;
        let shape = [batch, tokens, hidden];
        let inputs = vec![random(seed, &shape, 1.5), random(seed + 1, &shape, 1.5), random(seed + 2, &shape, 1.0)];
        for causal in [false, true] {
            compare!(format!("attention {shape:?} heads {heads} causal {causal}"), inputs.clone(), |b, x| {
                let (out, probs) = b.attention(&x[0], &x[1], &x[2], heads, causal).unwrap();
                vec![out, probs]
            });
        }
    }
}

#[test]
fn attention_backward_all_gradients() {
    for (seed, &(batch, tokens, hidden, heads)) in ATTENTION_SHAPES.iter().enumerate() {
        let seed = 600 + seed as u64 * 10;
        let shape = [batch, tokens, hidden];
        let (q, k, v) = (random(seed, &shape, 1.5), random(seed + 1, &shape, 1.5), random(seed + 2, &shape, 1.0));
        let d_out = random(seed + 3, &shape, 1.0);
        for causal in [false, true] {
            // The probabilities come from the reference, so only the backward is compared.
            let cpu = CpuBackend;
            let up = |t: &HostTensor| cpu.upload(t).unwrap();
            let probs = cpu.download(&cpu.attention(&up(&q), &up(&k), &up(&v), heads, causal).unwrap().1).unwrap();
            let inputs = vec![q.clone(), k.clone(), v.clone(), probs, d_out.clone()];
            compare!(format!("attention backward {shape:?} heads {heads} causal {causal}"), inputs, |b, x| {
                let g = b.attention_backward(&x[0], &x[1], &x[2], &x[3], &x[4], heads).unwrap();
                vec![g.d_query, g.d_key, g.d_value, g.d_probs]
            });
        }
    }
}

#[test]
fn patch_embedding_forward_and_backward() {
    // (batch, channels, image size, patch, hidden): sizes that leave pixels beyond the last patch.
    for (seed, &(batch, channels, size, patch, hidden)) in
        [(1, 3, 4, 4, 5), (2, 3, 10, 3, 7), (1, 1, 9, 2, 70), (3, 3, 32, 8, 64)].iter().enumerate()
    {
        let seed = 700 + seed as u64 * 10;
        let side = size / patch;
        let pixels = random(seed, &[batch, channels, size, size], 1.0);
        let w = random(seed + 1, &[hidden, channels, patch, patch], 0.3);
        let d_patches = random(seed + 2, &[batch, side * side, hidden], 1.0);
        compare!(
            format!("patch embed {size}/{patch} x{channels} -> {hidden}"),
            vec![pixels, w, d_patches],
            |b, x| vec![
                b.patch_embed(&x[0], &x[1], patch).unwrap(),
                b.patch_embed_backward(&x[2], &x[1], patch, size).unwrap(),
            ]
        );
    }
}

#[test]
fn token_plumbing() {
    for (seed, &(batch, tokens, hidden)) in [(1, 1, 1), (1, 2, 3), (4, 50, 33)].iter().enumerate() {
        let seed = 800 + seed as u64 * 10;
        let x = random(seed, &[batch, tokens, hidden], 1.0);
        let class = random(seed + 1, &[hidden], 1.0);
        let positions = random(seed + 2, &[tokens + 3, hidden], 1.0);
        let dy = random(seed + 3, &[batch, hidden], 1.0);
        let last = tokens - 1;
        compare!(format!("tokens {batch}x{tokens}x{hidden}"), vec![x, class, positions, dy], |b, x| vec![
            b.prepend_class(&x[0], &x[1]).unwrap(),
            b.add_positions(&x[0], &x[2]).unwrap(),
            b.select_token(&x[0], 0).unwrap(),
            b.select_token(&x[0], last).unwrap(),
            b.select_token_backward(&x[3], 0, tokens).unwrap(),
            b.select_token_backward(&x[3], last, tokens).unwrap(),
            b.drop_first_token(&x[0]).unwrap(),
        ]);
    }
}

#[test]
fn gather_rows_of_a_table() {
    let table = random(900, &[11, 6], 1.0);
    for ids in [vec![0u32], vec![10, 0, 3, 3, 7]] {
        compare!(format!("gather {ids:?}"), vec![table.clone()], |b, x| vec![b.gather_rows(&x[0], &ids).unwrap()]);
    }
}

#[test]
fn bad_inputs_are_errors_not_panics() {
    let Some(gpu) = gpu() else { return };
    let table = gpu.upload(&random(901, &[4, 3], 1.0)).unwrap();
    assert!(gpu.gather_rows(&table, &[4]).is_err(), "an id outside the table");
    let x = gpu.upload(&random(902, &[1, 2, 3], 1.0)).unwrap();
    let w = gpu.upload(&random(903, &[5, 4], 1.0)).unwrap();
    assert!(gpu.linear(&x, &w, None).is_err(), "mismatched linear");
    assert!(gpu.attention(&x, &x, &x, 2, false).is_err(), "3 columns into 2 heads");
    assert!(gpu.select_token(&x, 2).is_err(), "token beyond the sequence");
    // The device is still usable afterwards.
    assert_eq!(gpu.download(&gpu.add(&x, &x).unwrap()).unwrap().data.len(), 6);
}

#[test]
fn pipelines_are_compiled_once() {
    if gpu().is_none() {
        return;
    }
    // A device of its own: the shared one compiles kernels for tests running in parallel.
    let gpu = WebGpuBackend::new().unwrap();
    let x = gpu.upload(&random(904, &[2, 3, 8], 1.0)).unwrap();
    gpu.download(&gpu.activation(&x, Activation::Gelu).unwrap()).unwrap();
    let compiled = gpu.compiled_pipelines();
    for _ in 0..3 {
        gpu.download(&gpu.activation(&x, Activation::Gelu).unwrap()).unwrap();
    }
    assert_eq!(gpu.compiled_pipelines(), compiled);
}

fn views(tensors: &[HostTensor]) -> Vec<HostView<'_>> {
    tensors.iter().map(HostTensor::view).collect()
}

#[test]
fn chefer_relevance_on_the_device() {
    let Some(gpu) = gpu() else { return };
    // (layers, batch, heads, tokens): one token and one head; batch 2 (only element 0 counts).
    for (seed, &(layers, batch, heads, tokens)) in [(1, 1, 1, 1), (3, 2, 4, 17), (2, 1, 12, 50)].iter().enumerate() {
        let seed = 1000 + seed as u64 * 100;
        let shape = [batch, heads, tokens, tokens];
        let probs: Vec<HostTensor> = (0..layers)
            .map(|l| {
                let mut t = random(seed + l as u64, &shape, 0.2);
                t.data.iter_mut().for_each(|v| *v = v.abs());
                t
            })
            .collect();
        let grads: Vec<HostTensor> = (0..layers).map(|l| random(seed + 50 + l as u64, &shape, 1.0)).collect();
        let up = |ts: &[HostTensor]| ts.iter().map(|t| gpu.upload(t).unwrap()).collect::<Vec<_>>();
        let (gpu_probs, gpu_grads) = (up(&probs), up(&grads));
        for row in [0, tokens - 1] {
            let expected = sightline::explain::relevance::chefer(&views(&probs), &views(&grads), row);
            let actual = gpu
                .chefer_row(&gpu_probs.iter().collect::<Vec<_>>(), &gpu_grads.iter().collect::<Vec<_>>(), row)
                .unwrap()
                .expect("the webgpu backend computes Chefer on the device");
            let actual = gpu.download(&actual).unwrap().data;
            assert_close(&format!("chefer {layers}x{heads}x{tokens} row {row}"), &actual, &expected, TOLERANCE);
        }
    }
}

#[test]
fn quantized_linear_forward_and_backward_read_the_blocks_on_the_device() {
    use candle_core::quantized::GgmlDType;
    use sightline::loader::QuantizedMatrix;
    // (rows, in, out): `in` is whole blocks (32, or 256 for q4_k); rows and outputs are not
    // multiples of the 64 block, and q6_k (no kernel) goes through the expanded fallback.
    let cases = [
        (GgmlDType::Q8_0, 1, 32, 1),
        (GgmlDType::Q8_0, 50, 96, 65),
        (GgmlDType::Q4_0, 7, 64, 130),
        (GgmlDType::Q4K, 33, 256, 70),
        (GgmlDType::Q4K, 3, 512, 5),
        (GgmlDType::Q6K, 5, 256, 9),
    ];
    for (seed, &(dtype, rows, inputs, outputs)) in cases.iter().enumerate() {
        let seed = 900 + seed as u64 * 10;
        let w = random(seed, &[outputs, inputs], 0.5);
        let weight = QuantizedMatrix::quantize(&w.data, outputs, inputs, dtype).unwrap();
        let x = random(seed + 1, &[1, rows, inputs], 1.0);
        let dy = random(seed + 2, &[1, rows, outputs], 1.0);
        let bias = random(seed + 3, &[outputs], 1.0);
        compare!(format!("{dtype:?} linear {rows}x{inputs}->{outputs}"), vec![x, dy, bias], |b, x| vec![
            b.quantized_linear(&x[0], &weight, Some(&x[2])).unwrap(),
            b.quantized_linear(&x[0], &weight, None).unwrap(),
            b.quantized_linear_backward(&x[1], &weight).unwrap(),
        ]);
    }
    if let Some(gpu) = gpu() {
        assert_eq!(gpu.packed_quantized_weights(), cases.len() - 1, "every format but q6_k runs on its codes");
    }
}

/// Non-negative maps (B, H, T, T) rounded to a few levels, so that fused values tie and the
/// discard cut has to break ties by index as the host's stable sort does.
fn tied_maps(seed: u64, layers: usize, shape: [usize; 4]) -> Vec<HostTensor> {
    (0..layers)
        .map(|l| {
            let mut t = random(seed + l as u64, &shape, 0.3);
            t.data.iter_mut().for_each(|v| *v = (v.abs() * 8.0).round() / 8.0);
            t
        })
        .collect()
}

#[test]
fn rollout_and_attention_rows_on_the_device() {
    use sightline::explain::relevance::{discarded_entries, last_layer_attention, rollout, HeadFusion};
    let Some(gpu) = gpu() else { return };
    // (layers, batch, heads, tokens): one token, one head, batch 2 (only element 0 counts).
    for (seed, &(layers, batch, heads, tokens)) in [(1, 1, 1, 1), (3, 2, 4, 17), (2, 1, 12, 50)].iter().enumerate() {
        let probs = tied_maps(2000 + seed as u64 * 100, layers, [batch, heads, tokens, tokens]);
        let on_device: Vec<_> = probs.iter().map(|t| gpu.upload(t).unwrap()).collect();
        let refs: Vec<_> = on_device.iter().collect();
        let views = views(&probs);
        for row in [0, tokens - 1] {
            let what = format!("{layers}x{heads}x{tokens} row {row}");
            let attention = gpu.attention_row(refs[layers - 1], row).unwrap().expect("computed on the device");
            let expected = last_layer_attention(&probs[layers - 1].view(), row);
            assert_close(&format!("attention {what}"), &gpu.download(&attention).unwrap().data, &expected, TOLERANCE);
            for fusion in [HeadFusion::Mean, HeadFusion::Max, HeadFusion::Min] {
                for ratio in [0.0, 0.3, 0.9] {
                    let discard = discarded_entries(tokens * tokens, ratio);
                    let actual = gpu.rollout_row(&refs, row, fusion, discard).unwrap().expect("computed on the device");
                    let expected = rollout(&views, row, fusion, discard);
                    let what = format!("rollout {what} {fusion:?} discard {ratio}");
                    assert_close(&what, &gpu.download(&actual).unwrap().data, &expected, TOLERANCE);
                }
            }
        }
    }
}

#[test]
fn gradcam_on_the_device() {
    use sightline::explain::relevance::token_gradcam;
    let Some(gpu) = gpu() else { return };
    for (seed, &(batch, tokens, channels)) in [(1, 1, 1), (2, 17, 300), (1, 50, 768)].iter().enumerate() {
        let hidden = random(3000 + seed as u64, &[batch, tokens, channels], 1.0);
        let gradient = random(3050 + seed as u64, &[batch, tokens, channels], 1.0);
        let weighted = if tokens > 1 { 1..tokens } else { 0..1 };
        let actual = gpu
            .token_gradcam(&gpu.upload(&hidden).unwrap(), &gpu.upload(&gradient).unwrap(), weighted.clone())
            .unwrap()
            .expect("computed on the device");
        let expected = token_gradcam(&hidden.view(), &gradient.view(), weighted);
        assert_close(
            &format!("gradcam {tokens}x{channels}"),
            &gpu.download(&actual).unwrap().data,
            &expected,
            TOLERANCE,
        );
    }
}

#[test]
fn batched_method_inputs_scores_and_sums() {
    // (copies, image side, patch side): a patch grid that leaves a margin (10 = 3 × 3 + 1).
    for &(copies, size, patch) in &[(1, 4, 4), (3, 10, 3), (5, 32, 8)] {
        let grid = size / patch;
        let image = random(4000 + size as u64, &[1, 3, size, size], 1.0);
        let factors: Vec<f32> = (1..=copies).map(|k| k as f32 / copies as f32).collect();
        let occluded = copies.min(grid * grid);
        compare!(format!("copies of a {size}² image"), vec![image], |b, x| vec![
            b.scaled_copies(&x[0], &factors).unwrap(),
            b.occluded_copies(&x[0], grid * grid - occluded, occluded, patch).unwrap(),
        ]);
    }
    for &(rows, width) in &[(1, 1), (3, 512), (33, 700)] {
        let image = random(4100 + rows as u64, &[rows, width], 1.0);
        let text = random(4200 + rows as u64, &[1, width], 1.0);
        let total = random(4300 + rows as u64, &[width], 1.0);
        compare!(format!("scores and sums of {rows}x{width}"), vec![image, text, total], |b, x| {
            let (scores, gradients) = b.scaled_cosine_with_gradients(&x[0], &x[1], 100.0).unwrap();
            vec![
                scores,
                gradients,
                b.sum_batch(&x[0], false, None).unwrap(),
                b.sum_batch(&x[0], true, Some(&x[2])).unwrap(),
            ]
        });
    }
}
