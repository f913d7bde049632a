//! The faithfulness benchmark: every metric on hand-made maps and masks with known answers, the
//! baselines, the scene and curve plumbing, and small runs through the library and the CLI.

mod common;

use common::fixture;
use sightline::backend::cpu::CpuBackend;
use sightline::eval::baselines::{centre_patch_scores, random_patch_scores};
use sightline::eval::curves::{deletion_insertion, perturbed_input};
use sightline::eval::metrics::{
    abs_spearman, average_ranks, pointing_game, relevance_mass_accuracy, relevance_order, relevance_rank_accuracy,
    spearman, strict_pointing_game, text_dependence, trapezoid_auc, PatchOverlap,
};
use sightline::eval::scenes::{eval_scenes, mask_at_model_input, prompted_objects};
use sightline::eval::{evaluate_model, Cascade, EvalReport, EvalSettings, Prompts, RowKind, MIN_EVAL_SEED};
use sightline::explain::{Explainer, Geometry, ImageInput, Method, MethodOptions, Request};
use sightline::loader::{ModelFiles, Weights};
use sightline::preprocess::ImageCropRect;
use sightline::scene::{all_single_captions, scene_seeds, Mask, Scene, SceneSpec};
use std::process::Command;

const TOLERANCE: f64 = 1e-12;

fn assert_near(actual: f64, expected: f64, what: &str) {
    assert!((actual - expected).abs() < TOLERANCE, "{what}: {actual} vs expected {expected}");
}

/// A 2×2 grid of 4-pixel patches; the object covers all of patch 0 and half of patch 1 (K = 6).
fn two_by_two_overlap() -> PatchOverlap {
    PatchOverlap { mask_pixels: vec![4, 2, 0, 0], patch_pixels: vec![4; 4] }
}

#[test]
fn pointing_game_hits_misses_and_splits_ties() {
    let overlap = two_by_two_overlap();
    assert_eq!(pointing_game(&[0.0, 5.0, 1.0, -1.0], &overlap).unwrap(), 1.0);
    assert_eq!(pointing_game(&[0.0, 1.0, 5.0, -1.0], &overlap).unwrap(), 0.0);
    // Patches 1 and 2 tie for the top; only patch 1 touches the object.
    assert_eq!(pointing_game(&[0.0, 3.0, 3.0, -1.0], &overlap).unwrap(), 0.5);
    assert!(pointing_game(&[0.0, f32::NAN, 1.0, 2.0], &overlap).is_err());
    assert!(pointing_game(&[1.0, 2.0], &overlap).is_err());
}

#[test]
fn strict_pointing_needs_a_top_patch_that_is_mostly_object() {
    let overlap = two_by_two_overlap();
    // Patch 0 is all object, patch 1 half: the lenient game counts both, the strict one patch 0.
    assert_eq!(strict_pointing_game(&[5.0, 0.0, 1.0, -1.0], &overlap).unwrap(), 1.0);
    assert_eq!(strict_pointing_game(&[0.0, 5.0, 1.0, -1.0], &overlap).unwrap(), 0.0);
    assert_eq!(pointing_game(&[0.0, 5.0, 1.0, -1.0], &overlap).unwrap(), 1.0);
    assert_eq!(strict_pointing_game(&[3.0, 3.0, 3.0, -1.0], &overlap).unwrap(), 1.0 / 3.0);
    let most = PatchOverlap { mask_pixels: vec![3, 0, 0, 0], patch_pixels: vec![4; 4] };
    assert_eq!(strict_pointing_game(&[1.0, 0.0, 0.0, 0.0], &most).unwrap(), 1.0);
    assert!(strict_pointing_game(&[f32::INFINITY, 0.0, 0.0, 0.0], &overlap).is_err());
}

