//! LLaVA's input side against transformers (tests/fixtures/llava-random-{a,b,c}, from
//! tools/make_llava_fixtures.py): configs, both tensor naming generations and shards, the chat
//! template, the expanded prompt ids and image positions, the pixels, the end-of-sequence ids and
//! the decoded answer; then every bad input the issue names, each with its message.

mod common;

use common::{fixture, floats, read_json};
use safetensors::tensor::TensorView;
use safetensors::SafeTensors;
use serde_json::Value;
use sightline::config::{FeatureSelectStrategy, GenerationConfig, LlamaConfig, LlavaConfig, ModelFamily};
use sightline::loader::{LlavaTensorNames, ModelFiles, NamingGeneration, Weights};
use sightline::preprocess::{ImageLimits, LlavaProcessor};
use std::path::{Path, PathBuf};

struct Expected {
    folder: &'static str,
    generation: NamingGeneration,
    vision_tower: &'static str,
    lm_head: &'static str,
    dtype: &'static str,
    strategy: FeatureSelectStrategy,
}

const FOLDERS: [Expected; 3] = [
    Expected {
        folder: "llava-random-a",
        generation: NamingGeneration::Transformers5,
        vision_tower: "model.vision_tower",
        lm_head: "lm_head",
        dtype: "float32",
        strategy: FeatureSelectStrategy::Default,
    },
    Expected {
        folder: "llava-random-b",
        generation: NamingGeneration::Transformers4,
        vision_tower: "vision_tower.vision_model",
        lm_head: "language_model.model.embed_tokens",
        dtype: "float16",
        strategy: FeatureSelectStrategy::Default,
    },
    Expected {
        folder: "llava-random-c",
        generation: NamingGeneration::Transformers4,
        vision_tower: "vision_tower",
        lm_head: "language_model.model.embed_tokens",
        dtype: "bfloat16",
        strategy: FeatureSelectStrategy::Full,
    },
];

fn load(folder: &Path) -> (ModelFiles, LlavaConfig) {
    let files = ModelFiles::from_path(folder).unwrap();
    let config = LlavaConfig::from_json(&files.config_json).unwrap();
    (files, config)
}

fn ids(value: &Value) -> Vec<u32> {
    value.as_array().unwrap().iter().map(|v| v.as_u64().unwrap() as u32).collect()
}

#[test]
fn configs_and_weights_resolve_in_every_naming() {
    for case in &FOLDERS {
        let dir = fixture(case.folder);
        let expected = read_json(&dir.join("expected.json"));
        let (files, config) = load(&dir);
        assert_eq!(ModelFamily::from_config_json(&files.config_json).unwrap(), ModelFamily::Llava);
        assert_eq!(config.vision_feature_select_strategy, case.strategy, "{}", case.folder);
        assert_eq!(config.image_tokens() as u64, expected["num_image_tokens"].as_u64().unwrap(), "{}", case.folder);
        assert_eq!(config.vision_layers_used().unwrap() as u64, expected["feature_layer_count"].as_u64().unwrap());
        assert_eq!(config.image_token_id as u64, expected["image_token_id"].as_u64().unwrap());
        let weights = Weights::from_files(&files.weights).unwrap();
        assert_eq!(weights.dtype_name(), case.dtype, "{}", case.folder);
        let shapes = weights.tensor_shapes();
        let names = LlavaTensorNames::resolve(shapes.iter().map(|(n, _)| n.as_str()), &config).unwrap();
        assert_eq!(
            (names.generation, names.vision_tower.as_str(), names.lm_head.as_str()),
            (case.generation, case.vision_tower, case.lm_head),
            "{}",
            case.folder
        );
        // Each part's tensors are where the names say, at the config's sizes.
        let text = &config.text_config;
        let vision = &config.vision_config;
        let head = weights.get(&format!("{}.weight", names.lm_head), &[text.vocab_size, text.hidden_size]).unwrap();
        assert!(head.data.iter().all(|v| v.is_finite()));
        let kv = text.num_key_value_heads * text.head_dim;
        let last = text.num_hidden_layers - 1;
        weights
            .get(&format!("{}.layers.{last}.self_attn.k_proj.weight", names.decoder), &[kv, text.hidden_size])
            .unwrap();
        let patch = [vision.hidden_size, 3, vision.patch_size, vision.patch_size];
        weights.get(&format!("{}.embeddings.patch_embedding.weight", names.vision_tower), &patch).unwrap();
        weights.get(&format!("{}.linear_2.weight", names.projector), &[text.hidden_size, text.hidden_size]).unwrap();
    }
}

