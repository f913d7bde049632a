//! Every method on the random-checkpoint fixtures, explained on the WebGPU backend, equals the
//! CPU backend element by element within 1e-4 (`common::compare`). Without a WebGPU adapter the
//! tests skip loudly, or fail where the run requires the GPU path (`common::webgpu`).

mod common;

use common::vit_b32;
use common::webgpu::webgpu_or_skip;
use common::{assert_close, fixture, read_json};
use sightline::backend::cpu::CpuBackend;
use sightline::backend::prelude::*;
use sightline::default_model::default_model_files;
use sightline::explain::{
    explain_with_fallback, Explainer, Explanation, HeadFusion, ImageInput, Method, MethodOptions, Request,
};
use sightline::loader::ModelFiles;
use sightline::quantize::{quantize_model, QuantFormat, QuantizeOptions};

/// f32 against f32: the kernels sum in a different order than the CPU's products and loops.
const TOLERANCE: f32 = 1e-4;

struct Fixture {
    files: ModelFiles,
    image: Vec<u8>,
    texts: Vec<String>,
    target: usize,
    options: MethodOptions,
}

fn load(name: &str) -> Fixture {
    let folder = fixture(name);
    let expected = read_json(&folder.join("expected.json"));
    Fixture {
        files: ModelFiles::from_path(&folder).expect("fixture model files"),
        image: std::fs::read(folder.join("image.png")).unwrap(),
        texts: expected["texts"].as_array().unwrap().iter().map(|t| t.as_str().unwrap().to_string()).collect(),
        target: expected["target"].as_u64().unwrap() as usize,
        options: MethodOptions {
            steps: expected["options"]["steps"].as_u64().unwrap() as usize,
            seed: expected["options"]["seed"].as_u64().unwrap(),
            ..MethodOptions::default()
        },
    }
}

fn explain<B: Backend>(explainer: &Explainer<B>, f: &Fixture, method: Method, options: MethodOptions) -> Explanation {
    let request = Request { image: ImageInput::Encoded(&f.image), texts: &f.texts, target: f.target, method, options };
    explainer.explain(&request).unwrap_or_else(|e| panic!("{method} on {}: {e}", explainer.backend().name()))
}

fn compare(what: &str, gpu: &Explanation, cpu: &Explanation) {
    assert_eq!(gpu.backend, "webgpu", "{what}: the JSON names the backend that ran");
    assert_close(&format!("{what} logits"), &gpu.logits, &cpu.logits, TOLERANCE);
    assert_close(&format!("{what} patch_scores"), &gpu.patch_scores, &cpu.patch_scores, TOLERANCE);
    for (name, ours, reference) in
        [("pixel_scores", &gpu.pixel_scores, &cpu.pixel_scores), ("text_scores", &gpu.text_scores, &cpu.text_scores)]
    {
        match (ours, reference) {
            (Some(a), Some(e)) => assert_close(&format!("{what} {name}"), a, e, TOLERANCE),
            (None, None) => {}
            _ => panic!("{what}: {name} present on one backend only"),
        }
    }
}

fn check_every_method(name: &str) {
    let f = load(name);
    check_every_method_of(name, &f.files, &f);
}

/// Every method (and a non-default rollout) of the model `files` on `f`'s image and texts.
fn check_every_method_of(label: &str, files: &ModelFiles, f: &Fixture) {
    let Some(gpu) = webgpu_or_skip(label) else { return };
    let cpu_explainer = Explainer::load(CpuBackend, files).unwrap();
    let gpu_explainer = Explainer::load(gpu, files).unwrap();
    let base = f.options;
    let mut cases: Vec<(String, Method, MethodOptions)> =
        Method::CLIP.iter().map(|m| (m.name().to_string(), *m, base)).collect();
    cases.push((
        "rollout max discard".into(),
        Method::Rollout,
        MethodOptions { head_fusion: HeadFusion::Max, discard_ratio: 0.5, ..base },
    ));
    for (what, method, options) in cases {
        let cpu = explain(&cpu_explainer, f, method, options);
        let gpu = explain(&gpu_explainer, f, method, options);
        compare(&format!("{label} {what}"), &gpu, &cpu);
    }
}

#[test]
fn random_a_every_method_matches_cpu() {
    check_every_method("clip-random-a");
}

#[test]
fn random_b_every_method_matches_cpu() {
    check_every_method("clip-random-b");
}

#[test]
fn default_model_every_method_matches_cpu() {
    let f = load("clip-random-a");
    check_every_method_of("default model", &default_model_files().unwrap(), &f);
}

