//! Writing many scenes to disk as a training set.
//!
//! A dataset directory holds:
//! - `images.u8`: the images back to back, `count * size * size * 3` bytes,
//!   each row-major RGB with no header (load as `[count, size, size, 3]` u8).
//! - `scenes.json`: a JSON array of [`SceneRecord`], one per image, in order.
//!   Masks are run-length encoded ([`Mask::to_rle`]): counts of alternating
//!   runs over the image in row-major order, starting with a run of
//!   background pixels (possibly 0 long), summing to `size * size`.
//! - `meta.json`: a [`DatasetMeta`] with the size, count, seeds, spec and the
//!   fixed list of single-object captions.
//! - `preview_NNNNN.png`: PNGs of the first few images, when asked for.

use std::fs::{self, File};
use std::io::{BufWriter, Write};
use std::path::Path;

use serde::{Deserialize, Serialize};

use super::background::Background;
use super::caption::Caption;
use super::error::SceneError;
use super::geometry::BoundingBox;
use super::mask::Mask;
use super::rng::SplitMix64;
use super::spec::SceneSpec;
use super::vocabulary::{single_captions, Colour, Shape};
use super::Scene;

const IMAGES_FILE: &str = "images.u8";
const SCENES_FILE: &str = "scenes.json";
const META_FILE: &str = "meta.json";

/// Bumped whenever the files change shape, so readers can refuse old ones.
pub const FORMAT_VERSION: u32 = 1;

/// Ground truth of one image of a dataset.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SceneRecord {
    /// Position in `images.u8`.
    pub index: usize,
    /// `Scene::generate(seed, meta.size, &meta.spec)` recreates this scene.
    pub seed: u64,
    pub background: Background,
    pub objects: Vec<ObjectRecord>,
    pub captions: Vec<Caption>,
}

/// One object of a [`SceneRecord`].
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ObjectRecord {
    pub colour: Colour,
    pub shape: Shape,
    pub extent: u32,
    /// Visible pixels' box `[x0, y0, x1, y1]`, end-exclusive.
    pub bbox: BoundingBox,
    /// Number of visible pixels.
    pub area: u32,
    /// Pixels the shape would cover unoccluded.
    pub full_area: u32,
    pub mask_rle: Vec<u32>,
}

/// Contents of `meta.json`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct DatasetMeta {
    pub format_version: u32,
    pub count: usize,
    pub size: u32,
    /// Dataset seed; scene seeds come from [`scene_seeds`].
    pub seed: u64,
    pub spec: SceneSpec,
    /// Every single-object caption the spec can produce, in fixed order;
    /// handy as the class list of a classifier.
    pub single_captions: Vec<String>,
    pub images_file: String,
    pub scenes_file: String,
}

impl SceneRecord {
    pub fn new(index: usize, scene: &Scene) -> Self {
        let objects = scene
            .objects
            .iter()
            .map(|object| ObjectRecord {
                colour: object.colour,
                shape: object.shape,
                extent: object.extent,
                bbox: object.bbox,
                area: object.mask.count() as u32,
                full_area: object.full_area,
                mask_rle: object.mask.to_rle(),
            })
            .collect();
        Self { index, seed: scene.seed, background: scene.background, objects, captions: scene.captions.clone() }
    }
}

impl ObjectRecord {
    /// Decodes the mask of a `size`×`size` image; `None` if it does not fit.
    pub fn mask(&self, size: u32) -> Option<Mask> {
        Mask::from_rle(size, size, &self.mask_rle)
    }
}

/// Seeds of a dataset's scenes: the `SplitMix64` stream of the dataset seed,
/// cut to 53 bits so they survive JSON readers that parse numbers as doubles
/// (JavaScript's `JSON.parse`).
pub fn scene_seeds(dataset_seed: u64, count: usize) -> impl Iterator<Item = u64> {
    let mut rng = SplitMix64::new(dataset_seed);
    (0..count).map(move |_| rng.next_u64() >> (64 - f64::MANTISSA_DIGITS))
}

/// Writes `count` scenes of `size`×`size` pixels to `dir` (created if
/// missing), without previews. See the module docs for the files.
///
/// # Errors
/// An invalid spec (checked before any file is written), or a failure to
/// write the files.
pub fn write_dataset(
    dir: &Path,
    count: usize,
    seed: u64,
    size: u32,
    spec: &SceneSpec,
) -> Result<DatasetMeta, SceneError> {
    write_dataset_with_previews(dir, count, seed, size, spec, 0)
}

/// As [`write_dataset`], also saving the first `previews` images as PNGs.
///
/// # Errors
/// As [`write_dataset`].
pub fn write_dataset_with_previews(
    dir: &Path,
    count: usize,
    seed: u64,
    size: u32,
    spec: &SceneSpec,
    previews: usize,
) -> Result<DatasetMeta, SceneError> {
    // Fail before touching the disk rather than leave half a dataset.
    spec.validate(size)?;
    fs::create_dir_all(dir)?;
    let mut images = BufWriter::new(File::create(dir.join(IMAGES_FILE))?);
    let mut scenes = BufWriter::new(File::create(dir.join(SCENES_FILE))?);
    scenes.write_all(b"[\n")?;
    for (index, scene_seed) in scene_seeds(seed, count).enumerate() {
        let scene = Scene::generate(scene_seed, size, spec)?;
        images.write_all(scene.image.as_raw())?;
        if index > 0 {
            scenes.write_all(b",\n")?;
        }
        serde_json::to_writer(&mut scenes, &SceneRecord::new(index, &scene))?;
        if index < previews {
            scene.image.save(dir.join(format!("preview_{index:05}.png")))?;
        }
    }
    scenes.write_all(b"\n]\n")?;
    images.flush()?;
    scenes.flush()?;
    let meta = DatasetMeta {
        format_version: FORMAT_VERSION,
        count,
        size,
        seed,
        spec: spec.clone(),
        single_captions: single_captions(&spec.colours, &spec.shapes),
        images_file: IMAGES_FILE.into(),
        scenes_file: SCENES_FILE.into(),
    };
    serde_json::to_writer_pretty(File::create(dir.join(META_FILE))?, &meta)?;
    Ok(meta)
}
