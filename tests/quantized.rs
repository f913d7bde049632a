//! Quantized models: every format round-trips (quantize, load, explain with every method), each
//! format's model matches the model of its dequantized weights, and gradients through quantized
//! linears match finite differences of the function they belong to.

mod common;

use candle_core::quantized::GgmlDType;
use common::{assert_close, fixture};
use safetensors::tensor::{Dtype, TensorView};
use sightline::backend::cpu::CpuBackend;
use sightline::backend::prelude::*;
use sightline::bench::random_clip_safetensors;
use sightline::config::ClipConfig;
use sightline::eval::{drift, EvalSettings};
use sightline::explain::noise::standard_normals;
use sightline::explain::{Explainer, ImageInput, Method, MethodOptions, Request};
use sightline::loader::{HostTensor, ModelFiles, QuantizedMatrix, Weights};
use sightline::quantize::{quantize_model, QuantFormat, QuantizeOptions};
use std::process::Command;

fn random_a() -> ModelFiles {
    ModelFiles::from_path(&fixture("clip-random-a")).unwrap()
}

/// random-a's architecture with MLPs of 256, so that fc2's rows are whole q4_k blocks while
/// every other row (32) must fall back.
fn random_with_mlp_256() -> ModelFiles {
    let base = random_a();
    let mut config: serde_json::Value = serde_json::from_str(&base.config_json).unwrap();
    config["vision_config"]["intermediate_size"] = 256.into();
    config["text_config"]["intermediate_size"] = 256.into();
    let config_json = config.to_string();
    let weights = random_clip_safetensors(&ClipConfig::from_json(&config_json).unwrap(), 11).unwrap();
    ModelFiles { config_json, weights: weights.into(), ..base }
}

fn quantized(files: &ModelFiles, format: QuantFormat) -> ModelFiles {
    let options = QuantizeOptions { format, quantize_embeddings: false };
    let model = quantize_model(files, &options).unwrap();
    ModelFiles::from_gguf_bytes(format!("{} {}", files.name, format.name()), model.bytes).unwrap()
}

/// The same tensors in f32 safetensors, quantized ones expanded: the model a quantized model
/// claims to be.
fn dequantized(files: &ModelFiles) -> ModelFiles {
    let weights = Weights::from_files(&files.weights).unwrap();
    let tensors: Vec<(String, Vec<usize>, Vec<u8>)> = weights
        .tensor_shapes()
        .into_iter()
        .map(|(name, shape)| {
            let values = weights.get(&name, &shape).unwrap().data;
            (name, shape, values.iter().flat_map(|v| v.to_le_bytes()).collect())
        })
        .collect();
    let views: Vec<(String, TensorView)> =
        tensors.iter().map(|(n, s, d)| (n.clone(), TensorView::new(Dtype::F32, s.clone(), d).unwrap())).collect();
    ModelFiles { weights: safetensors::serialize(views, None).unwrap().into(), ..files.clone() }
}

fn explain(explainer: &Explainer<CpuBackend>, method: Method) -> sightline::explain::Explanation {
    let image = std::fs::read(fixture("clip-random-a/image.png")).unwrap();
    let texts = vec!["a photo of a cat".to_string(), "a red circle".to_string()];
    let options = MethodOptions { steps: 4, ..MethodOptions::default() };
    explainer
        .explain(&Request { image: ImageInput::Encoded(&image), texts: &texts, target: 1, method, options })
        .unwrap()
}

#[test]
fn every_format_round_trips_through_every_method() {
    for format in QuantFormat::ALL {
        let source = if format == QuantFormat::Q4K { random_with_mlp_256() } else { random_a() };
        let explainer = Explainer::load(CpuBackend, &quantized(&source, format)).unwrap();
        assert_eq!(explainer.info.dtype, format.name());
        for method in Method::CLIP {
            let explanation = explain(&explainer, method);
            assert!(
                explanation.patch_scores.iter().chain(&explanation.logits).all(|v| v.is_finite()),
                "{format:?} {method}: non-finite scores"
            );
        }
    }
}

