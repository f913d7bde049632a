//! The engine's facts (src/catalog.rs, which the web app reads instead of keeping copies) against
//! what the explainer does: each method reads exactly the options it lists, is batched exactly when
//! it says so, and gives text scores, pixel scores and a text-dependent image map exactly when it
//! says so.

use sightline::backend::cpu::CpuBackend;
use sightline::catalog::{EngineFacts, MethodFacts, MethodOption};
use sightline::default_model::default_model_files;
use sightline::explain::{
    Explainer, Explanation, GenerateRequest, Generation, GenerativeExplainer, HeadFusion, ImageInput, Method,
    MethodOptions, Request, MAX_TEXTS,
};
use sightline::generate::SamplingOptions;
use sightline::heatmap::Colormap;
use sightline::loader::ModelFiles;
use sightline::scene::{Scene, SceneSpec};
use std::cell::Cell;

struct Setup {
    explainer: Explainer<CpuBackend>,
    image: image::RgbImage,
    texts: Vec<String>,
}

fn setup() -> Setup {
    let explainer = Explainer::load(CpuBackend, &default_model_files().unwrap()).unwrap();
    let spec = SceneSpec { min_objects: 2, max_objects: 2, ..SceneSpec::default() };
    let scene = Scene::generate(11, 96, &spec).unwrap();
    let texts = scene.objects.iter().map(|o| o.phrase()).collect();
    Setup { explainer, image: scene.image, texts }
}

/// The explanation, and whether progress was reported.
fn explain(setup: &Setup, method: Method, target: usize, options: MethodOptions) -> (Explanation, bool) {
    let request = Request { image: ImageInput::Decoded(&setup.image), texts: &setup.texts, target, method, options };
    let reported = Cell::new(false);
    let explanation = setup.explainer.explain_with_progress(&request, &|_, _| reported.set(true)).unwrap();
    (explanation, reported.get())
}

/// Options that differ from `base` in `option` only.
fn changed(base: MethodOptions, option: MethodOption) -> MethodOptions {
    match option {
        MethodOption::Steps => MethodOptions { steps: base.steps + 1, ..base },
        MethodOption::Seed => MethodOptions { seed: base.seed + 1, ..base },
        MethodOption::HeadFusion => MethodOptions { head_fusion: HeadFusion::Max, ..base },
        MethodOption::DiscardRatio => MethodOptions { discard_ratio: 0.3, ..base },
    }
}

const EVERY_OPTION: [MethodOption; 4] =
    [MethodOption::Steps, MethodOption::Seed, MethodOption::HeadFusion, MethodOption::DiscardRatio];

#[test]
fn every_method_fact_matches_what_the_explainer_does() {
    let setup = setup();
    let base = MethodOptions { steps: 3, ..MethodOptions::default() };
    for method in Method::CLIP {
        let facts = MethodFacts::of(method);
        let (explanation, reported_progress) = explain(&setup, method, 0, base);
        assert_eq!(facts.batched, reported_progress, "{method}: batched");
        assert_eq!(facts.text_scores, explanation.text_scores.is_some(), "{method}: text scores");
        assert_eq!(facts.pixel_scores, explanation.pixel_scores.is_some(), "{method}: pixel scores");
        let (other_target, _) = explain(&setup, method, 1, base);
        assert_eq!(
            facts.image_map_reads_text,
            other_target.patch_scores != explanation.patch_scores,
            "{method}: whether the image map depends on the text"
        );
        for option in EVERY_OPTION {
            let (other, _) = explain(&setup, method, 0, changed(base, option));
            assert_eq!(
                facts.options.contains(&option),
                other.patch_scores != explanation.patch_scores,
                "{method}: whether it reads {option:?}"
            );
        }
    }
}

/// A generated token's explanation (the first token of llava-random-a's answer to its question,
/// or of `answer`), and whether progress was reported.
fn explain_token(
    explainer: &GenerativeExplainer<CpuBackend>,
    method: Method,
    answer: &[u32],
    options: MethodOptions,
) -> (Generation, bool) {
    let image = image::open("tests/fixtures/llava-random-a/image.png").unwrap().to_rgb8();
    let request = GenerateRequest {
        image: ImageInput::Decoded(&image),
        prompt: "Which shape is red — the star or the ring?",
        max_tokens: answer.len(),
        sampling: SamplingOptions::default(),
        method: Some(method),
        options,
        token: Some(answer.len() - 1),
        contrast: None,
        answer: Some(answer),
    };
    let reported = Cell::new(false);
    let generation =
        pollster::block_on(explainer.generate_async(&request, &mut |_| true, &|_, _| reported.set(true))).unwrap();
    (generation, reported.get())
}

