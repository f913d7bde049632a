//! The embedded default model: it loads from the bytes inside the binary, understands the scenes it
//! was trained on, and its explanations stay faithful. The small benchmark run here guards both the
//! model and every method: each method has its own pointing-game floor.

use sightline::backend::cpu::CpuBackend;
use sightline::default_model::{default_model_files, DEFAULT_MODEL_NAME};
use sightline::eval::{evaluate_model, EvalSettings, Prompts, MIN_EVAL_SEED};
use sightline::explain::{Explainer, ImageInput, Method, MethodOptions, Request};
use sightline::scene::{all_single_captions, Scene, SceneSpec};
use std::process::Command;

fn default_explainer() -> Explainer<CpuBackend> {
    Explainer::load(CpuBackend, &default_model_files().expect("embedded files")).expect("the default model loads")
}

#[test]
fn loads_from_the_embedded_bytes_with_its_own_preprocessing() {
    let explainer = default_explainer();
    assert_eq!(explainer.info.name, DEFAULT_MODEL_NAME);
    let geometry = explainer.geometry();
    assert_eq!(geometry.image_size, 96);
    assert!(geometry.grid_side >= 8, "the issue asks for a patch grid of at least 8 × 8");
}

#[test]
fn names_the_object_of_held_out_one_object_scenes() {
    let explainer = default_explainer();
    let captions = all_single_captions();
    let spec = SceneSpec { min_objects: 1, max_objects: 1, ..SceneSpec::default() };
    let scenes = 24;
    let mut right = 0;
    for index in 0..scenes {
        let scene = Scene::generate(MIN_EVAL_SEED + index, 96, &spec).expect("scene");
        let request = Request {
            image: ImageInput::Decoded(&scene.image),
            texts: &captions,
            target: 0,
            method: Method::Attention,
            options: MethodOptions::default(),
        };
        let probs = explainer.explain(&request).expect("explains").probs.expect("several texts give probs");
        let best = probs.iter().enumerate().max_by(|a, b| a.1.total_cmp(b.1)).map(|(i, _)| i).unwrap_or(0);
        right += usize::from(captions[best] == scene.objects[0].phrase());
    }
    assert!(right >= scenes as usize - 1, "only {right} of {scenes} held-out scenes named right");
}

/// The pointing game each method must keep on the development scenes (seed [`MIN_EVAL_SEED`],
/// the first 24, 8 steps), a little below what the current model measures there (in
/// parentheses), so a regression of the model or of one method's arithmetic fails here by name.
/// The published table is measured on unseen scenes (README.md).
const POINTING_FLOORS: [(Method, f64); 9] = [
    (Method::Attention, 0.35),           // (0.458)
    (Method::Rollout, 0.30),             // (0.417)
    (Method::Gradient, 0.70),            // (0.833)
    (Method::GradXInput, 0.85),          // (0.958)
    (Method::IntegratedGradients, 0.90), // (1.000)
    (Method::Smoothgrad, 0.55),          // (0.667)
    (Method::Gradcam, 0.45),             // (0.589)
    (Method::Chefer, 0.90),              // (1.000)
    (Method::Occlusion, 0.85),           // (0.958)
];

#[test]
fn every_method_keeps_its_pointing_game_on_the_development_scenes() {
    let settings = EvalSettings {
        scenes: 24,
        seed: MIN_EVAL_SEED,
        methods: POINTING_FLOORS.iter().map(|(method, _)| *method).collect(),
        steps: 8,
        scene_size: None,
        prompts: Prompts::OnePerScene,
    };
    let report = evaluate_model(CpuBackend, &default_model_files().expect("files"), &settings).expect("benchmark");
    let random = report.row("random").expect("the random baseline").pointing_game;
    let measured: Vec<String> =
        report.rows.iter().map(|row| format!("{} {:.3}", row.name, row.pointing_game)).collect();
    for (method, floor) in POINTING_FLOORS {
        let row = report.row(method.name()).expect("every method ran");
        assert!(
            row.pointing_game >= floor && row.pointing_game > random,
            "{method}: pointing game {:.3} below its floor {floor} (random {random:.3}; measured: {})",
            row.pointing_game,
            measured.join(", ")
        );
    }
    // The localisation targets for the best gradient method, on the same fixed scenes.
    let ig = report.row("integrated_gradients").expect("integrated gradients ran");
    assert!(ig.relevance_mass_accuracy >= 0.6, "integrated gradients' mass accuracy {}", ig.relevance_mass_accuracy);
    assert!(ig.relevance_rank_accuracy >= 0.7, "integrated gradients' rank accuracy {}", ig.relevance_rank_accuracy);
    assert!(ig.text_dependence >= 0.9, "integrated gradients' text dependence {}", ig.text_dependence);
}

#[test]
fn the_cli_explains_without_a_model_argument() {
    let scene = Scene::generate(MIN_EVAL_SEED, 96, &SceneSpec::default()).expect("scene");
    let dir = std::env::temp_dir().join(format!("sightline-default-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let image = dir.join("scene.png");
    scene.image.save(&image).expect("png");
    let output = Command::new(env!("CARGO_BIN_EXE_sightline"))
        .args(["explain", "--image"])
        .arg(&image)
        .args(["--text", &scene.objects[0].phrase(), "--method", "chefer", "--json", "-"])
        .output()
        .expect("runs");
    std::fs::remove_dir_all(&dir).ok();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let json: serde_json::Value = serde_json::from_slice(&output.stdout).expect("json");
    assert_eq!(json["model"]["name"], DEFAULT_MODEL_NAME);
    assert_eq!(json["patch_scores"].as_array().map(Vec::len), Some(64));
}
