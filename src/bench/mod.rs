//! Benchmarks on random weights at the real sizes of published checkpoints: no download needed,
//! and the cost of an explanation does not depend on the weights' values.

mod llava;

pub use llava::{random_llava_files, run_llava, LlavaBenchReport, LLAVA_BENCH_ANSWER_TOKENS, LLAVA_BENCH_PROMPT_WORDS};

use crate::backend::Backend;
use crate::config::ClipConfig;
use crate::error::{Error, Result};
use crate::explain::noise::standard_normals;
use crate::explain::{Explainer, ImageInput, Method, MethodOptions, ModelInfo, Request};
use crate::loader::ModelFiles;
use crate::quantize::{quantize_model, QuantFormat, QuantizeOptions};
use image::RgbImage;
use safetensors::tensor::{Dtype, TensorView};
use serde::Serialize;
use std::collections::BTreeMap;

/// The init scale of transformers' CLIP linear layers, so activations have realistic ranges.
const WEIGHT_STD: f64 = 0.02;

/// A safetensors file with every tensor a CLIP of `config` needs, normal(0, 0.02) except norms
/// (γ = 1, β = 0) and the logit scale (ln 100, CLIP's trained value).
pub fn random_clip_safetensors(config: &ClipConfig, seed: u64) -> Result<Vec<u8>> {
    let mut tensors: Vec<(String, Vec<usize>, Vec<f32>)> = Vec::new();
    let mut next_seed = seed;
    let mut normal = |shape: &[usize]| -> Vec<f32> {
        next_seed += 1;
        let n = shape.iter().product();
        standard_normals(next_seed, n).into_iter().map(|z| (z * WEIGHT_STD) as f32).collect()
    };
    let mut push = |name: String, shape: Vec<usize>, data: Vec<f32>| tensors.push((name, shape, data));
    let encoder = |prefix: &str,
                   d: usize,
                   i: usize,
                   layers: usize,
                   push: &mut dyn FnMut(String, Vec<usize>, Vec<f32>),
                   normal: &mut dyn FnMut(&[usize]) -> Vec<f32>| {
        for l in 0..layers {
            let p = format!("{prefix}.encoder.layers.{l}");
            for proj in ["q_proj", "k_proj", "v_proj", "out_proj"] {
                push(format!("{p}.self_attn.{proj}.weight"), vec![d, d], normal(&[d, d]));
                push(format!("{p}.self_attn.{proj}.bias"), vec![d], vec![0.0; d]);
            }
            for norm in ["layer_norm1", "layer_norm2"] {
                push(format!("{p}.{norm}.weight"), vec![d], vec![1.0; d]);
                push(format!("{p}.{norm}.bias"), vec![d], vec![0.0; d]);
            }
            push(format!("{p}.mlp.fc1.weight"), vec![i, d], normal(&[i, d]));
            push(format!("{p}.mlp.fc1.bias"), vec![i], vec![0.0; i]);
            push(format!("{p}.mlp.fc2.weight"), vec![d, i], normal(&[d, i]));
            push(format!("{p}.mlp.fc2.bias"), vec![d], vec![0.0; d]);
        }
    };
    let (v, t) = (&config.vision_config, &config.text_config);
    let proj = config.projection_dim;
    let (dv, dt, patch) = (v.hidden_size, t.hidden_size, v.patch_size);
    encoder("vision_model", dv, v.intermediate_size, v.num_hidden_layers, &mut push, &mut normal);
    encoder("text_model", dt, t.intermediate_size, t.num_hidden_layers, &mut push, &mut normal);
    push(
        "vision_model.embeddings.patch_embedding.weight".into(),
        vec![dv, 3, patch, patch],
        normal(&[dv, 3, patch, patch]),
    );
    push("vision_model.embeddings.class_embedding".into(), vec![dv], normal(&[dv]));
    let positions = v.num_patches() + 1;
    push("vision_model.embeddings.position_embedding.weight".into(), vec![positions, dv], normal(&[positions, dv]));
    push("text_model.embeddings.token_embedding.weight".into(), vec![t.vocab_size, dt], normal(&[t.vocab_size, dt]));
    let max_pos = t.max_position_embeddings;
    push("text_model.embeddings.position_embedding.weight".into(), vec![max_pos, dt], normal(&[max_pos, dt]));
    for (norm, d) in
        [("vision_model.pre_layrnorm", dv), ("vision_model.post_layernorm", dv), ("text_model.final_layer_norm", dt)]
    {
        push(format!("{norm}.weight"), vec![d], vec![1.0; d]);
        push(format!("{norm}.bias"), vec![d], vec![0.0; d]);
    }
    push("visual_projection.weight".into(), vec![proj, dv], normal(&[proj, dv]));
    push("text_projection.weight".into(), vec![proj, dt], normal(&[proj, dt]));
    push("logit_scale".into(), vec![], vec![100f32.ln()]);

    let bytes: Vec<(String, Vec<usize>, Vec<u8>)> = tensors
        .into_iter()
        .map(|(name, shape, data)| (name, shape, data.iter().flat_map(|v| v.to_le_bytes()).collect()))
        .collect();
    let views = bytes
        .iter()
        .map(|(name, shape, data)| Ok((name.clone(), TensorView::new(Dtype::F32, shape.clone(), data)?)))
        .collect::<std::result::Result<Vec<_>, safetensors::SafeTensorError>>()
        .map_err(|e| Error::Weights(e.to_string()))?;
    safetensors::serialize(views, None).map_err(|e| Error::Weights(e.to_string()))
}

