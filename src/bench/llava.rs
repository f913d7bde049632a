//! The generative benchmark: a LLaVA on random weights at the sizes of a small published model
//! (`llava-smol`: CLIP ViT-B/16 at 224 px, 196 image tokens, and a SmolLM2-135M-sized decoder),
//! timing the prompt's prefill, decoding with the KV cache, and one answer token's explanation.

use super::{Stats, WEIGHT_STD};
use crate::backend::Backend;
use crate::config::LlavaConfig;
use crate::error::{Error, Result};
use crate::explain::noise::standard_normals;
use crate::explain::{GenerateRequest, Generation, GenerativeExplainer, ImageInput, Method, MethodOptions};
use crate::generate::SamplingOptions;
use crate::loader::ModelFiles;
use image::RgbImage;
use safetensors::tensor::{Dtype, TensorView};
use serde::Serialize;
use std::collections::BTreeMap;

/// Words of the benchmark's prompt after the image, like tools/bench_torch.py's.
pub const LLAVA_BENCH_PROMPT_WORDS: usize = 16;
/// Tokens decoded to time decoding, and the answer whose last token is explained.
pub const LLAVA_BENCH_ANSWER_TOKENS: usize = 32;

#[derive(Serialize)]
pub struct LlavaBenchReport {
    pub arch: String,
    pub method: String,
    pub backend: String,
    pub threads: usize,
    pub iters: usize,
    pub prompt_tokens: usize,
    pub answer_tokens: usize,
    /// The image through the tower and the prompt through the decoder, to the first logits.
    pub prefill_ms: Stats,
    /// Tokens per second after the first, with the KV cache.
    pub decode_tokens_per_s: Stats,
    /// One answer token (the last) explained by `method`, after the answer is known: the
    /// teacher-forced pass over prompt and answer, its backward pass and the method.
    pub explain_token_ms: Stats,
    pub phases_ms: BTreeMap<String, Stats>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub peak_rss_mb: Option<f64>,
}