#[test]
fn text_dependence_needs_two_different_top_patches_on_their_objects() {
    // Object A covers patches 0 and 1, object B patches 1 and 3: patch 1 touches both.
    let a = PatchOverlap { mask_pixels: vec![4, 1, 0, 0], patch_pixels: vec![4; 4] };
    let b = PatchOverlap { mask_pixels: vec![0, 2, 0, 4], patch_pixels: vec![4; 4] };
    // The same map for both prompts, pointing at the shared patch: both pointing games hit, but a
    // map that ignores the prompt must not count.
    let shared = [0.0, 9.0, 0.0, 0.0];
    assert_eq!(pointing_game(&shared, &a).unwrap() * pointing_game(&shared, &b).unwrap(), 1.0);
    assert_eq!(text_dependence(&shared, &a, &shared, &b).unwrap(), 0.0);
    // Each prompt's map on its own object, at different patches.
    assert_eq!(text_dependence(&[9.0, 0.0, 0.0, 0.0], &a, &[0.0, 0.0, 0.0, 9.0], &b).unwrap(), 1.0);
    assert_eq!(text_dependence(&[9.0, 0.0, 0.0, 0.0], &a, &[0.0, 9.0, 0.0, 0.0], &b).unwrap(), 1.0);
    // A miss on either side fails the scene.
    assert_eq!(text_dependence(&[0.0, 0.0, 9.0, 0.0], &a, &[0.0, 0.0, 0.0, 9.0], &b).unwrap(), 0.0);
    // Ties: the first map's top is {0, 1}, the second's {1, 3}; of the four equally likely
    // picks, (0, 1), (0, 3) and (1, 3) count, (1, 1) does not.
    assert_eq!(text_dependence(&[9.0, 9.0, 0.0, 0.0], &a, &[0.0, 9.0, 0.0, 9.0], &b).unwrap(), 0.75);
    assert!(text_dependence(&[9.0, 0.0], &a, &shared, &b).is_err());
}

#[test]
fn mass_accuracy_counts_positive_relevance_spread_over_pixels() {
    let overlap = two_by_two_overlap();
    // Positive relevance 1 + 3 = 4; inside: all of patch 0's 1 and half of patch 1's 3.
    assert_near(relevance_mass_accuracy(&[1.0, 3.0, -2.0, 0.0], &overlap).unwrap(), 2.5 / 4.0, "mass");
    assert_near(relevance_mass_accuracy(&[0.0, 0.0, 0.0, 7.0], &overlap).unwrap(), 0.0, "mass outside");
    assert_near(relevance_mass_accuracy(&[-1.0, -2.0, 0.0, 0.0], &overlap).unwrap(), 0.0, "no positive mass");
}

#[test]
fn rank_accuracy_takes_the_top_k_pixels_and_expects_over_ties() {
    let overlap = two_by_two_overlap();
    // K = 6: patch 1's 4 pixels first (2 inside), then 2 of patch 0's 4 (all inside).
    assert_near(relevance_rank_accuracy(&[1.0, 3.0, -2.0, 0.0], &overlap).unwrap(), 4.0 / 6.0, "rank");
    // Patches 0 and 1 tie: 6 places among 8 tied pixels, 6 of them inside → 6 · 6/8 expected hits.
    assert_near(relevance_rank_accuracy(&[2.0, 2.0, 0.0, 0.0], &overlap).unwrap(), 4.5 / 6.0, "tie");
    // Ties are symmetric: the order of the tied patches cannot matter.
    let swapped = PatchOverlap { mask_pixels: vec![2, 4, 0, 0], patch_pixels: vec![4; 4] };
    assert_near(relevance_rank_accuracy(&[2.0, 2.0, 0.0, 0.0], &swapped).unwrap(), 4.5 / 6.0, "swapped tie");
    // A map with no positive relevance is one tie: chance, K/N.
    assert_near(relevance_rank_accuracy(&[-1.0, 0.0, -3.0, 0.0], &overlap).unwrap(), 6.0 / 16.0, "chance");
    // The best a patch map can do here: patch 1 is only half object, so 1 of its 2 places misses.
    assert_near(relevance_rank_accuracy(&[9.0, 8.0, 0.0, 0.0], &overlap).unwrap(), 5.0 / 6.0, "best patch order");
    let whole = PatchOverlap { mask_pixels: vec![4, 0, 0, 0], patch_pixels: vec![4; 4] };
    assert_near(relevance_rank_accuracy(&[9.0, 8.0, 0.0, 0.0], &whole).unwrap(), 1.0, "perfect");
    let empty = PatchOverlap { mask_pixels: vec![0; 4], patch_pixels: vec![4; 4] };
    assert!(relevance_rank_accuracy(&[1.0, 0.0, 0.0, 0.0], &empty).is_err());
}