#[test]
fn prompts_ids_and_image_positions_equal_transformers() {
    for case in &FOLDERS {
        let dir = fixture(case.folder);
        let expected = read_json(&dir.join("expected.json"));
        let (files, config) = load(&dir);
        let processor = LlavaProcessor::new(&files, &config).unwrap();
        let prompt = processor.prompt(expected["prompt"].as_str().unwrap()).unwrap();
        assert_eq!(prompt.formatted, expected["formatted_prompt"].as_str().unwrap(), "{}", case.folder);
        assert_eq!(prompt.ids, ids(&expected["input_ids"]), "{}", case.folder);
        let positions: Vec<usize> = ids(&expected["image_positions"]).into_iter().map(|p| p as usize).collect();
        assert_eq!(prompt.image_positions, positions, "{}", case.folder);
        assert_eq!(prompt.added_special_tokens, expected["add_special_tokens"].as_bool().unwrap(), "{}", case.folder);
        assert_eq!(processor.has_chat_template(), case.folder != "llava-random-c");
    }
}

#[test]
fn pixels_equal_transformers_within_1e_6() {
    for case in &FOLDERS {
        let dir = fixture(case.folder);
        let expected = read_json(&dir.join("expected.json"));
        let (files, config) = load(&dir);
        let processor = LlavaProcessor::new(&files, &config).unwrap();
        let bytes = std::fs::read(dir.join("image.png")).unwrap();
        let image = processor.prepare_image(&bytes, ImageLimits::default()).unwrap();
        let shape: Vec<usize> = ids(&expected["pixel_values_shape"]).into_iter().map(|d| d as usize).collect();
        assert_eq!(image.pixels.shape, shape, "{}", case.folder);
        let reference = floats(&expected["pixel_values"]);
        let worst = image.pixels.data.iter().zip(&reference).map(|(a, e)| (a - e).abs()).fold(0f32, f32::max);
        assert!(worst <= 1e-6, "{}: pixel values differ by {worst:e}", case.folder);
    }
}

#[test]
fn end_of_sequence_ids_and_the_answer_text_equal_transformers() {
    for case in &FOLDERS {
        let dir = fixture(case.folder);
        let expected = read_json(&dir.join("expected.json"));
        let (files, config) = load(&dir);
        let generation =
            GenerationConfig::resolve(files.generative.generation_config_json.as_deref(), &config.text_config).unwrap();
        assert_eq!(generation.eos_token_ids, ids(&expected["eos_token_ids"]), "{}", case.folder);
        let processor = LlavaProcessor::new(&files, &config).unwrap();
        let generated = ids(&expected["generated_ids"]);
        let answer = expected["generated_text"].as_str().unwrap();
        assert_eq!(processor.decode(&generated).unwrap(), answer, "{}", case.folder);
        let mut stream = processor.text_stream();
        let mut streamed: String = generated.iter().map(|id| stream.push(*id).unwrap()).collect();
        streamed.push_str(&stream.finish().unwrap());
        assert_eq!(streamed, answer, "{}: the streamed pieces add up to the answer", case.folder);
        for id in generated {
            assert!(!processor.token_text(id).is_empty());
        }
    }
}

#[test]
fn rotary_frequencies_equal_transformers_for_every_rope_form() {
    // tools/make_rope_fixture.py: LlamaRotaryEmbedding's float32 inv_freq and attention_scaling.
    let cases = read_json(&fixture("rope/expected.json"));
    for (name, case) in cases.as_object().unwrap() {
        let text = LlamaConfig::from_value(Some(&case["text_config"])).unwrap();
        let rope = text.rope.frequencies(text.head_dim).unwrap();
        let expected: Vec<f64> =
            case["inverse_frequencies"].as_array().unwrap().iter().map(|v| v.as_f64().unwrap()).collect();
        assert_eq!(rope.inverse_frequencies.len(), expected.len(), "{name}");
        for (i, (f, e)) in rope.inverse_frequencies.iter().zip(&expected).enumerate() {
            assert!((f - e).abs() <= 1e-6 * e.abs(), "{name}: frequency {i} is {f}, transformers has {e}");
        }
        let factor = case["attention_factor"].as_f64().unwrap();
        assert!((rope.attention_factor - factor).abs() <= 1e-12, "{name}: attention factor {}", rope.attention_factor);
    }
}

