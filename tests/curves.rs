//! One explanation's deletion and insertion curves (`eval::curves::map_curves`, the web app's
//! faithfulness tab and `sightline curves`) against what they must equal: the explanation's own
//! probabilities and logits at the ends, the same all-empty input in the middle, and the CLI.

use sightline::backend::cpu::CpuBackend;
use sightline::default_model::default_model_files;
use sightline::eval::curves::{map_curves, CurveQuantity};
use sightline::explain::{Explainer, Explanation, ImageInput, Method, MethodOptions, Request};
use sightline::scene::{Scene, SceneSpec};
use std::path::Path;
use std::process::{Command, Output};

struct Setup {
    explainer: Explainer<CpuBackend>,
    scene: Scene,
    texts: Vec<String>,
}

fn setup() -> Setup {
    let explainer = Explainer::load(CpuBackend, &default_model_files().unwrap()).unwrap();
    let spec = SceneSpec { min_objects: 2, max_objects: 3, ..SceneSpec::default() };
    let scene = Scene::generate(5, 96, &spec).unwrap();
    let texts = vec!["a red circle".into(), "a blue square".into(), scene.objects[0].phrase()];
    Setup { explainer, scene, texts }
}

fn explain(setup: &Setup, texts: &[String], target: usize) -> Explanation {
    let request = Request {
        image: ImageInput::Decoded(&setup.scene.image),
        texts,
        target,
        method: Method::Chefer,
        options: MethodOptions::default(),
    };
    setup.explainer.explain(&request).unwrap()
}

/// Equal to f32 precision: the two sides are the engine's f32 arithmetic on different paths.
fn assert_near(what: &str, actual: f64, expected: f64) {
    assert!(
        actual.is_finite() && (actual - expected).abs() <= 1e-5 * expected.abs().max(1.0),
        "{what}: {actual} vs {expected}"
    );
}

#[test]
fn probability_curves_start_and_end_at_the_explanations_probability() {
    let setup = setup();
    let target = 2;
    let explanation = explain(&setup, &setup.texts, target);
    let curves =
        map_curves(&setup.explainer, &setup.scene.image, &explanation.patch_scores, &setup.texts, target).unwrap();
    assert_eq!(curves.quantity, CurveQuantity::Probability);
    let patches = explanation.patch_scores.len();
    assert_eq!((curves.deletion.len(), curves.insertion.len()), (patches + 1, patches + 1));
    let probability = f64::from(explanation.probs.as_ref().unwrap()[target]);
    assert_near("nothing deleted", curves.deletion[0], probability);
    assert_near("everything restored", curves.insertion[patches], probability);
    assert_near("everything deleted = nothing restored", curves.deletion[patches], curves.insertion[0]);
    // Most relevant first, ties by index.
    let mut order: Vec<usize> = (0..patches).collect();
    order.sort_by(|&a, &b| explanation.patch_scores[b].total_cmp(&explanation.patch_scores[a]).then(a.cmp(&b)));
    assert_eq!(curves.order, order);
    let mean = |c: &[f64]| c.windows(2).map(|w| (w[0] + w[1]) / 2.0).sum::<f64>() / (c.len() - 1) as f64;
    assert_near("deletion AUC", curves.deletion_auc, mean(&curves.deletion));
    assert_near("insertion AUC", curves.insertion_auc, mean(&curves.insertion));
}

/// The default model's logit scale, read from its weights file independently of the engine.
fn logit_scale() -> f64 {
    let files = default_model_files().unwrap();
    let tensors = safetensors::SafeTensors::deserialize(single_file(&files.weights)).unwrap();
    let view = tensors.tensor("logit_scale").unwrap();
    assert_eq!(view.dtype(), safetensors::Dtype::F16);
    f64::from(half::f16::from_le_bytes([view.data()[0], view.data()[1]]).to_f32())
}