#[test]
fn patch_overlap_counts_mask_pixels_per_patch() {
    let geometry = Geometry { image_size: 4, patch_size: 2, grid_side: 2 };
    let mut mask = Mask::new(4, 4);
    for (x, y) in [(0, 0), (1, 1), (2, 0), (3, 3), (2, 3)] {
        mask.set(x, y);
    }
    let overlap = PatchOverlap::from_mask(&mask, geometry).unwrap();
    assert_eq!(overlap.mask_pixels, vec![2, 1, 0, 2]);
    assert_eq!(overlap.patch_pixels, vec![4; 4]);
    assert_eq!(overlap.mask_size(), 5);
    assert!(PatchOverlap::from_mask(&Mask::new(6, 6), geometry).is_err());
}

#[test]
fn trapezoid_auc_of_known_curves() {
    assert_near(trapezoid_auc(&[1.0, 1.0]).unwrap(), 1.0, "constant");
    assert_near(trapezoid_auc(&[0.0, 1.0]).unwrap(), 0.5, "ramp");
    assert_near(trapezoid_auc(&[0.0, 0.25, 0.5, 0.75, 1.0]).unwrap(), 0.5, "sampled ramp");
    // Drops to 0 after the first of four intervals: a triangle of width 1/4.
    assert_near(trapezoid_auc(&[1.0, 0.0, 0.0, 0.0, 0.0]).unwrap(), 0.125, "early drop");
    assert!(trapezoid_auc(&[1.0]).is_err());
}

#[test]
fn spearman_uses_average_ranks_for_ties() {
    assert_eq!(average_ranks(&[3.0, 1.0, 3.0, 2.0]), vec![3.5, 1.0, 3.5, 2.0]);
    // Ranks (1, 2.5, 2.5, 4) and (1, 3, 2, 4): covariance 4.5, variances 4.5 and 5.
    let expected = 4.5 / (4.5f64 * 5.0).sqrt();
    assert_near(spearman(&[1.0, 2.0, 2.0, 3.0], &[10.0, 30.0, 20.0, 40.0]).unwrap(), expected, "tied ρ");
    assert_near(spearman(&[1.0, 2.0, 3.0], &[3.0, 2.0, 1.0]).unwrap(), -1.0, "reversed");
    assert_near(spearman(&[1.0, 2.0, 3.0], &[1.0, 8.0, 27.0]).unwrap(), 1.0, "monotone");
    assert_eq!(spearman(&[1.0, 1.0, 1.0], &[1.0, 2.0, 3.0]), None);
    assert_eq!(spearman(&[1.0, 2.0], &[1.0, 2.0, 3.0]), None);
}

#[test]
fn abs_spearman_ignores_the_sign() {
    // A map whose sign flipped but whose magnitudes kept their order.
    let (a, b) = ([-3.0, 1.0, -2.0, 0.5], [3.0, -1.0, 2.0, -0.5]);
    assert_near(spearman(&a, &b).unwrap(), -1.0, "signed");
    assert_near(abs_spearman(&a, &b).unwrap(), 1.0, "absolute");
    assert_eq!(abs_spearman(&[1.0, -1.0], &[1.0, 2.0]), None, "|a| is constant");
}

#[test]
fn relevance_order_is_decreasing_with_ties_by_index() {
    assert_eq!(relevance_order(&[1.0, 3.0, 1.0, 2.0, 3.0]), vec![1, 4, 3, 0, 2]);
}