#[test]
fn a_contrast_word_must_be_one_token() {
    let (files, config) = load(&fixture("llava-random-a"));
    let processor = LlavaProcessor::new(&files, &config).unwrap();
    let expected = read_json(&fixture("llava-random-a/expected.json"));
    let runner_up = expected["contrast"]["id"].as_u64().unwrap() as u32;
    let word = processor.token_text(runner_up);
    assert_eq!(processor.single_token(&word).unwrap(), runner_up, "`{word}`");
    let error = processor.single_token("the star or the ring").unwrap_err().to_string();
    assert!(error.contains("tokens (") && error.contains("not one"), "{error}");
}

/// A copy of a fixture folder that a test may damage.
fn copy(folder: &str, test: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("sightline-llava-inputs-{}-{test}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    for entry in std::fs::read_dir(fixture(folder)).unwrap() {
        let path = entry.unwrap().path();
        std::fs::copy(&path, dir.join(path.file_name().unwrap())).unwrap();
    }
    dir
}

fn edit_json(path: &Path, edit: impl FnOnce(&mut Value)) {
    let mut value = read_json(path);
    edit(&mut value);
    std::fs::write(path, value.to_string()).unwrap();
}

/// Keeps only the tensors `keep` accepts in one safetensors file.
fn drop_tensors(path: &Path, keep: impl Fn(&str) -> bool) {
    let bytes = std::fs::read(path).unwrap();
    let file = SafeTensors::deserialize(&bytes).unwrap();
    let views: Vec<(String, TensorView)> = file.tensors().into_iter().filter(|(name, _)| keep(name)).collect();
    std::fs::write(path, safetensors::serialize(views, None).unwrap()).unwrap();
}

fn names_error(dir: &Path) -> String {
    let (files, config) = load(dir);
    let weights = Weights::from_files(&files.weights).unwrap();
    let shapes = weights.tensor_shapes();
    LlavaTensorNames::resolve(shapes.iter().map(|(n, _)| n.as_str()), &config).unwrap_err().to_string()
}

fn prompt_error(dir: &Path, question: &str) -> String {
    let (files, config) = load(dir);
    match LlavaProcessor::new(&files, &config).and_then(|p| p.prompt(question)) {
        Ok(prompt) => panic!("{question:?} gave {prompt:?}"),
        Err(e) => e.to_string(),
    }
}

#[test]
fn a_template_less_prompt_needs_the_image_placeholder() {
    let dir = fixture("llava-random-c");
    let error = prompt_error(&dir, "What is left of the blue square?");
    assert!(error.contains("no `<image>` placeholder") && error.contains("no chat template"), "{error}");
    let error = prompt_error(&dir, "<image> and <image>");
    assert!(error.contains("2 `<image>` placeholders but there is one image"), "{error}");
}

#[test]
fn a_question_may_not_add_a_second_placeholder_to_a_template() {
    let error = prompt_error(&fixture("llava-random-a"), "What is in <image>?");
    assert!(error.contains("2 `<image>` placeholders") && error.contains("leave it out of the question"), "{error}");
}