#[test]
fn quantize_keeps_the_plan_and_says_where_it_fell_back() {
    let options = QuantizeOptions { format: QuantFormat::Q4K, quantize_embeddings: false };
    let model = quantize_model(&random_with_mlp_256(), &options).unwrap();
    let dtype_of = |name: &str| model.tensors.iter().find(|t| t.name == name).unwrap().dtype;
    assert_eq!(dtype_of("vision_model.encoder.layers.0.mlp.fc2.weight"), GgmlDType::Q4K);
    assert_eq!(dtype_of("vision_model.encoder.layers.0.mlp.fc1.weight"), GgmlDType::Q4_0);
    assert_eq!(dtype_of("visual_projection.weight"), GgmlDType::Q8_0);
    assert_eq!(dtype_of("text_projection.weight"), GgmlDType::Q8_0);
    assert_eq!(dtype_of("text_model.embeddings.token_embedding.weight"), GgmlDType::Q8_0);
    assert_eq!(dtype_of("vision_model.embeddings.patch_embedding.weight"), GgmlDType::F16);
    assert_eq!(dtype_of("vision_model.pre_layrnorm.weight"), GgmlDType::F32);
    assert_eq!(dtype_of("vision_model.encoder.layers.0.self_attn.q_proj.bias"), GgmlDType::F32);
    let fallbacks = model.fallback_lines().join("\n");
    assert!(
        fallbacks.contains("rows of 32 values are q4_0 instead of q4_k (blocks of 256 do not divide 32)"),
        "{fallbacks}"
    );
}

/// Each format's forward, gradients and relevance against the same model with its weights
/// expanded to f32: the quantized products expand chunks of the same values and multiply in f32,
/// so the two differ only in the order of floating-point sums.
#[test]
fn every_format_matches_the_model_of_its_dequantized_weights() {
    const TOLERANCE: f32 = 1e-4;
    let image = image::load_from_memory(&std::fs::read(fixture("clip-random-a/image.png")).unwrap()).unwrap();
    for format in QuantFormat::ALL {
        let source = if format == QuantFormat::Q4K { random_with_mlp_256() } else { random_a() };
        let files = quantized(&source, format);
        let quantized_model = Explainer::load(CpuBackend, &files).unwrap();
        let reference = Explainer::load(CpuBackend, &dequantized(&files)).unwrap();
        let name = format.name();
        let pixels = reference.prepare_image(&image.to_rgb8()).pixels.data;
        let (ia, ib) = (
            quantized_model.image_embeddings(1, |_| pixels.clone()).unwrap(),
            reference.image_embeddings(1, |_| pixels.clone()).unwrap(),
        );
        assert_close(&format!("{name} image embedding"), &ia[0], &ib[0], TOLERANCE);
        let texts = vec!["a red circle".to_string()];
        let (ta, tb) = (quantized_model.text_embeddings(&texts).unwrap(), reference.text_embeddings(&texts).unwrap());
        assert_close(&format!("{name} text embedding"), &ta[0], &tb[0], TOLERANCE);
        for method in [Method::Attention, Method::Gradient, Method::Chefer] {
            let (a, b) = (explain(&quantized_model, method), explain(&reference, method));
            let what = format!("{name} {method}");
            assert_close(&format!("{what} logits"), &a.logits, &b.logits, TOLERANCE);
            assert_close(&format!("{what} patch_scores"), &a.patch_scores, &b.patch_scores, TOLERANCE);
            if let (Some(pa), Some(pb)) = (&a.pixel_scores, &b.pixel_scores) {
                assert_close(&format!("{what} pixel_scores"), pa, pb, TOLERANCE);
            }
            let (sa, sb) = (a.text_scores.unwrap(), b.text_scores.unwrap());
            assert_close(&format!("{what} text_scores"), &sa, &sb, TOLERANCE);
        }
    }
}

fn normals(seed: u64, count: usize) -> Vec<f32> {
    standard_normals(seed, count).into_iter().map(|z| z as f32).collect()
}

