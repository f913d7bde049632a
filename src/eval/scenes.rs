//! The held-out scenes of the benchmark and their masks at the model's input resolution.

use crate::error::{Error, Result};
use crate::explain::noise::SplitMix64;
use crate::explain::Geometry;
use crate::preprocess::ImageCropRect;
use crate::scene::{scene_seeds, Mask, Scene, SceneSpec};
use serde::Serialize;

/// Dataset seeds from here on are reserved for evaluation; training uses smaller ones, so a
/// benchmark never scores a model on scenes it was trained on.
pub const MIN_EVAL_SEED: u64 = 1_000_000;

/// Scenes of 2–4 objects: every explained prompt has distractors to point at instead.
pub fn multi_object_spec() -> SceneSpec {
    SceneSpec { min_objects: 2, max_objects: 4, ..SceneSpec::default() }
}

/// Scenes of exactly two objects, for text dependence.
pub fn two_object_spec() -> SceneSpec {
    SceneSpec { min_objects: 2, max_objects: 2, ..SceneSpec::default() }
}

/// Which objects of each multi-object scene are prompted and explained.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Prompts {
    /// One object per scene, drawn uniformly from the scene seed: the default, which keeps a
    /// run of 100 scenes × 9 methods within minutes.
    #[default]
    OnePerScene,
    /// Each object in turn: about three times the explanations, for tighter means.
    EveryObject,
}

/// Mixed into the scene seed so the prompted object is not the scene generator's first draw.
const PROMPT_SALT: u64 = 0x9A0B_1EC7_0F00_0001;

/// The indices of the objects of `scene` to prompt.
pub fn prompted_objects(scene: &Scene, prompts: Prompts) -> Vec<usize> {
    match prompts {
        Prompts::EveryObject => (0..scene.objects.len()).collect(),
        Prompts::OnePerScene => {
            let draw = SplitMix64::new(scene.seed ^ PROMPT_SALT).next_u64();
            vec![(draw % scene.objects.len() as u64) as usize]
        }
    }
}

/// The benchmark's scenes, all from one dataset seed.
pub struct EvalScenes {
    pub multi_object: Vec<Scene>,
    pub two_object: Vec<Scene>,
}

/// `count` scenes of each kind of `size`² pixels. They interleave on one seed stream (even places
/// multi-object, odd places two-object), so the two sets never share a scene seed and the first
/// n scenes of a run are the same whatever the count.
pub fn eval_scenes(seed: u64, count: usize, size: u32) -> Result<EvalScenes> {
    if seed < MIN_EVAL_SEED {
        return Err(Error::InvalidOption(format!(
            "seed {seed} is reserved for training; evaluation seeds start at {MIN_EVAL_SEED}"
        )));
    }
    let (multi_spec, pair_spec) = (multi_object_spec(), two_object_spec());
    let seeds: Vec<u64> = scene_seeds(seed, 2 * count).collect();
    let multi_object =
        seeds.iter().step_by(2).map(|&s| Scene::generate(s, size, &multi_spec)).collect::<Result<_, _>>()?;
    let two_object =
        seeds.iter().skip(1).step_by(2).map(|&s| Scene::generate(s, size, &pair_spec)).collect::<Result<_, _>>()?;
    Ok(EvalScenes { multi_object, two_object })
}

/// The mask as the model sees it: over the pixels its patches cover (`grid_side · patch_size`
/// square, the input pixels past the last whole patch are never seen), each pixel taking the
/// mask value at its centre mapped through `crop` back into the scene (nearest neighbour, so a
/// scene already at the input size keeps its mask exactly).
pub fn mask_at_model_input(mask: &Mask, crop: ImageCropRect, geometry: Geometry) -> Mask {
    let side = geometry.grid_side * geometry.patch_size;
    let scale_x = f64::from(crop.width) / geometry.image_size as f64;
    let scale_y = f64::from(crop.height) / geometry.image_size as f64;
    let source = |offset: f32, scale: f64, i: usize| (f64::from(offset) + (i as f64 + 0.5) * scale).floor();
    let mut resampled = Mask::new(side as u32, side as u32);
    for y in 0..side {
        let sy = source(crop.y, scale_y, y);
        if sy < 0.0 || sy >= f64::from(mask.height()) {
            continue;
        }
        for x in 0..side {
            let sx = source(crop.x, scale_x, x);
            if sx >= 0.0 && sx < f64::from(mask.width()) && mask.get(sx as u32, sy as u32) {
                resampled.set(x as u32, y as u32);
            }
        }
    }
    resampled
}
