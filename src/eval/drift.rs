//! How far one model's explanations drift from another's (a quantized model from its full
//! precision original): on the benchmark's held-out scenes, each method's patch maps from both
//! models are compared by Spearman ρ and by whether their top patch agrees, and each model's
//! pointing game is scored against the prompted object's mask.

use super::metrics::{pointing_game, spearman, PatchOverlap};
use super::scenes::{eval_scenes, mask_at_model_input, prompted_objects};
use super::settings::EvalSettings;
use super::tally::Mean;
use crate::backend::Backend;
use crate::error::{Error, Result};
use crate::explain::{Explainer, ImageInput, Method, Request};
use crate::scene::all_single_captions;
use serde::Serialize;
use std::fmt::Write;
use web_time::Instant;

#[derive(Clone, Debug, Serialize)]
pub struct DriftRow {
    pub method: Method,
    /// Mean Spearman ρ between the two models' maps, over the maps where it is defined.
    pub mean_spearman: f64,
    pub min_spearman: f64,
    /// Maps where ρ is undefined (one map constant).
    pub undefined_spearman: usize,
    /// Share of prompts where both maps have the same highest patch.
    pub top_patch_agreement: f64,
    pub pointing_game_a: f64,
    pub pointing_game_b: f64,
    /// pointing_game_b − pointing_game_a.
    pub pointing_game_difference: f64,
}

#[derive(Clone, Debug, Serialize)]
pub struct DriftReport {
    pub model_a: String,
    pub dtype_a: String,
    pub model_b: String,
    pub dtype_b: String,
    pub seed: u64,
    pub scenes: usize,
    pub explained_objects: usize,
    pub steps: usize,
    pub rows: Vec<DriftRow>,
    pub total_ms: f64,
}

#[derive(Default)]
struct DriftTally {
    spearman: Mean,
    min_spearman: Option<f64>,
    undefined_spearman: usize,
    top_patch_agreement: Mean,
    pointing_game_a: Mean,
    pointing_game_b: Mean,
}

/// The first patch of highest score.
pub(super) fn top_patch(map: &[f32]) -> Option<usize> {
    map.iter().enumerate().max_by(|a, b| a.1.total_cmp(b.1).then(b.0.cmp(&a.0))).map(|(i, _)| i)
}

/// Explains the same prompts with `a` and `b` and compares their maps, method by method.
/// `progress(done, total)` is called after each scene.
pub fn drift<B: Backend>(
    a: &Explainer<B>,
    b: &Explainer<B>,
    settings: &EvalSettings,
    mut progress: impl FnMut(usize, usize),
) -> Result<DriftReport> {
    let started = Instant::now();
    settings.validate()?;
    let geometry = a.geometry();
    if b.geometry().image_size != geometry.image_size || b.geometry().patches() != geometry.patches() {
        return Err(Error::InvalidOption(format!(
            "the models see different inputs ({} px, {} patches vs {} px, {} patches): drift compares two versions of one model",
            geometry.image_size,
            geometry.patches(),
            b.geometry().image_size,
            b.geometry().patches()
        )));
    }
    let scene_size = settings.scene_size.unwrap_or(geometry.image_size as u32);
    let scenes = eval_scenes(settings.seed, settings.scenes, scene_size)?.multi_object;
    let captions = all_single_captions();
    let options = settings.method_options();
    let mut tallies: Vec<DriftTally> = settings.methods.iter().map(|_| DriftTally::default()).collect();
    let mut explained_objects = 0;
    for (done, scene) in scenes.iter().enumerate() {
        let crop = a.prepare_image(&scene.image).crop;
        for object in prompted_objects(scene, settings.prompts) {
            let mask = mask_at_model_input(&scene.objects[object].mask, crop, geometry);
            let overlap = PatchOverlap::from_mask(&mask, geometry)?;
            if overlap.mask_size() == 0 {
                continue;
            }
            let phrase = scene.objects[object].phrase();
            let target = captions
                .iter()
                .position(|c| *c == phrase)
                .ok_or_else(|| Error::InvalidOption(format!("`{phrase}` is not one of the benchmark's captions")))?;
            for (&method, tally) in settings.methods.iter().zip(&mut tallies) {
                let request =
                    Request { image: ImageInput::Decoded(&scene.image), texts: &captions, target, method, options };
                let map_a = a.explain(&request)?.patch_scores;
                let map_b = b.explain(&request)?.patch_scores;
                match spearman(&map_a, &map_b) {
                    Some(rho) => {
                        tally.spearman.add(rho);
                        tally.min_spearman = Some(tally.min_spearman.map_or(rho, |m: f64| m.min(rho)));
                    }
                    None => tally.undefined_spearman += 1,
                }
                tally.top_patch_agreement.add(f64::from(u8::from(top_patch(&map_a) == top_patch(&map_b))));
                tally.pointing_game_a.add(pointing_game(&map_a, &overlap)?);
                tally.pointing_game_b.add(pointing_game(&map_b, &overlap)?);
            }
            explained_objects += 1;
        }
        progress(done + 1, scenes.len());
    }
    if explained_objects == 0 {
        return Err(Error::InvalidOption("no prompted object is visible at the model's input size".into()));
    }
    let rows = settings
        .methods
        .iter()
        .zip(tallies)
        .map(|(&method, tally)| {
            let (pg_a, pg_b) =
                (tally.pointing_game_a.value().unwrap_or(0.0), tally.pointing_game_b.value().unwrap_or(0.0));
            DriftRow {
                method,
                mean_spearman: tally.spearman.value().unwrap_or(f64::NAN),
                min_spearman: tally.min_spearman.unwrap_or(f64::NAN),
                undefined_spearman: tally.undefined_spearman,
                top_patch_agreement: tally.top_patch_agreement.value().unwrap_or(0.0),
                pointing_game_a: pg_a,
                pointing_game_b: pg_b,
                pointing_game_difference: pg_b - pg_a,
            }
        })
        .collect();
    Ok(DriftReport {
        model_a: a.info.name.clone(),
        dtype_a: a.info.dtype.clone(),
        model_b: b.info.name.clone(),
        dtype_b: b.info.dtype.clone(),
        seed: settings.seed,
        scenes: settings.scenes,
        explained_objects,
        steps: settings.steps,
        rows,
        total_ms: started.elapsed().as_secs_f64() * 1e3,
    })
}

impl DriftReport {
    pub fn to_markdown(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(
            out,
            "**A:** {} ({}) · **B:** {} ({}) · seed {} · {} scenes · {} explained objects · {} steps\n",
            self.model_a,
            self.dtype_a,
            self.model_b,
            self.dtype_b,
            self.seed,
            self.scenes,
            self.explained_objects,
            self.steps
        );
        out.push_str(
            "| method | mean Spearman ρ | min ρ | top-patch agreement | pointing game A | pointing game B | B − A |\n",
        );
        out.push_str("|---|---:|---:|---:|---:|---:|---:|\n");
        for row in &self.rows {
            let undefined = match row.undefined_spearman {
                0 => String::new(),
                n => format!(" ({n} undefined)"),
            };
            let _ = writeln!(
                out,
                "| {} | {:.4}{undefined} | {:.4} | {:.3} | {:.3} | {:.3} | {:+.3} |",
                row.method,
                row.mean_spearman,
                row.min_spearman,
                row.top_patch_agreement,
                row.pointing_game_a,
                row.pointing_game_b,
                row.pointing_game_difference
            );
        }
        out
    }
}
