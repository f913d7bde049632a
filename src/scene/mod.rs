//! Deterministic synthetic scenes of coloured shapes, with exact per-object
//! masks and captions, for training and for checking saliency methods against
//! known ground truth.
//!
//! A scene is a square RGB image of 1–4 (configurable) solid circles, squares
//! and triangles in red, green, blue or yellow, on a grey-ish background that
//! may be noisy. Every object is a distinct (colour, shape) pair, so a caption
//! such as "a red circle" names exactly one object, and its mask holds exactly
//! the pixels where that object is visible. Objects may overlap (later ones
//! on top) but each stays at least half visible.
//!
//! Generation is pure and depends only on `(seed, size, spec)`: the PRNG is
//! SplitMix64 and rasterisation uses integer arithmetic at pixel centres, so a
//! seed yields the same bytes natively and in the browser.
//!
//! ```no_run
//! # use sightline::scene::{Scene, SceneSpec};
//! let scene = Scene::generate(7, 64, &SceneSpec::default()).unwrap();
//! let red_circle = scene.find_object("a red circle");
//! let coverage = red_circle.map(|index| scene.patch_coverage(index, 8, 8));
//! ```

mod background;
mod caption;
mod dataset;
mod error;
mod geometry;
mod layout;
mod mask;
mod rng;
mod spec;
mod vocabulary;

#[cfg(test)]
mod tests;

use image::RgbImage;

pub use background::Background;
pub use caption::{Caption, CaptionKind};
pub use dataset::{
    scene_seeds, write_dataset, write_dataset_with_previews, DatasetMeta, ObjectRecord, SceneRecord, FORMAT_VERSION,
};
pub use error::SceneError;
pub use geometry::BoundingBox;
pub use mask::Mask;
pub use spec::{BackgroundSpec, SceneSpec, MAX_IMAGE_SIZE, MIN_IMAGE_SIZE};
pub use vocabulary::{all_single_captions, object_phrase, single_captions, Colour, Shape};

use layout::BACKGROUND_LABEL;
use rng::SplitMix64;

/// One generated image with its ground truth.
#[derive(Clone, Debug)]
pub struct Scene {
    pub seed: u64,
    /// Side of the square image in pixels.
    pub size: u32,
    pub image: RgbImage,
    pub background: Background,
    /// In drawing order: later objects occlude earlier ones.
    pub objects: Vec<SceneObject>,
    pub captions: Vec<Caption>,
}

/// One object of a scene.
#[derive(Clone, Debug)]
pub struct SceneObject {
    pub colour: Colour,
    pub shape: Shape,
    /// Width of the shape in pixels before occlusion (the triangle is a
    /// little shorter than wide); between the spec's extent bounds.
    pub extent: u32,
    /// Tight box around the visible pixels.
    pub bbox: BoundingBox,
    /// Visible pixels: set iff the pixel shows this object's colour.
    pub mask: Mask,
    /// Pixels the shape would cover if nothing were drawn over it.
    pub full_area: u32,
}

impl SceneObject {
    /// "a red circle"
    pub fn phrase(&self) -> String {
        object_phrase(self.colour, self.shape)
    }

    /// Share of the shape's own pixels still visible, in (0, 1].
    pub fn visible_fraction(&self) -> f64 {
        self.mask.count() as f64 / f64::from(self.full_area)
    }
}

impl Scene {
    /// Generates the scene for `seed`: a `size`×`size` image drawn from `spec`.
    /// The same arguments always give identical scenes, on every platform.
    ///
    /// # Errors
    /// [`SceneError::InvalidSpec`] exactly when `spec.validate(size)` fails.
    pub fn generate(seed: u64, size: u32, spec: &SceneSpec) -> Result<Scene, SceneError> {
        spec.validate(size)?;
        let mut rng = SplitMix64::new(seed);
        let background = Background::draw(&mut rng, &spec.background);
        let layout = layout::lay_out(&mut rng, size, spec);
        let mut pixels = vec![0u8; layout.labels.len() * 3];
        background.paint(&mut rng, &mut pixels);
        let mut masks = vec![Mask::new(size, size); layout.objects.len()];
        for (index, &label) in layout.labels.iter().enumerate() {
            if label == BACKGROUND_LABEL {
                continue;
            }
            let object = usize::from(label - 1);
            pixels[index * 3..index * 3 + 3].copy_from_slice(&layout.objects[object].colour.rgb());
            masks[object].set(index as u32 % size, index as u32 / size);
        }
        let objects: Vec<SceneObject> = layout
            .objects
            .iter()
            .zip(masks)
            .map(|(laid_out, mask)| SceneObject {
                colour: laid_out.colour,
                shape: laid_out.placed.shape,
                extent: laid_out.placed.extent,
                bbox: mask.bounding_box().expect("layout keeps every object visible"),
                mask,
                full_area: laid_out.full_area,
            })
            .collect();
        let captions = caption::describe(&objects);
        let image = RgbImage::from_raw(size, size, pixels).expect("buffer holds size*size RGB pixels");
        Ok(Scene { seed, size, image, background, objects, captions })
    }

    /// Index of the object a single caption such as "a red circle" names.
    pub fn find_object(&self, phrase: &str) -> Option<usize> {
        self.objects.iter().position(|object| object.phrase() == phrase)
    }

    /// Fraction of each patch of a `rows`×`cols` grid covered by the visible
    /// pixels of object `object`; see [`Mask::patch_coverage`].
    pub fn patch_coverage(&self, object: usize, rows: u32, cols: u32) -> Vec<f32> {
        self.objects[object].mask.patch_coverage(rows, cols)
    }
}