#[test]
fn baselines_are_deterministic() {
    let a = random_patch_scores(64, 7);
    assert_eq!(a, random_patch_scores(64, 7));
    assert_ne!(a, random_patch_scores(64, 8));
    assert!(a.iter().all(|v| (0.0..1.0).contains(v)));

    let centre = centre_patch_scores(4);
    assert_eq!(centre, centre_patch_scores(4));
    let top = centre.iter().copied().fold(f32::MIN, f32::max);
    let tops: Vec<usize> = (0..16).filter(|&i| centre[i] == top).collect();
    assert_eq!(tops, vec![5, 6, 9, 10]);
    for corner in [0, 3, 12, 15] {
        assert_eq!(centre[corner], 0.0);
    }
    assert!(centre.iter().all(|&v| v >= 0.0));
}

#[test]
fn perturbed_inputs_delete_and_insert_whole_patches_in_order() {
    let geometry = Geometry { image_size: 4, patch_size: 2, grid_side: 2 };
    let pixels: Vec<f32> = (1..=48).map(|v| v as f32).collect();
    let order = [3, 0, 2, 1];
    let patch_of = |i: usize| ((i % 16) / 4 / 2) * 2 + (i % 4) / 2;
    let deleted = perturbed_input(&pixels, geometry, &order, 2, true);
    let inserted = perturbed_input(&pixels, geometry, &order, 2, false);
    for i in 0..48 {
        let removed = [3, 0].contains(&patch_of(i));
        assert_eq!(deleted[i], if removed { 0.0 } else { pixels[i] }, "deletion at {i}");
        assert_eq!(inserted[i], if removed { pixels[i] } else { 0.0 }, "insertion at {i}");
    }
    assert!(perturbed_input(&pixels, geometry, &order, 4, true).iter().all(|&v| v == 0.0));
    assert_eq!(perturbed_input(&pixels, geometry, &order, 4, false), pixels);
}

#[test]
fn masks_map_to_the_model_input_through_the_crop() {
    let geometry = Geometry { image_size: 4, patch_size: 2, grid_side: 2 };
    let mut mask = Mask::new(4, 4);
    mask.set(1, 2);
    let identity = ImageCropRect { x: 0.0, y: 0.0, width: 4.0, height: 4.0 };
    assert_eq!(mask_at_model_input(&mask, identity, geometry), mask);

    // An 8×8 scene shrunk to the 4-pixel input: input pixel (x, y) samples scene pixel (2x+1, 2y+1).
    let mut large = Mask::new(8, 8);
    large.set(3, 5);
    large.set(2, 2);
    let shrink = ImageCropRect { x: 0.0, y: 0.0, width: 8.0, height: 8.0 };
    let small = mask_at_model_input(&large, shrink, geometry);
    assert_eq!(small.pixels().collect::<Vec<_>>(), vec![(1, 2)]);
}

#[test]
fn eval_scenes_are_held_out_and_shaped_as_specified() {
    assert!(eval_scenes(MIN_EVAL_SEED - 1, 2, 48).is_err());
    let scenes = eval_scenes(MIN_EVAL_SEED, 8, 48).unwrap();
    assert!(scenes.multi_object.iter().all(|s| (2..=4).contains(&s.objects.len())));
    assert!(scenes.two_object.iter().all(|s| s.objects.len() == 2));
    let again = eval_scenes(MIN_EVAL_SEED, 3, 48).unwrap();
    for (a, b) in again.multi_object.iter().zip(&scenes.multi_object) {
        assert_eq!(a.image, b.image, "the first scenes do not depend on the count");
    }
    for scene in &scenes.multi_object {
        let one = prompted_objects(scene, Prompts::OnePerScene);
        assert_eq!(one.len(), 1);
        assert!(one[0] < scene.objects.len());
        assert_eq!(one, prompted_objects(scene, Prompts::OnePerScene));
        assert_eq!(prompted_objects(scene, Prompts::EveryObject), (0..scene.objects.len()).collect::<Vec<_>>());
    }
}

