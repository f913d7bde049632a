//! Runs the benchmark: every map source on every held-out scene, then the means.

use super::baselines::Baseline;
use super::curves::deletion_insertion;
use super::metrics::{
    pointing_game, relevance_mass_accuracy, relevance_order, relevance_rank_accuracy, spearman, PatchOverlap,
};
use super::report::{EvalReport, RowKind};
use super::scenes::{eval_scenes, mask_at_model_input, prompted_objects};
use super::settings::EvalSettings;
use super::tally::Tally;
use crate::backend::Backend;
use crate::bench::random_clip_safetensors;
use crate::error::{Error, Result};
use crate::explain::noise::SplitMix64;
use crate::explain::{Explainer, ImageInput, Method, MethodOptions, Request};
use crate::loader::ModelFiles;
use crate::scene::{all_single_captions, Scene};
use image::RgbImage;
use web_time::Instant;

/// Loads `files` and a copy with every weight redrawn at random (same config, tokenizer and
/// preprocessing, weights seeded from the benchmark seed), then runs [`evaluate`].
pub fn evaluate_model<B: Backend + Clone>(
    backend: B,
    files: &ModelFiles,
    settings: &EvalSettings,
) -> Result<EvalReport> {
    evaluate_model_with_progress(backend, files, settings, |_, _| {})
}

/// As [`evaluate_model`], calling `progress(done, total)` after each scene.
pub fn evaluate_model_with_progress<B: Backend + Clone>(
    backend: B,
    files: &ModelFiles,
    settings: &EvalSettings,
    progress: impl FnMut(usize, usize),
) -> Result<EvalReport> {
    settings.validate()?;
    let trained = Explainer::load(backend.clone(), files)?;
    let random_files = ModelFiles {
        name: format!("{} (randomized)", files.name),
        weights: random_clip_safetensors(trained.config(), settings.seed)?.into(),
        ..files.clone()
    };
    let randomized = Explainer::load(backend, &random_files)?;
    evaluate(&trained, &randomized, settings, progress)
}

/// A map to score: an explanation method on the model, or a model-free baseline.
#[derive(Clone, Copy, Debug)]
enum MapSource {
    Method(Method),
    Baseline(Baseline),
}

impl MapSource {
    fn name(self) -> &'static str {
        match self {
            MapSource::Method(method) => method.name(),
            MapSource::Baseline(baseline) => baseline.name(),
        }
    }

    fn kind(self) -> RowKind {
        match self {
            MapSource::Method(_) => RowKind::Method,
            MapSource::Baseline(_) => RowKind::Baseline,
        }
    }
}

/// One prompt on one image: the caption to explain and the random baseline's draw for it.
struct Prompt<'a> {
    image: &'a RgbImage,
    target: usize,
    baseline_seed: u64,
}

/// Mixed into the random baseline's seed so that its draws are not the scene generator's own
/// SplitMix64 stream from the same scene seed.
const RANDOM_BASELINE_SALT: u64 = 0x5EED_BA5E_11E5_0000;

fn baseline_seed(scene: &Scene, object: usize) -> u64 {
    SplitMix64::new(scene.seed ^ RANDOM_BASELINE_SALT).next_u64().wrapping_add(object as u64)
}

/// The benchmark's fixed context: both models, the map sources, the captions and their
/// embeddings.
struct Bench<'a, B: Backend> {
    trained: &'a Explainer<B>,
    randomized: &'a Explainer<B>,
    sources: Vec<MapSource>,
    captions: Vec<String>,
    caption_embeddings: Vec<Vec<f32>>,
    options: MethodOptions,
}

/// What a source gives for one prompt: its patch map and, for the methods that define one, its
/// pixel map over the pixels the patch grid covers.
struct SourceMap {
    patches: Vec<f32>,
    pixels: Option<Vec<f32>>,
}

/// An object's mask at the model's input, counted per patch and per pixel.
struct ObjectOverlap {
    patches: PatchOverlap,
    pixels: PatchOverlap,
}

/// The rows and columns of an `input_side`² pixel map that the patch grid covers (the pixels past
/// the last whole patch are never seen by the model).
fn covered_pixels(pixel_map: &[f32], input_side: usize, covered_side: usize) -> Vec<f32> {
    pixel_map.chunks(input_side).take(covered_side).flat_map(|row| &row[..covered_side]).copied().collect()
}