/// Quantized linears run through the dequantizing matmul (q8_0, q4_0, q4_k; rows that fit no
/// block fall back to f16 as `quantize` plans it).
#[test]
fn quantized_default_models_every_method_matches_cpu() {
    let f = load("clip-random-a");
    for format in [QuantFormat::Q8_0, QuantFormat::Q4_0, QuantFormat::Q4K] {
        let options = QuantizeOptions { format, quantize_embeddings: false };
        let model = quantize_model(&default_model_files().unwrap(), &options).unwrap();
        let files = ModelFiles::from_gguf_bytes(format!("default {}", format.name()), model.bytes).unwrap();
        check_every_method_of(&format!("default model {}", format.name()), &files, &f);
    }
}

/// At openai/clip-vit-base-patch32's real size (50 tokens, 12 + 12 layers, products up to 768 ×
/// 3072, the 49408-row token table), on tools/make_vit_b32_reference.py's random weights: a
/// forward-only method, the pixel gradient, and Chefer's relevance rows on the device.
#[test]
fn vit_b32_size_matches_cpu() {
    let Some(gpu) = webgpu_or_skip("vit_b32_size_matches_cpu") else { return };
    let reference = vit_b32::load();
    let f = Fixture {
        files: reference.files,
        image: reference.image,
        texts: reference.texts,
        target: reference.target,
        options: reference.options,
    };
    let cpu_explainer = Explainer::load(CpuBackend, &f.files).unwrap();
    let gpu_explainer = Explainer::load(gpu, &f.files).unwrap();
    for method in [Method::Rollout, Method::Gradient, Method::Chefer] {
        let (cpu, gpu) =
            (explain(&cpu_explainer, &f, method, f.options), explain(&gpu_explainer, &f, method, f.options));
        compare(&format!("vit-b32 {method}"), &gpu, &cpu);
    }
}

/// Batches split by the adapter's binding limit give the same maps as one batch.
#[test]
fn split_batches_match_one_batch() {
    let Some(gpu) = webgpu_or_skip("split_batches_match_one_batch") else { return };
    let f = load("clip-random-a");
    let mut explainer = Explainer::load(gpu, &f.files).unwrap();
    let options = MethodOptions { steps: 5, ..f.options };
    let whole = explain(&explainer, &f, Method::IntegratedGradients, options);
    explainer.batch_budget_bytes = 1;
    let split = explain(&explainer, &f, Method::IntegratedGradients, options);
    assert_close("split integrated gradients", &split.patch_scores, &whole.patch_scores, 1e-5);
}

/// The device is lost between two batches of integrated gradients: the explanation is redone on
/// the CPU, says so, and equals the CPU's own result.
#[test]
fn device_loss_mid_explanation_falls_back_to_cpu() {
    let Some(gpu) = webgpu_or_skip("device_loss_mid_explanation_falls_back_to_cpu") else { return };
    let f = load("clip-random-a");
    let mut explainer = Explainer::load(gpu.clone(), &f.files).unwrap();
    // One image per batch, so the loss lands between batches of the same explanation.
    explainer.batch_budget_bytes = 1;
    let options = MethodOptions { steps: 3, ..f.options };
    let request = Request {
        image: ImageInput::Encoded(&f.image),
        texts: &f.texts,
        target: f.target,
        method: Method::IntegratedGradients,
        options,
    };
    let lose_device_after_first_batch = |done: usize, _total: usize| {
        if done == 1 {
            gpu.simulate_device_loss();
        }
    };
    let cpu = || Explainer::load(CpuBackend, &f.files);
    let explanation = explain_with_fallback(&explainer, cpu, &request, &lose_device_after_first_batch).unwrap();
    assert_eq!(explanation.backend, "cpu");
    assert!(
        explanation.warnings.iter().any(|w| w.contains("webgpu backend failed")),
        "a visible notice: {:?}",
        explanation.warnings
    );
    let reference = explain(&Explainer::load(CpuBackend, &f.files).unwrap(), &f, Method::IntegratedGradients, options);
    assert_eq!(explanation.patch_scores, reference.patch_scores);
}

/// `sightline explain --backend webgpu` runs the kernels and its JSON says so.
#[test]
fn cli_explains_on_webgpu() {
    if webgpu_or_skip("cli_explains_on_webgpu").is_none() {
        return;
    }
    let folder = fixture("clip-random-a");
    let image = folder.join("image.png");
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_sightline"))
        .args(["explain", "--model"])
        .arg(&folder)
        .arg("--image")
        .arg(&image)
        .args(["--text", "a red circle", "--method", "gradient", "--backend", "webgpu", "--json", "-"])
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let json: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(json["backend"], "webgpu");
}