/// A word-level tokenizer over a few words with CLIP's special-token ids, so benchmarks tokenize
/// like CLIP (start, words, end) without shipping CLIP's 49k-token vocabulary in the binary.
pub fn benchmark_tokenizer_json(config: &ClipConfig) -> String {
    let eos = config.text_config.vocab_size as u32 - 1;
    let bos = eos - 1;
    let words = ["a", "photo", "of", "red", "circle", "dog", "cat", "[UNK]"];
    let vocab: serde_json::Map<String, serde_json::Value> =
        words.iter().enumerate().map(|(i, w)| (w.to_string(), (i as u32 + 1).into())).collect();
    serde_json::json!({
        "version": "1.0",
        "truncation": null,
        "padding": null,
        "added_tokens": [
            {"id": bos, "content": "<|startoftext|>", "single_word": false, "lstrip": false, "rstrip": false, "normalized": false, "special": true},
            {"id": eos, "content": "<|endoftext|>", "single_word": false, "lstrip": false, "rstrip": false, "normalized": false, "special": true}
        ],
        "normalizer": {"type": "Lowercase"},
        "pre_tokenizer": {"type": "Whitespace"},
        "post_processor": {
            "type": "TemplateProcessing",
            "single": [{"SpecialToken": {"id": "<|startoftext|>", "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}}, {"SpecialToken": {"id": "<|endoftext|>", "type_id": 0}}],
            "pair": [{"Sequence": {"id": "A", "type_id": 0}}, {"Sequence": {"id": "B", "type_id": 1}}],
            "special_tokens": {
                "<|startoftext|>": {"id": "<|startoftext|>", "ids": [bos], "tokens": ["<|startoftext|>"]},
                "<|endoftext|>": {"id": "<|endoftext|>", "ids": [eos], "tokens": ["<|endoftext|>"]}
            }
        },
        "decoder": null,
        "model": {"type": "WordLevel", "vocab": vocab, "unk_token": "[UNK]"}
    })
    .to_string()
}

/// The benchmark's text: 7 tokens with start and end, like tools/bench_torch.py.
pub const BENCH_TEXT: &str = "a photo of a red circle";

#[derive(Serialize)]
pub struct Stats {
    pub median: f64,
    pub min: f64,
}

impl Stats {
    pub fn of(samples: &mut [f64]) -> Self {
        samples.sort_by(f64::total_cmp);
        Stats { median: samples[samples.len() / 2], min: samples[0] }
    }
}

#[derive(Serialize)]
pub struct BenchReport {
    pub arch: String,
    pub method: String,
    pub backend: String,
    pub threads: usize,
    pub iters: usize,
    /// The first explanation (cold: kernels compiled, buffers allocated, caches empty).
    pub first_ms: f64,
    /// The following ones (warm).
    pub total_ms: Stats,
    pub phases_ms: BTreeMap<String, Stats>,
    /// Peak resident memory while explaining (native Linux only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub peak_rss_mb: Option<f64>,
    /// Storage of the weights ("float32", or the quantized format).
    pub weights: String,
    /// The size of the GGUF file a quantized model was loaded from.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub model_file_mb: Option<f64>,
}

pub fn random_explainer<B: Backend>(backend: B, arch: &str) -> Result<Explainer<B>> {
    let config = ClipConfig::preset(arch)?;
    let weights_bytes = random_clip_safetensors(&config, 0)?;
    let weights = crate::loader::Weights::from_bytes(&weights_bytes)?;
    let tokenizer = benchmark_tokenizer_json(&config);
    let info = ModelInfo { name: format!("random {arch}"), architecture: "CLIPModel".into(), dtype: "float32".into() };
    Explainer::from_parts(backend, config, &weights, tokenizer.as_bytes(), info)
}

/// As [`random_explainer`], with the linear weights quantized to `format` (see
/// [`crate::quantize`]) and loaded from the GGUF file in memory, which is dropped once the model
/// is built. Also returns the file's size.
pub fn random_quantized_explainer<B: Backend>(
    backend: B,
    arch: &str,
    format: QuantFormat,
) -> Result<(Explainer<B>, usize)> {
    let config = ClipConfig::preset(arch)?;
    let source = ModelFiles {
        name: format!("random {arch}"),
        config_json: serde_json::to_string(&config).map_err(|e| Error::Config(e.to_string()))?,
        weights: random_clip_safetensors(&config, 0)?.into(),
        tokenizer_json: benchmark_tokenizer_json(&config).into_bytes(),
        preprocessor_json: None,
        generative: Default::default(),
    };
    let options = QuantizeOptions { format, quantize_embeddings: false };
    let gguf = quantize_model(&source, &options)?.bytes;
    drop(source);
    let file_bytes = gguf.len();
    let files = ModelFiles::from_gguf_bytes(format!("random {arch} {}", format.name()), gguf)?;
    let explainer = Explainer::load(backend, &files)?;
    Ok((explainer, file_bytes))
}

/// Runs `iters` explanations after one warm-up (reported as `first_ms`) and reports per-phase
/// medians.
pub fn run<B: Backend>(
    explainer: &Explainer<B>,
    arch: &str,
    method: Method,
    options: MethodOptions,
    iters: usize,
    threads: usize,
) -> Result<BenchReport> {
    let size = explainer.config().vision_config.image_size as u32;
    let image = RgbImage::from_fn(size + size / 3, size, |x, y| {
        image::Rgb([(x % 256) as u8, (y % 256) as u8, ((x + y) % 256) as u8])
    });
    let texts = vec![BENCH_TEXT.to_string()];
    let request = Request { image: ImageInput::Decoded(&image), texts: &texts, target: 0, method, options };
    let first_ms = explainer.explain(&request)?.timings_ms.get("total").copied().unwrap_or(0.0);
    crate::memory::reset_peak();
    let mut totals = Vec::with_capacity(iters);
    let mut phases: BTreeMap<String, Vec<f64>> = BTreeMap::new();
    for _ in 0..iters {
        let explanation = explainer.explain(&request)?;
        for (phase, ms) in explanation.timings_ms {
            if phase == "total" {
                totals.push(ms);
            } else {
                phases.entry(phase).or_default().push(ms);
            }
        }
    }
    Ok(BenchReport {
        arch: arch.into(),
        method: method.name().into(),
        backend: explainer.backend().name().into(),
        threads,
        iters,
        first_ms,
        total_ms: Stats::of(&mut totals),
        phases_ms: phases.into_iter().map(|(k, mut v)| (k, Stats::of(&mut v))).collect(),
        peak_rss_mb: crate::memory::peak_rss_mb(),
        weights: explainer.info.dtype.clone(),
        model_file_mb: None,
    })
}
