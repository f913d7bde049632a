//! Every method, image and text side, against transformers + PyTorch (float64) on random CLIP
//! checkpoints written by tools/make_fixtures.py.

mod common;

use common::{assert_close, fixture, floats, read_json};
use sightline::backend::cpu::CpuBackend;
use sightline::explain::noise::smoothgrad_sigma;
use sightline::explain::{Explainer, Explanation, HeadFusion, ImageInput, Method, MethodOptions, Request};
use sightline::loader::ModelFiles;

/// The contract: within 2e-3 of the largest magnitude.
const TOLERANCE: f32 = 2e-3;

struct Case {
    explainer: Explainer<CpuBackend>,
    expected: serde_json::Value,
    image: Vec<u8>,
    texts: Vec<String>,
    target: usize,
    options: MethodOptions,
}

fn case(name: &str) -> Case {
    let folder = fixture(name);
    let expected = read_json(&folder.join("expected.json"));
    let files = ModelFiles::from_path(&folder).expect("fixture model loads");
    let explainer = Explainer::load(CpuBackend, &files).expect("fixture model builds");
    let texts = expected["texts"].as_array().unwrap().iter().map(|t| t.as_str().unwrap().to_string()).collect();
    let options = MethodOptions {
        steps: expected["options"]["steps"].as_u64().unwrap() as usize,
        seed: expected["options"]["seed"].as_u64().unwrap(),
        ..MethodOptions::default()
    };
    Case {
        explainer,
        image: std::fs::read(folder.join("image.png")).unwrap(),
        target: expected["target"].as_u64().unwrap() as usize,
        expected,
        texts,
        options,
    }
}

fn explain(case: &Case, name: &str, method: Method, options: MethodOptions) -> Explanation {
    let request =
        Request { image: ImageInput::Encoded(&case.image), texts: &case.texts, target: case.target, method, options };
    case.explainer.explain(&request).unwrap_or_else(|e| panic!("{name}: {e}"))
}

fn check_method(case: &Case, name: &str, method: Method, options: MethodOptions) {
    let explanation = explain(case, name, method, options);
    let expected = &case.expected["methods"][name];
    assert_close(
        &format!("{name} patch_scores"),
        &explanation.patch_scores,
        &floats(&expected["patch_scores"]),
        TOLERANCE,
    );
    match (&explanation.pixel_scores, expected.get("pixel_scores")) {
        (Some(actual), Some(want)) => assert_close(&format!("{name} pixel_scores"), actual, &floats(want), TOLERANCE),
        (None, None) => {}
        (actual, want) => panic!("{name}: pixel_scores present {} but expected {}", actual.is_some(), want.is_some()),
    }
    match (&explanation.text_scores, expected.get("text_scores")) {
        (Some(actual), Some(want)) => assert_close(&format!("{name} text_scores"), actual, &floats(want), TOLERANCE),
        (None, None) => {}
        (actual, want) => panic!("{name}: text_scores present {} but expected {}", actual.is_some(), want.is_some()),
    }
}

fn check_all(name: &str) {
    let case = case(name);
    let base = case.options;
    for method in Method::CLIP {
        check_method(&case, method.name(), method, base);
    }
    let max_discard = MethodOptions { head_fusion: HeadFusion::Max, discard_ratio: 0.5, ..base };
    check_method(&case, "rollout_max_discard", Method::Rollout, max_discard);
    check_method(&case, "rollout_min", Method::Rollout, MethodOptions { head_fusion: HeadFusion::Min, ..base });
}

fn check_scores(name: &str) {
    let case = case(name);
    let explanation = explain(&case, "scores", Method::Attention, case.options);
    let expected = &case.expected;
    assert_close("logits", &explanation.logits, &floats(&expected["logits_per_image"]), 1e-4);
    assert_close("probs", explanation.probs.as_ref().unwrap(), &floats(&expected["probs"]), 1e-4);
    assert_close("score", &[explanation.score], &[expected["score"].as_f64().unwrap() as f32], 1e-4);
    for (text, ids) in case.texts.iter().zip(expected["input_ids"].as_array().unwrap()) {
        let ours = case.explainer.tokenize(text).unwrap();
        let want: Vec<u32> = ids.as_array().unwrap().iter().map(|v| v.as_u64().unwrap() as u32).collect();
        assert_eq!(ours.ids, want, "token ids of `{text}`");
    }
    let target = case.explainer.tokenize(&case.texts[case.target]).unwrap();
    assert_eq!(target.pooled_position as u64, expected["pooled_position"].as_u64().unwrap(), "pooled position");
    check_inputs_and_embeddings(&case);
}

/// The preprocessed pixels, SmoothGrad's noise level and both towers' projected embeddings
/// (before normalization), the intermediate values every score above is built from.
fn check_inputs_and_embeddings(case: &Case) {
    let expected = &case.expected;
    let image = image::load_from_memory(&case.image).unwrap().to_rgb8();
    let prepared = case.explainer.prepare_image(&image);
    let shape: Vec<usize> =
        expected["pixel_values_shape"].as_array().unwrap().iter().map(|d| d.as_u64().unwrap() as usize).collect();
    assert_eq!(prepared.pixels.shape, shape, "pixel_values shape");
    assert_close("pixel_values", &prepared.pixels.data, &floats(&expected["pixel_values"]), 1e-6);
    let sigma = smoothgrad_sigma(&prepared.pixels.data);
    assert_eq!(sigma, expected["smoothgrad_sigma"].as_f64().unwrap() as f32, "smoothgrad sigma");
    let image_embeds = case.explainer.image_embeddings(1, |_| prepared.pixels.data.clone()).unwrap();
    assert_close("image_embeds", &image_embeds[0], &floats(&expected["image_embeds"]), TOLERANCE);
    let text_embeds = case.explainer.text_embeddings(&case.texts).unwrap();
    let want = expected["text_embeds"].as_array().unwrap();
    assert_eq!(text_embeds.len(), want.len(), "one text embedding per text");
    for ((text, ours), want) in case.texts.iter().zip(&text_embeds).zip(want) {
        assert_close(&format!("text_embeds of `{text}`"), ours, &floats(want), TOLERANCE);
    }
}

#[test]
fn random_a_scores_match_transformers() {
    check_scores("clip-random-a");
}

#[test]
fn random_b_scores_match_transformers() {
    check_scores("clip-random-b");
}

#[test]
fn random_a_every_method_matches_reference() {
    check_all("clip-random-a");
}

#[test]
fn random_b_every_method_matches_reference() {
    check_all("clip-random-b");
}

#[test]
fn smoothgrad_noise_matches_reference_prng() {
    let expected = read_json(&fixture("clip-random-a/expected.json"));
    let want: Vec<f64> = expected["prng_check"].as_array().unwrap().iter().map(|v| v.as_f64().unwrap()).collect();
    let ours = sightline::explain::noise::standard_normals(7, want.len());
    for (a, b) in ours.iter().zip(&want) {
        assert!((a - b).abs() < 1e-12, "normals {ours:?} vs {want:?}");
    }
}