#[test]
fn every_generative_method_fact_matches_what_the_generative_explainer_does() {
    let files = ModelFiles::from_path(std::path::Path::new("tests/fixtures/llava-random-a")).unwrap();
    let explainer = GenerativeExplainer::load(CpuBackend, &files).unwrap();
    let facts = EngineFacts::get();
    let listed: Vec<Method> = facts.generative_methods.iter().map(|m| m.id).collect();
    assert_eq!(listed, Method::GENERATIVE);
    let base = MethodOptions { steps: 3, ..MethodOptions::default() };
    for facts in facts.generative_methods {
        let method = facts.id;
        let (generation, reported_progress) = explain_token(&explainer, method, &[12, 40], base);
        let token = &generation.tokens[1];
        assert_eq!(facts.batched, reported_progress, "{method}: batched");
        assert_eq!(facts.text_scores, token.text_scores.is_some(), "{method}: text scores");
        assert_eq!(facts.pixel_scores, token.pixel_scores.is_some(), "{method}: pixel scores");
        let (other_text, _) = explain_token(&explainer, method, &[13, 40], base);
        assert_eq!(
            facts.image_map_reads_text,
            other_text.tokens[1].patch_scores != token.patch_scores,
            "{method}: whether the image map depends on the text"
        );
        for option in EVERY_OPTION {
            // A causal decoder's fused attention is zero above its diagonal, about half its
            // entries: a discard ratio below that zeroes only zeros.
            let options = match option {
                MethodOption::DiscardRatio => MethodOptions { discard_ratio: 0.8, ..base },
                _ => changed(base, option),
            };
            let (other, _) = explain_token(&explainer, method, &[12, 40], options);
            assert_eq!(
                facts.options.contains(&option),
                other.tokens[1].patch_scores != token.patch_scores,
                "{method}: whether it reads {option:?}"
            );
        }
    }
}

#[test]
fn option_limits_are_the_ones_validation_enforces() {
    let facts = EngineFacts::get().options;
    let defaults = MethodOptions::default();
    assert_eq!(
        (facts.defaults.steps, facts.defaults.seed, facts.defaults.head_fusion, facts.defaults.discard_ratio),
        (defaults.steps, defaults.seed, defaults.head_fusion, defaults.discard_ratio)
    );
    let with = |options: MethodOptions| options.validate().is_ok();
    assert!(with(MethodOptions { steps: facts.max_steps, ..defaults }));
    assert!(!with(MethodOptions { steps: facts.max_steps + 1, ..defaults }));
    assert!(!with(MethodOptions { steps: 0, ..defaults }));
    let below = facts.discard_ratio_below;
    assert!(with(MethodOptions { discard_ratio: below - f32::EPSILON, ..defaults }));
    assert!(!with(MethodOptions { discard_ratio: below, ..defaults }));
    for fusion in facts.head_fusions {
        let name = serde_json::to_value(fusion).unwrap();
        assert_eq!(name.as_str().unwrap().parse::<HeadFusion>().unwrap(), fusion);
    }
}

#[test]
fn the_facts_serialize_as_the_web_app_reads_them() {
    let json = serde_json::to_value(EngineFacts::get()).unwrap();
    let methods = json["methods"].as_array().unwrap();
    assert_eq!(methods.len(), Method::CLIP.len());
    let rollout = methods.iter().find(|m| m["id"] == "rollout").unwrap();
    assert_eq!(rollout["options"], serde_json::json!(["headFusion", "discardRatio"]));
    assert_eq!(rollout["imageMapReadsText"], false);
    assert_eq!(json["options"]["defaults"]["headFusion"], "mean");
    assert_eq!(json["options"]["headFusions"], serde_json::json!(["mean", "max", "min"]));
    assert_eq!(json["maxTexts"], MAX_TEXTS);
    let colormaps: Vec<&str> =
        json["colormaps"].as_array().unwrap().iter().map(|c| c["name"].as_str().unwrap()).collect();
    assert_eq!(colormaps, Colormap::ALL.map(Colormap::name));
    let captions = json["scenes"]["captions"].as_array().unwrap();
    assert_eq!(captions.len(), 12);
    assert_eq!(captions[0], "a red circle");
    assert_eq!((json["scenes"]["minObjects"].as_u64(), json["scenes"]["maxObjects"].as_u64()), (Some(2), Some(4)));
}