impl<B: Backend> Bench<'_, B> {
    fn map(&self, source: MapSource, explainer: &Explainer<B>, prompt: &Prompt) -> Result<SourceMap> {
        match source {
            MapSource::Method(method) => {
                let request = Request {
                    image: ImageInput::Decoded(prompt.image),
                    texts: &self.captions,
                    target: prompt.target,
                    method,
                    options: self.options,
                };
                let explanation = explainer.explain(&request)?;
                let geometry = explainer.geometry();
                let pixels = explanation
                    .pixel_scores
                    .map(|map| covered_pixels(&map, geometry.image_size, geometry.grid_side * geometry.patch_size));
                Ok(SourceMap { patches: explanation.patch_scores, pixels })
            }
            MapSource::Baseline(baseline) => Ok(SourceMap {
                patches: baseline.patch_scores(explainer.geometry().grid_side, prompt.baseline_seed),
                pixels: None,
            }),
        }
    }

    fn patch_map(&self, source: MapSource, explainer: &Explainer<B>, prompt: &Prompt) -> Result<Vec<f32>> {
        Ok(self.map(source, explainer, prompt)?.patches)
    }

    /// Prompting `object` of `scene` by its single caption.
    fn prompt<'s>(&self, scene: &'s Scene, object: usize) -> Result<Prompt<'s>> {
        let phrase = scene.objects[object].phrase();
        let target = self
            .captions
            .iter()
            .position(|caption| *caption == phrase)
            .ok_or_else(|| Error::InvalidOption(format!("`{phrase}` is not one of the benchmark's captions")))?;
        Ok(Prompt { image: &scene.image, target, baseline_seed: baseline_seed(scene, object) })
    }

    /// Each object's overlap with the patch grid and its pixels, `None` where none of it survives
    /// at the model's input resolution.
    fn overlaps(&self, scene: &Scene) -> Result<Vec<Option<ObjectOverlap>>> {
        let geometry = self.trained.geometry();
        let crop = self.trained.prepare_image(&scene.image).crop;
        scene
            .objects
            .iter()
            .map(|object| {
                let mask = mask_at_model_input(&object.mask, crop, geometry);
                let patches = PatchOverlap::from_mask(&mask, geometry)?;
                Ok((patches.mask_size() > 0).then(|| ObjectOverlap { patches, pixels: PatchOverlap::per_pixel(&mask) }))
            })
            .collect()
    }

    /// Every source's localization, curves and randomization metrics for one prompted object.
    /// Mass and rank accuracy read the pixel map where the method defines one, as Arras et al.
    /// score pixel heatmaps; patch maps are spread evenly over their patches' pixels.
    fn score_object(
        &self,
        tallies: &mut [Tally],
        pixels: &[f32],
        overlap: &ObjectOverlap,
        prompt: &Prompt,
    ) -> Result<()> {
        for (&source, tally) in self.sources.iter().zip(tallies) {
            let SourceMap { patches: map, pixels: pixel_map } =
                tally.time("explain", || self.map(source, self.trained, prompt))?;
            tally.pointing_game.add(pointing_game(&map, &overlap.patches)?);
            let (finest_map, finest_overlap) = match &pixel_map {
                Some(pixel_map) => (pixel_map.as_slice(), &overlap.pixels),
                None => (map.as_slice(), &overlap.patches),
            };
            tally.mass_accuracy.add(relevance_mass_accuracy(finest_map, finest_overlap)?);
            tally.rank_accuracy.add(relevance_rank_accuracy(finest_map, finest_overlap)?);
            let curves = tally.time("curves", || {
                let order = relevance_order(&map);
                deletion_insertion(self.trained, pixels, &order, &self.caption_embeddings, prompt.target)
            })?;
            tally.deletion_auc.add(curves.deletion_auc()?);
            tally.insertion_auc.add(curves.insertion_auc()?);
            let random_map = tally.time("randomization", || self.patch_map(source, self.randomized, prompt))?;
            match spearman(&map, &random_map) {
                Some(rho) => tally.randomization_rho.add(rho),
                None => tally.randomization_undefined += 1,
            }
        }
        Ok(())
    }

    /// Every source's text dependence on one two-object scene; `false` when an object is
    /// invisible at the input resolution, so the scene cannot count.
    fn score_text_dependence(&self, tallies: &mut [Tally], scene: &Scene) -> Result<bool> {
        let overlaps = self.overlaps(scene)?;
        let [Some(first), Some(second)] = overlaps.as_slice() else {
            return Ok(false);
        };
        let (first_prompt, second_prompt) = (self.prompt(scene, 0)?, self.prompt(scene, 1)?);
        for (&source, tally) in self.sources.iter().zip(tallies) {
            let both = tally.time("text_dependence", || {
                let first_map = self.patch_map(source, self.trained, &first_prompt)?;
                let second_map = self.patch_map(source, self.trained, &second_prompt)?;
                Ok(pointing_game(&first_map, &first.patches)? * pointing_game(&second_map, &second.patches)?)
            })?;
            tally.text_dependence.add(both);
        }
        Ok(true)
    }
}