/// A checkpoint folder's files for `config` with normal(0, 0.02) weights (norms 1, biases 0)
/// under transformers 5's names, and a word-level tokenizer of the config's vocabulary whose last
/// id is `<image>`: no chat template, so prompts carry `<image>` themselves.
pub fn random_llava_files(preset: &str, seed: u64) -> Result<ModelFiles> {
    let config_value = LlavaConfig::preset_json(preset)?;
    let config = LlavaConfig::preset(preset)?;
    let (vision, text) = (&config.vision_config, &config.text_config);
    let mut tensors: Vec<(String, Vec<usize>, Vec<f32>)> = Vec::new();
    let mut next_seed = seed;
    let mut add = |name: String, shape: Vec<usize>, kind: Init| {
        let n: usize = shape.iter().product();
        let values = match kind {
            Init::Normal => {
                next_seed += 1;
                standard_normals(next_seed, n).into_iter().map(|z| (z * WEIGHT_STD) as f32).collect()
            }
            Init::Ones => vec![1.0; n],
            Init::Zeros => vec![0.0; n],
        };
        tensors.push((name, shape, values));
    };
    let (dv, iv, p) = (vision.hidden_size, vision.intermediate_size, vision.patch_size);
    let tower = "model.vision_tower";
    add(format!("{tower}.embeddings.class_embedding"), vec![dv], Init::Normal);
    add(format!("{tower}.embeddings.patch_embedding.weight"), vec![dv, 3, p, p], Init::Normal);
    add(format!("{tower}.embeddings.position_embedding.weight"), vec![vision.num_patches() + 1, dv], Init::Normal);
    for norm in ["pre_layrnorm", "post_layernorm"] {
        add(format!("{tower}.{norm}.weight"), vec![dv], Init::Ones);
        add(format!("{tower}.{norm}.bias"), vec![dv], Init::Zeros);
    }
    for l in 0..vision.num_hidden_layers {
        let layer = format!("{tower}.encoder.layers.{l}");
        for (name, rows, cols) in [
            ("self_attn.q_proj", dv, dv),
            ("self_attn.k_proj", dv, dv),
            ("self_attn.v_proj", dv, dv),
            ("self_attn.out_proj", dv, dv),
            ("mlp.fc1", iv, dv),
            ("mlp.fc2", dv, iv),
        ] {
            add(format!("{layer}.{name}.weight"), vec![rows, cols], Init::Normal);
            add(format!("{layer}.{name}.bias"), vec![rows], Init::Zeros);
        }
        for norm in ["layer_norm1", "layer_norm2"] {
            add(format!("{layer}.{norm}.weight"), vec![dv], Init::Ones);
            add(format!("{layer}.{norm}.bias"), vec![dv], Init::Zeros);
        }
    }
    let (d, i, v) = (text.hidden_size, text.intermediate_size, text.vocab_size);
    let projector = "model.multi_modal_projector";
    add(format!("{projector}.linear_1.weight"), vec![d, dv], Init::Normal);
    add(format!("{projector}.linear_1.bias"), vec![d], Init::Zeros);
    add(format!("{projector}.linear_2.weight"), vec![d, d], Init::Normal);
    add(format!("{projector}.linear_2.bias"), vec![d], Init::Zeros);
    let decoder = "model.language_model";
    add(format!("{decoder}.embed_tokens.weight"), vec![v, d], Init::Normal);
    add(format!("{decoder}.norm.weight"), vec![d], Init::Ones);
    let (q, kv) = (text.num_attention_heads * text.head_dim, text.num_key_value_heads * text.head_dim);
    for l in 0..text.num_hidden_layers {
        let layer = format!("{decoder}.layers.{l}");
        for (name, rows, cols) in [
            ("self_attn.q_proj", q, d),
            ("self_attn.k_proj", kv, d),
            ("self_attn.v_proj", kv, d),
            ("self_attn.o_proj", d, q),
            ("mlp.gate_proj", i, d),
            ("mlp.up_proj", i, d),
            ("mlp.down_proj", d, i),
        ] {
            add(format!("{layer}.{name}.weight"), vec![rows, cols], Init::Normal);
        }
        for norm in ["input_layernorm", "post_attention_layernorm"] {
            add(format!("{layer}.{norm}.weight"), vec![d], Init::Ones);
        }
    }
    if !config.tie_word_embeddings {
        add("lm_head.weight".into(), vec![v, d], Init::Normal);
    }
    let bytes: Vec<Vec<u8>> = tensors.iter().map(|(_, _, values)| bytemuck::cast_slice(values).to_vec()).collect();
    let views = tensors
        .iter()
        .zip(&bytes)
        .map(|((name, shape, _), data)| Ok((name.clone(), TensorView::new(Dtype::F32, shape.clone(), data)?)))
        .collect::<std::result::Result<Vec<_>, safetensors::SafeTensorError>>()
        .map_err(|e| Error::Weights(e.to_string()))?;
    let weights = safetensors::serialize(views, None).map_err(|e| Error::Weights(e.to_string()))?;
    Ok(ModelFiles {
        name: format!("random {preset}"),
        config_json: config_value.to_string(),
        weights: weights.into(),
        tokenizer_json: word_tokenizer_json(v, config.image_token_id).into_bytes(),
        preprocessor_json: None,
        generative: Default::default(),
    })
}

enum Init {
    Normal,
    Ones,
    Zeros,
}

/// Words `w0` … over the whole vocabulary, `<image>` at `image_id`.
fn word_tokenizer_json(vocabulary: usize, image_id: u32) -> String {
    let vocab: serde_json::Map<String, serde_json::Value> = (0..vocabulary as u32)
        .map(|id| (if id == image_id { "<image>".to_string() } else { format!("w{id}") }, id.into()))
        .collect();
    serde_json::json!({
        "version": "1.0",
        "truncation": null,
        "padding": null,
        "added_tokens": [
            {"id": image_id, "content": "<image>", "single_word": false, "lstrip": false, "rstrip": false, "normalized": false, "special": true}
        ],
        "normalizer": null,
        "pre_tokenizer": {"type": "Whitespace"},
        "post_processor": null,
        "decoder": null,
        "model": {"type": "WordLevel", "vocab": vocab, "unk_token": "w0"}
    })
    .to_string()
}

