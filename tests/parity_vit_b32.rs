//! At openai/clip-vit-base-patch32's real sizes (12 + 12 layers, 50 vision tokens, 768/512 wide,
//! the 49408-token vocabulary), where the benchmarks and docs make their claims, the CPU backend
//! against transformers + PyTorch in float64 (tools/make_vit_b32_reference.py).

mod common;

use common::vit_b32::{load, sampled_pixels, Reference};
use common::{assert_close, floats};
use sightline::backend::cpu::CpuBackend;
use sightline::explain::{Explainer, ImageInput, Method, Request};

/// The parity contract of tests/parity.rs, unchanged at twelve layers.
const TOLERANCE: f32 = 2e-3;

const METHODS: [Method; 7] = [
    Method::Attention,
    Method::Rollout,
    Method::Gradient,
    Method::GradXInput,
    Method::Gradcam,
    Method::Chefer,
    Method::IntegratedGradients,
];

#[test]
fn every_reference_method_matches_transformers_at_vit_b32_size() {
    let reference = load();
    let Reference { files, expected, image, texts, target, options } = &reference;
    let explainer = Explainer::load(CpuBackend, files).unwrap();
    for (text, ids) in texts.iter().zip(expected["input_ids"].as_array().unwrap()) {
        let want: Vec<u32> = ids.as_array().unwrap().iter().map(|v| v.as_u64().unwrap() as u32).collect();
        assert_eq!(explainer.tokenize(text).unwrap().ids, want, "token ids of `{text}`");
    }
    let pooled = explainer.tokenize(&texts[*target]).unwrap().pooled_position as u64;
    assert_eq!(pooled, expected["pooled_position"].as_u64().unwrap(), "pooled position");

    let decoded = image::load_from_memory(image).unwrap().to_rgb8();
    let pixels = explainer.prepare_image(&decoded).pixels.data;
    let image_embeds = explainer.image_embeddings(1, |_| pixels.clone()).unwrap();
    assert_close("image_embeds", &image_embeds[0], &floats(&expected["image_embeds"]), TOLERANCE);
    let text_embeds = explainer.text_embeddings(texts).unwrap();
    for (ours, want) in text_embeds.iter().zip(expected["text_embeds"].as_array().unwrap()) {
        assert_close("text_embeds", ours, &floats(want), TOLERANCE);
    }

    let side = explainer.geometry().image_size;
    for method in METHODS {
        let request = Request { image: ImageInput::Encoded(image), texts, target: *target, method, options: *options };
        let explanation = explainer.explain(&request).unwrap();
        let want = &expected["methods"][method.name()];
        assert_close(&format!("{method} logits"), &explanation.logits, &floats(&expected["logits_per_image"]), 1e-4);
        assert_close(
            &format!("{method} probs"),
            explanation.probs.as_ref().unwrap(),
            &floats(&expected["probs"]),
            1e-4,
        );
        assert_close(
            &format!("{method} patch_scores"),
            &explanation.patch_scores,
            &floats(&want["patch_scores"]),
            TOLERANCE,
        );
        match (&explanation.pixel_scores, want.get("pixel_scores")) {
            (Some(map), Some(sample)) => {
                let ours = sampled_pixels(expected, map, side);
                assert_close(&format!("{method} pixel_scores"), &ours, &floats(sample), TOLERANCE);
            }
            (_, None) => {}
            (None, Some(_)) => panic!("{method}: no pixel map"),
        }
        if let Some(scores) = want.get("text_scores") {
            let ours = explanation.text_scores.as_ref().unwrap_or_else(|| panic!("{method}: no text scores"));
            assert_close(&format!("{method} text_scores"), ours, &floats(scores), TOLERANCE);
        }
    }
}