/// Why attention and rollout cannot score text dependence: they read the image tower's CLS row
/// alone, and CLIP's image tower never sees the text.
pub const TEXT_INDEPENDENT_NOTE: &str = "Rollout and raw attention are text-independent for CLIP's image tower: \
     they give the same map for every prompt, so their text dependence only counts scenes where one patch touches both objects.";

const BASELINE_RHO_NOTE: &str =
    "Baselines use no weights, so their randomization ρ is 1 by construction; a faithful method's should be near 0.";

/// Scores `settings.methods` and both baselines of the `trained` explainer on the held-out scenes;
/// `randomized` is the same architecture with random weights, for the randomization check.
/// `progress(done, total)` is called after each scene.
pub fn evaluate<B: Backend>(
    trained: &Explainer<B>,
    randomized: &Explainer<B>,
    settings: &EvalSettings,
    mut progress: impl FnMut(usize, usize),
) -> Result<EvalReport> {
    let started = Instant::now();
    settings.validate()?;
    let geometry = trained.geometry();
    let same_input = randomized.geometry().image_size == geometry.image_size
        && randomized.geometry().patches() == geometry.patches();
    if !same_input {
        return Err(Error::InvalidOption("the randomized model must have the trained model's input geometry".into()));
    }
    let scene_size = settings.scene_size.unwrap_or(geometry.image_size as u32);
    let scenes = eval_scenes(settings.seed, settings.scenes, scene_size)?;
    let captions = all_single_captions();
    let bench = Bench {
        trained,
        randomized,
        sources: settings
            .methods
            .iter()
            .map(|&m| MapSource::Method(m))
            .chain(Baseline::ALL.into_iter().map(MapSource::Baseline))
            .collect(),
        caption_embeddings: trained.text_embeddings(&captions)?,
        captions,
        options: settings.method_options(),
    };
    let mut tallies: Vec<Tally> = bench.sources.iter().map(|_| Tally::default()).collect();
    let total_scenes = scenes.multi_object.len() + scenes.two_object.len();

    let (mut explained_objects, mut skipped_objects) = (0, 0);
    for (done, scene) in scenes.multi_object.iter().enumerate() {
        let pixels = trained.prepare_image(&scene.image).pixels.data;
        let overlaps = bench.overlaps(scene)?;
        for object in prompted_objects(scene, settings.prompts) {
            match &overlaps[object] {
                Some(overlap) => {
                    bench.score_object(&mut tallies, &pixels, overlap, &bench.prompt(scene, object)?)?;
                    explained_objects += 1;
                }
                None => skipped_objects += 1,
            }
        }
        progress(done + 1, total_scenes);
    }
    if explained_objects == 0 {
        return Err(Error::InvalidOption(format!(
            "no object is visible at the model's {}-pixel input: use a larger --size",
            geometry.image_size
        )));
    }

    let mut text_dependence_scenes = 0;
    for (done, scene) in scenes.two_object.iter().enumerate() {
        if bench.score_text_dependence(&mut tallies, scene)? {
            text_dependence_scenes += 1;
        }
        progress(scenes.multi_object.len() + done + 1, total_scenes);
    }

    let rows = bench
        .sources
        .iter()
        .zip(tallies)
        .map(|(&source, tally)| tally.into_row(source.name(), source.kind()))
        .collect::<Result<Vec<_>>>()?;
    let mut notes = Vec::new();
    if settings.methods.iter().any(|m| matches!(m, Method::Attention | Method::Rollout)) {
        notes.push(TEXT_INDEPENDENT_NOTE.to_string());
    }
    notes.push(BASELINE_RHO_NOTE.to_string());
    Ok(EvalReport {
        model: trained.info.name.clone(),
        seed: settings.seed,
        scenes: settings.scenes,
        prompts: settings.prompts,
        explained_objects,
        skipped_objects,
        text_dependence_scenes,
        scene_size,
        input_size: geometry.image_size,
        patch_grid: [geometry.grid_side, geometry.grid_side],
        steps: settings.steps,
        rows,
        notes,
        total_ms: started.elapsed().as_secs_f64() * 1e3,
    })
}