/// Times `iters` prefills, decodes of `LLAVA_BENCH_ANSWER_TOKENS` tokens and explanations of the
/// answer's last token by `method`, after one warm-up of each.
pub fn run_llava<B: Backend>(
    explainer: &GenerativeExplainer<B>,
    arch: &str,
    method: Method,
    options: MethodOptions,
    iters: usize,
    threads: usize,
) -> Result<LlavaBenchReport> {
    let size = explainer.config().vision_config.image_size as u32;
    let image = RgbImage::from_fn(size + size / 3, size, |x, y| {
        image::Rgb([(x % 256) as u8, (y % 256) as u8, ((x + y) % 256) as u8])
    });
    let words: Vec<String> = (0..LLAVA_BENCH_PROMPT_WORDS).map(|k| format!("w{}", 100 + k)).collect();
    let prompt = format!("<image>\n{}", words.join(" "));
    // A fixed answer, so that every explanation covers the same tokens whatever the weights say.
    let answer: Vec<u32> = (0..LLAVA_BENCH_ANSWER_TOKENS as u32).map(|k| 200 + k).collect();
    let request = |max_tokens, method, token, answer| GenerateRequest {
        image: ImageInput::Decoded(&image),
        prompt: &prompt,
        max_tokens,
        sampling: SamplingOptions::default(),
        method,
        options,
        token,
        contrast: None,
        answer,
    };
    let generate = |request: &GenerateRequest| -> Result<Generation> { explainer.generate(request, &mut |_| true) };
    let phase = |generation: &Generation, name: &str| generation.timings_ms.get(name).copied().unwrap_or(0.0);
    let prefill_request = request(1, None, None, None);
    let decode_request = request(LLAVA_BENCH_ANSWER_TOKENS, None, None, None);
    let explain_request =
        request(LLAVA_BENCH_ANSWER_TOKENS, Some(method), Some(LLAVA_BENCH_ANSWER_TOKENS - 1), Some(&answer));
    let prompt_tokens = generate(&prefill_request)?.prompt_ids.len();
    generate(&decode_request)?;
    generate(&explain_request)?;
    crate::memory::reset_peak();
    let (mut prefill, mut decode, mut explain) = (Vec::new(), Vec::new(), Vec::new());
    let mut phases: BTreeMap<String, Vec<f64>> = BTreeMap::new();
    for _ in 0..iters {
        let first = phase(&generate(&prefill_request)?, "generate");
        prefill.push(first);
        let decoded = generate(&decode_request)?;
        let steps = decoded.tokens.len().saturating_sub(1).max(1) as f64;
        decode.push(1e3 * steps / (phase(&decoded, "generate") - first).max(f64::EPSILON));
        let explained = generate(&explain_request)?;
        let total = phase(&explained, "total");
        explain.push(total - phase(&explained, "preprocess") - phase(&explained, "generate"));
        for (name, ms) in explained.timings_ms {
            phases.entry(name).or_default().push(ms);
        }
    }
    Ok(LlavaBenchReport {
        arch: arch.into(),
        method: method.name().into(),
        backend: explainer.backend().name().into(),
        threads,
        iters,
        prompt_tokens,
        answer_tokens: LLAVA_BENCH_ANSWER_TOKENS,
        prefill_ms: Stats::of(&mut prefill),
        decode_tokens_per_s: Stats::of(&mut decode),
        explain_token_ms: Stats::of(&mut explain),
        phases_ms: phases.into_iter().map(|(k, mut v)| (k, Stats::of(&mut v))).collect(),
        peak_rss_mb: crate::memory::peak_rss_mb(),
    })
}
