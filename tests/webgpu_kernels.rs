//! Every WGSL kernel against the CPU backend (the reference): the op table of tests/op_cases/
//! (every op of the vocabulary on random inputs, forward and VJP: sizes that are not multiples
//! of the 64 × 64 matmul block or the 16-deep K tile, and degenerate ones — 1 token, 1 head,
//! 1 row), then the relevance methods' kernels against their host arithmetic. Without a WebGPU
//! adapter the tests skip loudly, or fail where the run requires the GPU path (`common::webgpu`).

mod common;
mod op_cases;

use common::assert_close;
use common::webgpu::webgpu_or_skip;
use op_cases::{random, run_on, OpCase};
use sightline::backend::cpu::CpuBackend;
use sightline::backend::prelude::*;
use sightline::backend::webgpu::WebGpuBackend;
use sightline::backend::{Activation, AttentionShape};
use sightline::loader::{HostTensor, HostView};
use sightline::Error;
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

/// Runs every case of the op table on the GPU and on the CPU, forward and VJP (with the same
/// cotangents), and compares each output.
fn compare_on_the_device(cases: Vec<OpCase>) {
    let Some(gpu) = gpu() else { return };
    assert!(!cases.is_empty());
    for case in &cases {
        let mut runs = Vec::new();
        if let Some(forward) = &case.forward {
            runs.push((format!("{} forward", case.name), case.inputs.clone(), &forward.cpu, &forward.gpu));
        }
        if let Some(vjp) = &case.vjp {
            let inputs = [case.inputs.clone(), case.cotangents(vjp)].concat();
            runs.push((format!("{} VJP", case.name), inputs, &vjp.runner.cpu, &vjp.runner.gpu));
        }
        for (what, inputs, cpu, on_gpu) in runs {
            let expected = run_on(&CpuBackend, &**cpu, &inputs, &what);
            let actual = run_on(gpu, &**on_gpu, &inputs, &what);
            assert_eq!(actual.len(), expected.len(), "{what}: number of outputs");
            for (k, (a, e)) in actual.iter().zip(&expected).enumerate() {
                let what = format!("{what} output {k}");
                assert_eq!(a.shape, e.shape, "{what}: shape");
                assert_close(&what, &a.data, &e.data, TOLERANCE);
            }
        }
    }
}

#[test]
fn linear_and_norms() {
    compare_on_the_device(op_cases::linear_and_norm_cases());
}

#[test]
fn activations_and_products() {
    compare_on_the_device(op_cases::activation_and_product_cases());
}

#[test]
fn attention() {
    compare_on_the_device(op_cases::attention_cases());
}

#[test]
fn token_rows_and_positions() {
    compare_on_the_device(op_cases::token_cases());
}

#[test]
fn vision_embeddings() {
    compare_on_the_device(op_cases::vision_cases());
}

#[test]
fn batched_methods_ops() {
    compare_on_the_device(op_cases::batch_cases());
}

#[test]
fn bad_shapes_are_internal_errors_not_panics() {
    let Some(gpu) = gpu() else { return };
    // A wrong shape is the engine's bug, never a device failure that the CPU could redo.
    for call in op_cases::bad_calls::bad_calls() {
        let inputs: Vec<_> = call.inputs.iter().map(|t| gpu.upload(t).unwrap()).collect();
        let result = (call.runner.gpu)(gpu, &inputs);
        assert!(matches!(result, Err(Error::Internal(_))), "{}: {:?}", call.name, result.err());
    }
    assert!(AttentionShape::square(1, 2, 3, 2, false).is_err(), "3 columns into 2 heads");
    // The device is still usable afterwards.
    let x = gpu.upload(&random(902, &[1, 2, 3], 1.0)).unwrap();
    assert_eq!(gpu.download(&gpu.add(&x, &x).unwrap()).unwrap().data.len(), 6);
}

#[test]
fn quantized_weights_are_read_as_codes_on_the_device() {
    use candle_core::quantized::GgmlDType;
    use sightline::loader::QuantizedMatrix;
    if gpu().is_none() {
        return;
    }
    // A device of its own: the shared one packs the weights of tests running in parallel.
    let gpu = WebGpuBackend::new().unwrap();
    let formats = [GgmlDType::Q8_0, GgmlDType::Q4_0, GgmlDType::Q4K, GgmlDType::Q6K];
    for (seed, dtype) in formats.into_iter().enumerate() {
        let w = random(910 + seed as u64, &[3, 256], 0.5);
        let weight = QuantizedMatrix::quantize(&w.data, 3, 256, dtype).unwrap();
        let x = gpu.upload(&random(920 + seed as u64, &[1, 2, 256], 1.0)).unwrap();
        gpu.download(&gpu.quantized_linear(&x, &weight, None).unwrap()).unwrap();
    }
    assert_eq!(gpu.packed_quantized_weights(), formats.len() - 1, "every format but q6_k runs on its codes");
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