#[test]
fn gradients_through_quantized_linears_match_finite_differences() {
    let backend = CpuBackend;
    // 5000 rows of 64: more than one chunk of rows is expanded in the backward pass.
    let (outputs, inputs) = (5000, 64);
    for dtype in [GgmlDType::Q8_0, GgmlDType::Q4_0, GgmlDType::Q4K] {
        let inputs = if dtype == GgmlDType::Q4K { 256 } else { inputs };
        let weight = QuantizedMatrix::quantize(&normals(1, outputs * inputs), outputs, inputs, dtype).unwrap();
        let dense = backend.upload(&weight.dequantize().unwrap()).unwrap();
        let x = HostTensor::new(normals(2, 2 * 3 * inputs), vec![2, 3, inputs]);
        let dy = backend.upload(&HostTensor::new(normals(3, 2 * 3 * outputs), vec![2, 3, outputs])).unwrap();
        let dx = backend.download(&backend.quantized_linear_backward(&dy, &weight).unwrap()).unwrap();
        assert_eq!(dx.shape, [2, 3, inputs]);
        // L(x) = Σ dy ⊙ (x · dequant(W)ᵀ), the function whose gradient the backward claims.
        let loss = |x: &HostTensor| -> f64 {
            let y = backend.download(&backend.linear(&backend.upload(x).unwrap(), &dense, None).unwrap()).unwrap();
            let dy = backend.download(&dy).unwrap();
            y.data.iter().zip(&dy.data).map(|(a, b)| *a as f64 * *b as f64).sum()
        };
        let step = 1e-2;
        for index in [0, 17, inputs + 5, 2 * 3 * inputs - 1] {
            let (mut plus, mut minus) = (x.clone(), x.clone());
            plus.data[index] += step;
            minus.data[index] -= step;
            let numeric = (loss(&plus) - loss(&minus)) / (2.0 * step as f64);
            let analytic = dx.data[index] as f64;
            assert!(
                (numeric - analytic).abs() <= 1e-2 * numeric.abs().max(1.0),
                "{dtype:?} x[{index}]: finite differences {numeric}, backward {analytic}"
            );
        }
        let expected = backend.download(&backend.linear_backward(&dy, &dense).unwrap()).unwrap();
        assert_close("dx against the dense backward", &dx.data, &expected.data, 1e-4);
    }
}

#[test]
fn quantized_forward_matches_the_dense_product_of_its_values() {
    let backend = CpuBackend;
    for dtype in [GgmlDType::Q8_0, GgmlDType::Q4_0, GgmlDType::Q4K] {
        let (outputs, inputs) = (48, 256);
        let weight = QuantizedMatrix::quantize(&normals(4, outputs * inputs), outputs, inputs, dtype).unwrap();
        let dense = backend.upload(&weight.dequantize().unwrap()).unwrap();
        let bias = backend.upload(&HostTensor::new(normals(5, outputs), vec![outputs])).unwrap();
        let x = backend.upload(&HostTensor::new(normals(6, 4 * inputs), vec![1, 4, inputs])).unwrap();
        let y = backend.download(&backend.quantized_linear(&x, &weight, Some(&bias)).unwrap()).unwrap();
        let expected = backend.download(&backend.linear(&x, &dense, Some(&bias)).unwrap()).unwrap();
        assert_eq!(y.shape, [1, 4, outputs]);
        assert_close(&format!("{dtype:?} forward"), &y.data, &expected.data, 1e-4);
    }
}

#[test]
fn quantized_embedding_rows_are_the_dequantized_rows() {
    let table = QuantizedMatrix::quantize(&normals(7, 100 * 32), 100, 32, GgmlDType::Q8_0).unwrap();
    let all = table.dequantize().unwrap();
    let rows = table.rows(&[3, 99, 3]).unwrap();
    assert_eq!(rows.shape, [3, 32]);
    assert_eq!(&rows.data[..32], &all.data[3 * 32..4 * 32]);
    assert_eq!(&rows.data[32..64], &all.data[99 * 32..100 * 32]);
    let error = table.rows(&[100]).unwrap_err().to_string();
    assert!(error.contains("token id 100 is outside the vocabulary of 100 tokens"), "{error}");
}

