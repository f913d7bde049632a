//! What kind of scenes to generate, and the checks that make generation
//! always succeed.

use serde::{Deserialize, Serialize};

use super::error::SceneError;
use super::vocabulary::{Colour, Shape};

/// Smallest object extent in pixels, whatever the fractions say: below this
/// pixel-centre sampling turns circles into crosses and triangles into spikes.
pub const MIN_EXTENT_PIXELS: u32 = 6;

/// Object labels are stored one byte per pixel, and coverage checks keep one
/// counter per object, so the count is bounded.
pub const MAX_OBJECTS: usize = 16;

/// Empty pixels kept between objects that are not meant to overlap, and always
/// between objects of the same colour: without a gap two red shapes that touch
/// would read as one red blob.
pub const SEPARATION_GAP: u32 = 2;

/// A background channel deviates from its grey level by at most this much, so
/// a background pixel's channel spread stays far below any object colour's.
pub const MAX_BACKGROUND_TINT: u8 = 24;

/// Upper bound on per-pixel background noise, keeping noise "modest".
pub const MAX_NOISE_AMPLITUDE: u8 = 48;

/// Smallest image side accepted; the default spec needs 18 for its largest
/// objects to reach [`MIN_EXTENT_PIXELS`].
pub const MIN_IMAGE_SIZE: u32 = 24;

/// Largest image side accepted: a scene holds a label per pixel and a mask per object, so the
/// side bounds what one call allocates (the web app asks for 96 to 512).
pub const MAX_IMAGE_SIZE: u32 = 4096;

/// Parameters of the scene distribution. [`SceneSpec::default`] is the base
/// set: 1–4 objects, all colours and shapes, extents 1/12 to 1/3 of the side.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SceneSpec {
    pub min_objects: usize,
    pub max_objects: usize,
    /// Colours to draw from; objects in one scene never share both colour and shape.
    pub colours: Vec<Colour>,
    pub shapes: Vec<Shape>,
    /// Object extent (bounding-square side) as a fraction of the image side.
    pub min_extent_fraction: f64,
    pub max_extent_fraction: f64,
    /// Chance that each object after the first is placed to overlap an earlier
    /// object of another colour (drawn on top of it).
    pub overlap_probability: f64,
    /// Every object keeps at least this fraction of its pixels visible.
    pub min_visible_fraction: f64,
    pub background: BackgroundSpec,
}

/// Backgrounds are grey levels with a faint tint, plain or with luminance noise.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct BackgroundSpec {
    pub noisy_probability: f64,
    /// Range of the base grey level.
    pub min_level: u8,
    pub max_level: u8,
    /// Per-channel tint, at most [`MAX_BACKGROUND_TINT`].
    pub max_tint: u8,
    /// Noisy backgrounds pick an amplitude in `1..=max_noise_amplitude`.
    pub max_noise_amplitude: u8,
}

impl Default for SceneSpec {
    fn default() -> Self {
        Self {
            min_objects: 1,
            max_objects: 4,
            colours: Colour::ALL.to_vec(),
            shapes: Shape::ALL.to_vec(),
            min_extent_fraction: 1.0 / 12.0,
            max_extent_fraction: 1.0 / 3.0,
            overlap_probability: 0.25,
            min_visible_fraction: 0.5,
            background: BackgroundSpec::default(),
        }
    }
}

impl Default for BackgroundSpec {
    fn default() -> Self {
        Self { noisy_probability: 0.5, min_level: 16, max_level: 240, max_tint: 12, max_noise_amplitude: 16 }
    }
}

impl SceneSpec {
    /// Number of distinct (colour, shape) pairs, the most objects a scene can hold.
    pub fn distinct_pairs(&self) -> usize {
        self.colours.len() * self.shapes.len()
    }

    /// Inclusive range of object extents in pixels for a `size`×`size` image.
    pub fn extent_range(&self, size: u32) -> (u32, u32) {
        let side = f64::from(size);
        let min = ((side * self.min_extent_fraction).ceil() as u32).max(MIN_EXTENT_PIXELS);
        let max = (side * self.max_extent_fraction).floor() as u32;
        (min, max)
    }