#[test]
fn one_text_traces_the_cosine_that_the_logit_scales() {
    let setup = setup();
    let logits = explain(&setup, &setup.texts, 0).logits;
    let temperature = logit_scale().exp();
    for (index, text) in setup.texts.iter().enumerate() {
        let one = std::slice::from_ref(text);
        let explanation = explain(&setup, one, 0);
        assert_eq!(explanation.probs, None);
        let curves = map_curves(&setup.explainer, &setup.scene.image, &explanation.patch_scores, one, 0).unwrap();
        assert_eq!(curves.quantity, CurveQuantity::Cosine);
        // logit = exp(logit_scale) · cos(image, text), and nothing is deleted at the start.
        assert_near(&format!("cosine of {text}"), curves.deletion[0], f64::from(logits[index]) / temperature);
        assert_near("everything restored", curves.insertion[explanation.patch_scores.len()], curves.deletion[0]);
    }
}

#[test]
fn bad_maps_and_texts_are_errors() {
    let setup = setup();
    let patches = setup.explainer.geometry().patches();
    let image = &setup.scene.image;
    let scores = vec![0.5; patches];
    let message = |scores: &[f32], texts: &[String], target| {
        map_curves(&setup.explainer, image, scores, texts, target).unwrap_err().to_string()
    };
    assert!(message(&scores[1..], &setup.texts, 0).contains(&format!("has {} patch scores", patches - 1)));
    let mut with_nan = scores.clone();
    with_nan[3] = f32::NAN;
    assert!(message(&with_nan, &setup.texts, 0).contains("patch score 3 is NaN"));
    assert!(message(&scores, &setup.texts, 3).contains("target 3 is out of range"));
    assert!(message(&scores, &[], 0).contains("0 texts given"));
}

/// `sightline curves --image IMAGE --explanation EXPLANATION`.
fn curves_cli(image: &Path, explanation: &Path) -> Output {
    let mut cli = Command::new(env!("CARGO_BIN_EXE_sightline"));
    cli.args(["curves", "--image"]).arg(image).arg("--explanation").arg(explanation).output().unwrap()
}

#[test]
fn the_cli_gives_the_curves_of_an_explanation_file() {
    let setup = setup();
    let dir = std::env::temp_dir().join(format!("sightline-curves-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let image_path = dir.join("scene.png");
    setup.scene.image.save(&image_path).unwrap();
    let explanation = explain(&setup, &setup.texts, 1);
    let explanation_path = dir.join("explanation.json");
    std::fs::write(&explanation_path, serde_json::to_string(&explanation).unwrap()).unwrap();
    let output = curves_cli(&image_path, &explanation_path);
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let printed: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    let expected =
        map_curves(&setup.explainer, &setup.scene.image, &explanation.patch_scores, &setup.texts, 1).unwrap();
    assert_eq!(printed["quantity"], "probability");
    assert_eq!(printed["order"], serde_json::json!(expected.order));
    // The same arithmetic: equal but for the last digit of serde_json's float text read back.
    let same = |key: &str, value: &serde_json::Value, expected: f64| {
        let value = value.as_f64().unwrap();
        assert!((value - expected).abs() <= 1e-12 * expected.abs(), "{key}: {value} vs {expected}");
    };
    for (key, values) in [("deletion", &expected.deletion), ("insertion", &expected.insertion)] {
        let printed = printed[key].as_array().unwrap();
        assert_eq!(printed.len(), values.len(), "{key}");
        printed.iter().zip(values).for_each(|(a, b)| same(key, a, *b));
    }
    same("deletion_auc", &printed["deletion_auc"], expected.deletion_auc);
    same("insertion_auc", &printed["insertion_auc"], expected.insertion_auc);

    let output = curves_cli(&image_path, &image_path);
    assert!(!output.status.success());
    assert!(String::from_utf8_lossy(&output.stderr).contains("not an explanation JSON"));
    std::fs::remove_dir_all(&dir).unwrap();
}

fn single_file(weights: &sightline::loader::WeightFiles) -> &[u8] {
    match weights {
        sightline::loader::WeightFiles::Single(bytes) => bytes,
        sightline::loader::WeightFiles::Sharded(_) => panic!("the default model is one file"),
    }
}