#[test]
fn settings_are_validated() {
    assert!(EvalSettings::default().validate().is_ok());
    assert!(EvalSettings { scenes: 0, ..EvalSettings::default() }.validate().is_err());
    assert!(EvalSettings { methods: vec![], ..EvalSettings::default() }.validate().is_err());
    let twice = vec![Method::Gradient, Method::Rollout, Method::Gradient];
    assert!(EvalSettings { methods: twice, ..EvalSettings::default() }.validate().is_err());
    assert!(EvalSettings { steps: 0, ..EvalSettings::default() }.validate().is_err());
}

fn fixture_model() -> ModelFiles {
    ModelFiles::from_path(&fixture("clip-random-a")).unwrap()
}

/// The positive control of rank accuracy: the best map a patch grid can give (each patch's share
/// of the object) must score exactly the ceiling tools/patch_grid_rank_cap.py computes for the
/// same scenes with its own implementation.
#[test]
fn the_oracle_patch_map_reaches_the_patch_grid_ceiling() {
    let expected = common::read_json(&fixture("eval/rank-cap.json"));
    let number = |key: &str| expected[key].as_u64().unwrap();
    let spec = SceneSpec {
        min_objects: number("min_objects") as usize,
        max_objects: number("max_objects") as usize,
        ..SceneSpec::default()
    };
    let (size, grid) = (number("size") as usize, number("grid") as usize);
    let geometry = Geometry { image_size: size, patch_size: size / grid, grid_side: grid };
    let mut ours = Vec::new();
    for seed in scene_seeds(number("seed"), number("count") as usize) {
        let scene = Scene::generate(seed, size as u32, &spec).unwrap();
        for object in &scene.objects {
            let overlap = PatchOverlap::from_mask(&object.mask, geometry).unwrap();
            if overlap.mask_size() == 0 {
                continue;
            }
            let oracle: Vec<f32> =
                overlap.mask_pixels.iter().zip(&overlap.patch_pixels).map(|(&m, &n)| m as f32 / n as f32).collect();
            ours.push(relevance_rank_accuracy(&oracle, &overlap).unwrap());
        }
    }
    let caps: Vec<f64> = expected["caps"].as_array().unwrap().iter().map(|v| v.as_f64().unwrap()).collect();
    assert_eq!(ours.len(), caps.len(), "objects");
    for (i, (ours, cap)) in ours.iter().zip(&caps).enumerate() {
        assert_near(*ours, *cap, &format!("object {i}"));
    }
    // And nothing beats it: the mask itself, spread over patches, is the same order.
    assert!(caps.iter().sum::<f64>() / (caps.len() as f64) < 0.7, "the grid caps rank accuracy well below 1");
}

/// The cascade replaces the head first and ends with every tensor random.
#[test]
fn cascading_randomization_runs_from_the_head_down() {
    let files = fixture_model();
    let explainer = Explainer::load(CpuBackend, &files).unwrap();
    let cascade = Cascade::new(&files, explainer.config(), MIN_EVAL_SEED).unwrap();
    assert_eq!(cascade.labels(), ["head", "block 1", "block 0", "embeddings"]);
    let trained = Weights::from_files(&files.weights).unwrap();
    let stages: Vec<_> = (0..4).map(|stage| cascade.stage_files(stage).unwrap().weights).collect();
    let changed = |stage: usize| -> Vec<String> {
        let weights = Weights::from_files(&stages[stage]).unwrap();
        trained
            .tensor_shapes()
            .into_iter()
            .filter(|(name, shape)| weights.get(name, shape).unwrap() != trained.get(name, shape).unwrap())
            .map(|(name, _)| name)
            .collect()
    };
    let head = changed(0);
    assert!(head.contains(&"visual_projection.weight".to_string()), "{head:?}");
    assert!(head.iter().all(|n| !n.contains(".layers.") && !n.contains("embeddings")), "{head:?}");
    let block_1 = changed(1);
    assert!(block_1.iter().any(|n| n.starts_with("vision_model.encoder.layers.1.")), "{block_1:?}");
    assert!(block_1.iter().all(|n| !n.contains(".layers.0.")), "{block_1:?}");
    let everything = changed(3);
    // Norms drawn as γ = 1, β = 0 may equal the trained ones; every weight matrix is redrawn.
    assert!(trained
        .tensor_shapes()
        .iter()
        .filter(|(n, _)| n.ends_with("proj.weight"))
        .all(|(n, _)| everything.contains(n)));
    assert!(cascade.stage_files(4).is_err());
}