#[test]
fn a_template_that_places_no_image_is_more_images_than_placeholders() {
    let dir = copy("llava-random-a", "no-image-template");
    std::fs::write(dir.join("chat_template.jinja"), "{{ messages[0]['content'][1]['text'] }}").unwrap();
    let error = prompt_error(&dir, "Which shape is red?");
    assert!(error.contains("placed no `<image>` for the image: one image but no placeholder"), "{error}");
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn a_prompt_longer_than_the_context_is_refused_with_its_lengths() {
    let question = "Which shape is red, the star or the ring? ".repeat(4);
    let error = prompt_error(&fixture("llava-random-a"), &question);
    assert!(error.contains("but the model takes at most max_position_embeddings = 64"), "{error}");
    assert!(error.contains("(16 for the image,"), "{error}");
}

#[test]
fn a_chat_template_that_fails_is_named() {
    let dir = copy("llava-random-a", "raising-template");
    std::fs::write(dir.join("chat_template.jinja"), "{{ raise_exception('images are not allowed') }}").unwrap();
    let error = prompt_error(&dir, "Which shape is red?");
    assert!(error.starts_with("chat template: chat_template.jinja failed to render"), "{error}");
    assert!(error.contains("images are not allowed"), "{error}");
    std::fs::write(dir.join("chat_template.jinja"), "{% if %}").unwrap();
    let (files, config) = load(&dir);
    let error = LlavaProcessor::new(&files, &config).err().unwrap().to_string();
    assert!(error.contains("chat_template.jinja does not parse"), "{error}");
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn a_checkpoint_without_projector_or_with_a_layer_missing_is_named() {
    let dir = copy("llava-random-b", "no-projector");
    drop_tensors(&dir.join("model.safetensors"), |name| !name.starts_with("multi_modal_projector."));
    let error = names_error(&dir);
    assert!(error.contains("no multi-modal projector"), "{error}");
    let dir2 = copy("llava-random-b", "no-layer");
    drop_tensors(&dir2.join("model.safetensors"), |name| !name.starts_with("language_model.model.layers.1."));
    let error = names_error(&dir2);
    assert!(error.contains("decoder layer 1 of 3 is missing"), "{error}");
    std::fs::remove_dir_all(dir).unwrap();
    std::fs::remove_dir_all(dir2).unwrap();
}

#[test]
fn broken_shards_are_named() {
    let dir = copy("llava-random-c", "missing-shard");
    std::fs::remove_file(dir.join("model-00002-of-00002.safetensors")).unwrap();
    let error = ModelFiles::from_path(&dir).err().unwrap().to_string();
    assert!(error.contains("model-00002-of-00002.safetensors"), "{error}");
    let dir2 = copy("llava-random-c", "moved-tensor");
    edit_json(&dir2.join("model.safetensors.index.json"), |index| {
        index["weight_map"]["multi_modal_projector.linear_1.bias"] = "model-00002-of-00002.safetensors".into();
    });
    let files = ModelFiles::from_path(&dir2).unwrap();
    let error = Weights::from_files(&files.weights).err().unwrap().to_string();
    assert!(error.contains("multi_modal_projector.linear_1.bias") && error.contains("does not contain it"), "{error}");
    std::fs::remove_dir_all(dir).unwrap();
    std::fs::remove_dir_all(dir2).unwrap();
}

#[test]
fn unsupported_feature_choices_are_clear_errors() {
    let dir = copy("llava-random-a", "strategy");
    let config_error = |edit: &dyn Fn(&mut Value)| {
        edit_json(&dir.join("config.json"), |c| edit(c));
        let files = ModelFiles::from_path(&dir).unwrap();
        LlavaConfig::from_json(&files.config_json).unwrap_err().to_string()
    };
    let error = config_error(&|c| c["vision_feature_select_strategy"] = "cls_only".into());
    assert!(error.contains("vision_feature_select_strategy `cls_only` is not supported"), "{error}");
    let error = config_error(&|c| {
        c["vision_feature_select_strategy"] = "default".into();
        c["vision_feature_layer"] = serde_json::json!([-2, -1]);
    });
    assert!(error.contains("not supported yet"), "{error}");
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn a_processor_that_disagrees_with_the_model_is_named() {
    let dir = copy("llava-random-a", "processor-count");
    edit_json(&dir.join("processor_config.json"), |p| p["num_additional_image_tokens"] = 0.into());
    let (files, config) = load(&dir);
    let error = LlavaProcessor::new(&files, &config).err().unwrap().to_string();
    assert!(error.contains("places 15 image tokens") && error.contains("yields 16 image features"), "{error}");
    edit_json(&dir.join("processor_config.json"), |p| p["num_additional_image_tokens"] = 1.into());
    edit_json(&dir.join("config.json"), |c| c["image_token_index"] = 365.into());
    let (files, config) = load(&dir);
    let error = LlavaProcessor::new(&files, &config).err().unwrap().to_string();
    assert!(error.contains("gives `<image>` id 364 but config.json's image_token_index is 365"), "{error}");
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn clip_and_llava_folders_each_name_the_other() {
    let clip = ModelFiles::from_path(&fixture("clip-random-a")).unwrap();
    assert_eq!(ModelFamily::from_config_json(&clip.config_json).unwrap(), ModelFamily::Clip);
    let error = LlavaConfig::from_json(&clip.config_json).unwrap_err().to_string();
    assert!(error.contains("CLIP checkpoint"), "{error}");
    let (files, _) = load(&fixture("llava-random-a"));
    let error = sightline::config::ClipConfig::from_json(&files.config_json).unwrap_err().to_string();
    assert!(error.contains("generative LLaVA checkpoint"), "{error}");
}