#[test]
fn drift_of_a_model_against_itself_is_none_and_against_q8_0_is_small() {
    let original = Explainer::load(CpuBackend, &random_a()).unwrap();
    let q8 = Explainer::load(CpuBackend, &quantized(&random_a(), QuantFormat::Q8_0)).unwrap();
    let settings = EvalSettings {
        scenes: 4,
        methods: vec![Method::Chefer, Method::Gradient],
        steps: 4,
        ..EvalSettings::default()
    };
    let same = drift(&original, &original, &settings, |_, _| {}).unwrap();
    for row in &same.rows {
        assert_eq!(row.top_patch_agreement, 1.0, "{}", row.method);
        assert_eq!(row.pointing_game_difference, 0.0, "{}", row.method);
        assert!(row.mean_spearman.is_nan() || row.mean_spearman > 0.999_999, "{}: {}", row.method, row.mean_spearman);
    }
    let report = drift(&original, &q8, &settings, |_, _| {}).unwrap();
    assert_eq!(report.dtype_b, "q8_0");
    assert!(report.rows.iter().all(|row| row.mean_spearman > 0.9), "{}", report.to_markdown());
}

#[test]
fn the_cli_quantizes_reports_fallbacks_and_explains_the_result() {
    let out = std::env::temp_dir().join(format!("sightline-quantized-{}.gguf", std::process::id()));
    let run = |args: &[&str]| {
        let output = Command::new(env!("CARGO_BIN_EXE_sightline")).args(args).output().unwrap();
        let text = String::from_utf8_lossy(&output.stdout).into_owned() + &String::from_utf8_lossy(&output.stderr);
        assert!(output.status.success(), "{args:?}: {text}");
        text
    };
    let model = fixture("clip-random-a");
    let out_arg = out.to_str().unwrap();
    let said = run(&["quantize", "--model", model.to_str().unwrap(), "--to", "q4_k", "--out", out_arg]);
    assert!(said.contains("fallback: ") && said.contains("q4_0 instead of q4_k"), "{said}");
    let image = fixture("clip-random-a/image.png");
    let explained = run(&[
        "explain",
        "--model",
        out_arg,
        "--image",
        image.to_str().unwrap(),
        "--text",
        "a cat",
        "--method",
        "chefer",
    ]);
    let _ = std::fs::remove_file(&out);
    assert!(explained.contains("\"dtype\": \"q4_k\""), "{explained}");
}

#[test]
fn quantized_embeddings_load_and_explain() {
    let options = QuantizeOptions { format: QuantFormat::Q4_0, quantize_embeddings: true };
    let model = quantize_model(&random_a(), &options).unwrap();
    let dtype_of = |name: &str| model.tensors.iter().find(|t| t.name == name).unwrap().dtype;
    assert_eq!(dtype_of("text_model.embeddings.token_embedding.weight"), GgmlDType::Q4_0);
    assert_eq!(dtype_of("vision_model.embeddings.position_embedding.weight"), GgmlDType::Q4_0);
    assert_eq!(dtype_of("visual_projection.weight"), GgmlDType::Q4_0);
    // Patches of 8 pixels: rows of 8 values are not whole blocks of 32.
    assert_eq!(dtype_of("vision_model.embeddings.patch_embedding.weight"), GgmlDType::F16);
    let files = ModelFiles::from_gguf_bytes("embeddings q4_0".into(), model.bytes).unwrap();
    let explainer = Explainer::load(CpuBackend, &files).unwrap();
    for method in [Method::Chefer, Method::Gradient] {
        assert!(explain(&explainer, method).patch_scores.iter().all(|v| v.is_finite()), "{method}");
    }
}

#[test]
fn blocks_at_an_odd_address_load_like_aligned_ones() {
    let matrix = QuantizedMatrix::quantize(&normals(8, 4 * 64), 4, 64, GgmlDType::Q4_0).unwrap();
    let mut shifted = vec![0u8; matrix.block_bytes().len() + 1];
    shifted[1..].copy_from_slice(matrix.block_bytes());
    let reloaded = QuantizedMatrix::from_blocks(GgmlDType::Q4_0, 4, 64, &shifted[1..], "odd").unwrap();
    assert_eq!(reloaded.dequantize().unwrap(), matrix.dequantize().unwrap());
    let error = QuantizedMatrix::from_blocks(GgmlDType::Q4_0, 4, 64, &shifted, "long").unwrap_err().to_string();
    assert!(error.contains("tensor `long`: 145 bytes do not hold a 4 × 64 q4_0 matrix"), "{error}");
}