#[test]
fn curves_start_at_the_explained_probability() {
    let files = fixture_model();
    let explainer = Explainer::load(CpuBackend, &files).unwrap();
    let scenes = eval_scenes(MIN_EVAL_SEED, 1, 48).unwrap();
    let scene = &scenes.multi_object[0];
    let captions = all_single_captions();
    let target = captions.iter().position(|c| *c == scene.objects[0].phrase()).unwrap();
    let request = Request {
        image: ImageInput::Decoded(&scene.image),
        texts: &captions,
        target,
        method: Method::Gradient,
        options: MethodOptions::default(),
    };
    let explanation = explainer.explain(&request).unwrap();
    let expected = f64::from(explanation.probs.as_ref().unwrap()[target]);
    let pixels = explainer.prepare_image(&scene.image).pixels.data;
    let order = relevance_order(&explanation.patch_scores);
    let embeddings = explainer.text_embeddings(&captions).unwrap();
    let curves = deletion_insertion(&explainer, &pixels, &order, &embeddings, target).unwrap();
    let points = explainer.geometry().patches() + 1;
    assert_eq!((curves.deletion.len(), curves.insertion.len()), (points, points));
    assert!((curves.deletion[0] - expected).abs() < 1e-5, "{} vs {expected}", curves.deletion[0]);
    assert!((curves.insertion[points - 1] - expected).abs() < 1e-5);
    // Deleting everything and inserting nothing are the same all-zero input.
    assert!((curves.deletion[points - 1] - curves.insertion[0]).abs() < 1e-6);
}

#[test]
fn attention_maps_ignore_the_prompt() {
    let explainer = Explainer::load(CpuBackend, &fixture_model()).unwrap();
    let scenes = eval_scenes(MIN_EVAL_SEED, 1, 48).unwrap();
    let captions = all_single_captions();
    for method in [Method::Attention, Method::Rollout] {
        let map = |target| {
            let request = Request {
                image: ImageInput::Decoded(&scenes.two_object[0].image),
                texts: &captions,
                target,
                method,
                options: MethodOptions::default(),
            };
            explainer.explain(&request).unwrap().patch_scores
        };
        assert_eq!(map(0), map(7), "{method}");
    }
}

fn assert_report_in_range(report: &EvalReport, methods: &[Method]) {
    let names: Vec<&str> = report.rows.iter().map(|r| r.name.as_str()).collect();
    let mut expected: Vec<&str> = methods.iter().map(|m| m.name()).collect();
    expected.extend(["random", "centre"]);
    assert_eq!(names, expected);
    for row in &report.rows {
        let unit = [
            row.pointing_game,
            row.strict_pointing_game,
            row.relevance_mass_accuracy,
            row.relevance_rank_accuracy,
            row.deletion_auc,
            row.insertion_auc,
            row.text_dependence,
        ];
        assert!(unit.iter().all(|v| v.is_finite() && (0.0..=1.0).contains(v)), "{}: {unit:?}", row.name);
        assert!(row.strict_pointing_game <= row.pointing_game, "{}: strict above lenient", row.name);
        assert_eq!(row.randomization.len(), 4, "{}: one entry per cascade stage", row.name);
        for stage in &row.randomization {
            for rho in [stage.rho, stage.abs_rho] {
                let rho = rho.expect("random weights give non-constant maps");
                assert!(rho.is_finite() && (-1.0..=1.0 + 1e-9).contains(&rho), "{}: ρ {rho}", row.name);
                // The negative control: a map that uses no weights keeps ρ = 1 at every stage.
                if row.kind == RowKind::Baseline {
                    assert!((rho - 1.0).abs() < 1e-9, "{}: a baseline does not depend on weights", row.name);
                }
            }
        }
        assert_eq!(row.randomization_rho, row.randomization.last().unwrap().rho, "the last stage is the full one");
        assert!(row.timings_ms["total"].is_finite());
    }
    assert!(report.explained_objects >= 1 && report.explained_objects <= report.scenes);
    assert!(report.text_dependence_scenes >= 1 && report.text_dependence_scenes <= report.scenes);
}