    /// Checks that scenes of this spec can always be generated at `size`.
    ///
    /// # Errors
    /// [`SceneError::InvalidSpec`] saying which rule the spec breaks.
    pub fn validate(&self, size: u32) -> Result<(), SceneError> {
        let fail = |reason: String| Err(SceneError::InvalidSpec(reason));
        if !(MIN_IMAGE_SIZE..=MAX_IMAGE_SIZE).contains(&size) {
            return fail(format!("image size {size} is outside {MIN_IMAGE_SIZE}..={MAX_IMAGE_SIZE}"));
        }
        if self.colours.is_empty() || self.shapes.is_empty() {
            return fail("colours and shapes must not be empty".into());
        }
        if has_duplicates(&self.colours) || has_duplicates(&self.shapes) {
            return fail("colours and shapes must not repeat".into());
        }
        if self.min_objects == 0 || self.min_objects > self.max_objects {
            return fail(format!(
                "object count range {}..={} is empty or starts at 0",
                self.min_objects, self.max_objects
            ));
        }
        if self.max_objects > self.distinct_pairs().min(MAX_OBJECTS) {
            return fail(format!(
                "max_objects {} exceeds the {} distinct colour-shape pairs or the limit {MAX_OBJECTS}",
                self.max_objects,
                self.distinct_pairs()
            ));
        }
        let fractions_ordered = 0.0 < self.min_extent_fraction
            && self.min_extent_fraction <= self.max_extent_fraction
            && self.max_extent_fraction <= 0.5;
        if !fractions_ordered {
            return fail("extent fractions must satisfy 0 < min <= max <= 0.5".into());
        }
        let (min_extent, max_extent) = self.extent_range(size);
        if min_extent > max_extent {
            return fail(format!("at size {size} no extent fits between {min_extent} and {max_extent} pixels"));
        }
        // Generation falls back to one object per grid cell, so that layout
        // must fit for it to always succeed.
        let cells_per_side = grid_cells_per_side(self.max_objects);
        if cells_per_side * (min_extent + SEPARATION_GAP) > size {
            return fail(format!(
                "{} objects of at least {min_extent} pixels do not fit a {size}-pixel image",
                self.max_objects
            ));
        }
        if !(0.0..=1.0).contains(&self.overlap_probability) {
            return fail("overlap_probability must lie in [0, 1]".into());
        }
        if !(self.min_visible_fraction > 0.0 && self.min_visible_fraction <= 1.0) {
            return fail("min_visible_fraction must lie in (0, 1]".into());
        }
        self.background.validate()
    }
}

impl BackgroundSpec {
    fn validate(&self) -> Result<(), SceneError> {
        let fail = |reason: String| Err(SceneError::InvalidSpec(reason));
        if !(0.0..=1.0).contains(&self.noisy_probability) {
            return fail("noisy_probability must lie in [0, 1]".into());
        }
        if self.min_level > self.max_level {
            return fail("background min_level exceeds max_level".into());
        }
        if self.max_tint > MAX_BACKGROUND_TINT {
            return fail(format!("background tint is limited to {MAX_BACKGROUND_TINT}"));
        }
        if self.max_noise_amplitude > MAX_NOISE_AMPLITUDE {
            return fail(format!("background noise is limited to {MAX_NOISE_AMPLITUDE}"));
        }
        Ok(())
    }
}

/// Side of the smallest square grid with at least `objects` cells.
pub(super) fn grid_cells_per_side(objects: usize) -> u32 {
    let mut side = 1;
    while side * side < objects {
        side += 1;
    }
    side as u32
}

fn has_duplicates<T: PartialEq>(items: &[T]) -> bool {
    items.iter().enumerate().any(|(index, item)| items[index + 1..].contains(item))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_spec_is_valid_across_sizes() {
        for size in [MIN_IMAGE_SIZE, 32, 64, 100, 224, 512] {
            SceneSpec::default().validate(size).unwrap();
        }
    }

    #[test]
    fn default_extents_span_a_twelfth_to_a_third() {
        assert_eq!(SceneSpec::default().extent_range(64), (6, 21));
        assert_eq!(SceneSpec::default().extent_range(240), (20, 80));
    }

    #[test]
    fn impossible_specs_are_rejected() {
        let too_many = SceneSpec { max_objects: 13, ..SceneSpec::default() };
        assert!(too_many.validate(64).is_err());
        let crowded = SceneSpec { min_extent_fraction: 0.5, max_extent_fraction: 0.5, ..SceneSpec::default() };
        assert!(crowded.validate(64).is_err());
        assert!(SceneSpec::default().validate(MIN_IMAGE_SIZE - 1).is_err());
    }

    #[test]
    fn background_tint_cannot_reach_object_colours() {
        let min_colour_spread = Colour::ALL
            .iter()
            .map(|colour| {
                let [r, g, b] = colour.rgb();
                r.max(g).max(b) - r.min(g).min(b)
            })
            .min()
            .unwrap();
        assert!(2 * MAX_BACKGROUND_TINT < min_colour_spread);
    }
}