#[test]
fn a_small_run_on_random_weights_reports_every_number_in_range() {
    let methods = vec![Method::Gradient, Method::Occlusion];
    let settings = EvalSettings { scenes: 6, methods: methods.clone(), ..EvalSettings::default() };
    let report = evaluate_model(CpuBackend, &fixture_model(), &settings).unwrap();
    assert_eq!((report.scenes, report.input_size, report.patch_grid), (6, 48, [6, 6]));
    assert_report_in_range(&report, &methods);
    assert!(report.best_pointing_game().is_some_and(|best| best.kind == RowKind::Method));

    let markdown = report.to_markdown();
    let lines: Vec<&str> = markdown.lines().collect();
    assert!(lines[0].contains("clip-random-a") && lines[0].contains("seed 1000000"), "{}", lines[0]);
    let table: Vec<&&str> = lines.iter().filter(|l| l.starts_with('|')).collect();
    assert_eq!(table.len(), 2 * (2 + 4), "two tables of a header, a rule, two methods and two baselines");
    assert!(table[0].contains("strict pointing") && table[0].contains("RISE-style deletion"));
    assert!(table[0].contains("randomization ρ"));
    assert!(table[6].contains("| head | block 1 | block 0 | embeddings |"), "{}", table[6]);
    assert!(markdown.contains("Cascading randomization") && markdown.contains("RISE-style"));

    let json = serde_json::to_value(&report).unwrap();
    assert_eq!(json["rows"].as_array().unwrap().len(), 4);
    assert!(json["rows"][0]["timings_ms"]["curves"].is_number());
    assert_eq!(json["rows"][0]["randomization"][0]["randomized"], "head");
}

/// The negative control of text dependence: maps that never see the prompt cannot score it.
#[test]
fn text_independent_maps_have_no_text_dependence() {
    let methods = vec![Method::Attention, Method::Rollout];
    let settings = EvalSettings { scenes: 4, methods: methods.clone(), ..EvalSettings::default() };
    let report = evaluate_model(CpuBackend, &fixture_model(), &settings).unwrap();
    for method in methods {
        assert_eq!(report.row(method.name()).unwrap().text_dependence, 0.0, "{method}");
    }
}

#[test]
fn the_cli_writes_the_table_and_json_and_rejects_training_seeds() {
    let dir = std::env::temp_dir().join(format!("sightline-eval-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let (json, markdown) = (dir.join("eval.json"), dir.join("eval.md"));
    let model = fixture("clip-random-a");
    let run = |extra: &[&str]| {
        let mut args = vec!["eval", "--model", model.to_str().unwrap(), "--scenes", "2", "--methods", "rollout,chefer"];
        args.extend(extra);
        Command::new(env!("CARGO_BIN_EXE_sightline")).args(&args).output().unwrap()
    };
    let output = run(&["--json", json.to_str().unwrap(), "--markdown", markdown.to_str().unwrap(), "--steps", "4"]);
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let stdout = String::from_utf8(output.stdout).unwrap();
    assert_eq!(stdout, std::fs::read_to_string(&markdown).unwrap());
    assert!(stdout.contains("| rollout |") && stdout.contains("| chefer |") && stdout.contains("text-independent"));
    let report = common::read_json(&json);
    assert_eq!(report["rows"].as_array().unwrap().len(), 4);
    assert_eq!(report["steps"], 4);

    let refused = run(&["--seed", "5"]);
    assert!(!refused.status.success());
    assert!(String::from_utf8_lossy(&refused.stderr).contains("reserved for training"));
    let unknown = run(&["--methods", "lime"]);
    assert!(String::from_utf8_lossy(&unknown.stderr).contains("unknown method `lime`"));
    std::fs::remove_dir_all(&dir).unwrap();
}
