//! Heatmap overlays: paints a patch or pixel score map over the original
//! image, with a colour-bar legend and an optional title line.
//!
//! Models see a square centre crop of the image, so scores are stretched
//! over that [`CropRect`] at the original's full resolution and the pixels
//! the model never saw are dimmed. Everything works in memory (no file
//! system), so the CLI and the browser build share this code;
//! [`encode_png`] turns the result into bytes for either to save or show.
//!
//! ```
//! use image::RgbImage;
//! use sightline::heatmap::{encode_png, render_overlay, CropRect, OverlayOptions, ScoreMap};
//!
//! let photo = RgbImage::new(300, 200);
//! let scores = [0.1, 0.9, 0.3, 0.0];
//! let map = ScoreMap::Patches { rows: 2, cols: 2, scores: &scores };
//! let options = OverlayOptions {
//!     title: Some("rollout · 'a red circle' · p=0.93".into()),
//!     ..OverlayOptions::default()
//! };
//! let crop = CropRect::centre_square(photo.width(), photo.height());
//! let overlay = render_overlay(&photo, crop, map, &options)?;
//! let png: Vec<u8> = encode_png(&overlay)?;
//! # assert!(png.starts_with(b"\x89PNG"));
//! # Ok::<(), sightline::heatmap::HeatmapError>(())
//! ```

mod blend;
mod colormap;
mod error;
mod font;
mod layer;
mod layout;
mod legend;
mod raster;
mod scale;
mod upsample;

use image::codecs::png::PngEncoder;
use image::{ExtendedColorType, ImageEncoder, RgbImage};

pub use blend::OUTSIDE_CROP_BRIGHTNESS;
pub use colormap::Colormap;
pub use error::HeatmapError;
pub use layer::{heat_layer, MAX_LAYER_SIDE};
pub use scale::ColorScale;

use upsample::Grid;

/// The region of the original image that the model saw, in original-image
/// pixel coordinates.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct CropRect {
    /// Left edge.
    pub x: u32,
    /// Top edge.
    pub y: u32,
    /// Width in pixels.
    pub width: u32,
    /// Height in pixels.
    pub height: u32,
}

impl CropRect {
    /// A rectangle at (`x`, `y`) of `width` × `height`.
    pub fn new(x: u32, y: u32, width: u32, height: u32) -> Self {
        Self { x, y, width, height }
    }

    /// The whole of a `width` × `height` image.
    pub fn full(width: u32, height: u32) -> Self {
        Self::new(0, 0, width, height)
    }

    /// The square that "resize the shortest side, then centre crop" keeps
    /// (CLIP's preprocessing), accurate to a pixel.
    pub fn centre_square(image_width: u32, image_height: u32) -> Self {
        let side = image_width.min(image_height);
        Self::new((image_width - side) / 2, (image_height - side) / 2, side, side)
    }

    /// Whether pixel (`x`, `y`) lies inside the rectangle.
    pub fn contains(&self, x: u32, y: u32) -> bool {
        let inside = |position: u32, start: u32, len: u32| {
            position >= start && u64::from(position) < u64::from(start) + u64::from(len)
        };
        inside(x, self.x, self.width) && inside(y, self.y, self.height)
    }

    fn validate_within(self, image: &RgbImage) -> Result<(), HeatmapError> {
        if self.width == 0 || self.height == 0 {
            return Err(HeatmapError::EmptyCrop);
        }
        let right = u64::from(self.x) + u64::from(self.width);
        let bottom = u64::from(self.y) + u64::from(self.height);
        if right > u64::from(image.width()) || bottom > u64::from(image.height()) {
            return Err(HeatmapError::CropOutOfBounds {
                crop: self,
                image_width: image.width(),
                image_height: image.height(),
            });
        }
        Ok(())
    }
}

/// Raw scores of any sign and scale, row-major, covering the crop region.
#[derive(Clone, Copy, Debug)]
pub enum ScoreMap<'a> {
    /// One score per ViT patch: `scores[row * cols + col]`. Each score sits
    /// at its patch centre and is interpolated smoothly between centres.
    Patches {
        /// Patch rows, e.g. 14 for ViT-B/16 at 224 px.
        rows: usize,
        /// Patch columns.
        cols: usize,
        /// `rows * cols` scores.
        scores: &'a [f32],
    },
    /// One score per pixel of the model's input (e.g. 224 × 224), such as a
    /// gradient saliency map: `scores[y * width + x]`.
    Pixels {
        /// Input height in pixels.
        height: usize,
        /// Input width in pixels.
        width: usize,
        /// `height * width` scores.
        scores: &'a [f32],
    },
}

impl<'a> ScoreMap<'a> {
    /// Checks shape and values; both variants are then the same kind of grid.
    fn validated_grid(self) -> Result<Grid<'a>, HeatmapError> {
        let (rows, cols, values) = match self {
            ScoreMap::Patches { rows, cols, scores } => (rows, cols, scores),
            ScoreMap::Pixels { height, width, scores } => (height, width, scores),
        };
        if rows == 0 || cols == 0 {
            return Err(HeatmapError::EmptyScoreMap { rows, cols });
        }
        let expected = rows.checked_mul(cols).ok_or(HeatmapError::ScoreMapTooLarge { rows, cols })?;
        if values.len() != expected {
            return Err(HeatmapError::ScoreLengthMismatch { expected, actual: values.len() });
        }
        if let Some(index) = values.iter().position(|value| !value.is_finite()) {
            return Err(HeatmapError::NonFiniteScore { index, value: values[index] });
        }
        Ok(Grid { rows, cols, values })
    }
}

/// How an overlay is drawn.
#[derive(Clone, Debug, PartialEq)]
pub struct OverlayOptions {
    /// The colour scale; `None` picks inferno for non-negative maps and
    /// coolwarm for signed ones. A sequential map chosen for a signed map
    /// spans `-m..=m`; a diverging map always puts zero at its centre.
    pub colormap: Option<Colormap>,
    /// Weight of the heat colour over the image, 0 (invisible) to 1 (opaque).
    pub opacity: f32,
    /// Ends the colour range at this percentile (0 < p ≤ 100) of the score
    /// magnitudes, e.g. 99, so a few outliers do not wash out the rest.
    pub clip_percentile: Option<f32>,
    /// A line of text above the image; wraps if long. ASCII is drawn as is,
    /// other characters as '?' (bullets, curly quotes and dashes excepted).
    pub title: Option<String>,
    /// Whether to draw the colour bar to the right of the image.
    pub legend: bool,
}

impl Default for OverlayOptions {
    fn default() -> Self {
        Self { colormap: None, opacity: 0.55, clip_percentile: None, title: None, legend: true }
    }
}

impl OverlayOptions {
    fn validate(&self) -> Result<(), HeatmapError> {
        if !(0.0..=1.0).contains(&self.opacity) {
            return Err(HeatmapError::InvalidOpacity(self.opacity));
        }
        if let Some(percentile) = self.clip_percentile {
            if !(percentile > 0.0 && percentile <= 100.0) {
                return Err(HeatmapError::InvalidPercentile(percentile));
            }
        }
        Ok(())
    }
}

/// Paints `map` over the `crop` region of `image` and adds the legend and
/// title that `options` ask for.
///
/// The result is `image`'s size when neither legend nor title is drawn, and
/// larger by white margins otherwise. Non-negative maps are scaled `0..=max`,
/// signed maps `-m..=m`; an all-zero map paints nothing and labels its
/// legend 0 to 0.
pub fn render_overlay(
    image: &RgbImage,
    crop: CropRect,
    map: ScoreMap<'_>,
    options: &OverlayOptions,
) -> Result<RgbImage, HeatmapError> {
    if image.width() == 0 || image.height() == 0 {
        return Err(HeatmapError::EmptyImage);
    }
    crop.validate_within(image)?;
    options.validate()?;
    let grid = map.validated_grid()?;

    let scale = ColorScale::fit(grid.values, options.clip_percentile, options.colormap);
    let crop_scores = upsample::resample(grid, crop.width as usize, crop.height as usize);
    let painted = blend::paint(image, crop, &crop_scores, &scale, options.opacity);
    layout::compose(painted, scale, options.title.as_deref(), options.legend)
}

/// Encodes `image` as PNG bytes, in memory.
pub fn encode_png(image: &RgbImage) -> Result<Vec<u8>, HeatmapError> {
    let mut bytes = Vec::new();
    PngEncoder::new(&mut bytes)
        .write_image(image.as_raw(), image.width(), image.height(), ExtendedColorType::Rgb8)
        .map_err(HeatmapError::Encode)?;
    Ok(bytes)
}

#[cfg(test)]
mod tests {
    use image::Rgb;

    use super::*;

    const GREY: Rgb<u8> = Rgb([128, 128, 128]);

    fn photo() -> RgbImage {
        RgbImage::from_pixel(300, 200, GREY)
    }

    fn bare() -> OverlayOptions {
        OverlayOptions { legend: false, ..OverlayOptions::default() }
    }

    fn render(map: ScoreMap<'_>, options: &OverlayOptions) -> Result<RgbImage, HeatmapError> {
        let image = photo();
        render_overlay(&image, CropRect::centre_square(300, 200), map, options)
    }

    #[test]
    fn centre_square_matches_resize_then_centre_crop() {
        assert_eq!(CropRect::centre_square(300, 200), CropRect::new(50, 0, 200, 200));
        assert_eq!(CropRect::centre_square(200, 301), CropRect::new(0, 50, 200, 200));
        assert_eq!(CropRect::centre_square(64, 64), CropRect::full(64, 64));
    }

    #[test]
    fn bare_overlay_keeps_the_image_size() {
        let scores = [0.5; 49];
        let map = ScoreMap::Patches { rows: 7, cols: 7, scores: &scores };
        let out = render(map, &bare()).unwrap();
        assert_eq!(out.dimensions(), (300, 200));
    }

    #[test]
    fn legend_and_title_add_margins() {
        let scores = [0.5; 49];
        let map = ScoreMap::Patches { rows: 7, cols: 7, scores: &scores };
        let plain = render(map, &OverlayOptions::default()).unwrap();
        assert!(plain.width() > 300 && plain.height() > 200);
        let titled =
            OverlayOptions { title: Some("chefer · 'a red circle' · p=0.93".into()), ..OverlayOptions::default() };
        let with_title = render(map, &titled).unwrap();
        assert_eq!(with_title.width(), plain.width());
        assert!(with_title.height() > plain.height());
    }

    #[test]
    fn one_hot_patch_is_hottest_where_it_belongs() {
        let mut scores = [0.0; 49];
        scores[7 + 5] = 1.0;
        let map = ScoreMap::Patches { rows: 7, cols: 7, scores: &scores };
        let options = OverlayOptions { colormap: Some(Colormap::Inferno), ..bare() };
        let out = render(map, &options).unwrap();
        let brightest = out
            .enumerate_pixels()
            .max_by_key(|(_, _, p)| p.0.iter().map(|&c| u32::from(c)).sum::<u32>())
            .map(|(x, y, _)| (x, y))
            .unwrap();
        let patch = 200 / 7;
        assert_eq!(((brightest.0 - 50) / patch, brightest.1 / patch), (5, 1));
    }

    #[test]
    fn outside_the_crop_is_dimmed_not_coloured() {
        let scores = [1.0; 4];
        let map = ScoreMap::Patches { rows: 2, cols: 2, scores: &scores };
        let out = render(map, &bare()).unwrap();
        let [r, g, b] = out.get_pixel(10, 100).0;
        assert!(r == g && g == b && r < 128, "{:?}", (r, g, b));
        assert_ne!(out.get_pixel(150, 100), &GREY);
    }

    #[test]
    fn all_zero_map_leaves_the_crop_untouched() {
        let scores = [0.0; 196];
        let map = ScoreMap::Patches { rows: 14, cols: 14, scores: &scores };
        let out = render(map, &bare()).unwrap();
        assert_eq!(out.get_pixel(150, 100), &GREY);
        assert!(render(map, &OverlayOptions::default()).is_ok());
    }

    #[test]
    fn pixel_maps_cover_the_crop() {
        let scores: Vec<f32> = (0..224 * 224).map(|i| (i % 224) as f32 - 112.0).collect();
        let map = ScoreMap::Pixels { height: 224, width: 224, scores: &scores };
        let out = render(map, &bare()).unwrap();
        let left = out.get_pixel(52, 100).0;
        let right = out.get_pixel(247, 100).0;
        assert!(left[2] > left[0], "negative side should be blue: {left:?}");
        assert!(right[0] > right[2], "positive side should be red: {right:?}");
    }

    fn error_for(image: &RgbImage, crop: CropRect, map: ScoreMap<'_>, options: &OverlayOptions) -> HeatmapError {
        render_overlay(image, crop, map, options).unwrap_err()
    }

    #[test]
    fn bad_inputs_are_errors_not_panics() {
        let image = photo();
        let crop = CropRect::centre_square(300, 200);
        let good = [0.5; 4];
        let map = ScoreMap::Patches { rows: 2, cols: 2, scores: &good };
        let options = OverlayOptions::default();

        let empty = RgbImage::new(0, 10);
        assert!(matches!(error_for(&empty, CropRect::full(0, 10), map, &options), HeatmapError::EmptyImage));
        assert!(matches!(error_for(&image, CropRect::new(0, 0, 0, 5), map, &options), HeatmapError::EmptyCrop));
        for outside in [CropRect::new(250, 0, 100, 100), CropRect::new(u32::MAX, 0, 2, 2), CropRect::full(300, 201)] {
            let err = error_for(&image, outside, map, &options);
            assert!(matches!(err, HeatmapError::CropOutOfBounds { .. }), "{err}");
        }

        let no_rows = ScoreMap::Patches { rows: 0, cols: 2, scores: &[] };
        assert!(matches!(error_for(&image, crop, no_rows, &options), HeatmapError::EmptyScoreMap { .. }));
        let no_width = ScoreMap::Pixels { height: 3, width: 0, scores: &[] };
        assert!(matches!(error_for(&image, crop, no_width, &options), HeatmapError::EmptyScoreMap { .. }));
        let huge = ScoreMap::Patches { rows: usize::MAX, cols: 2, scores: &good };
        assert!(matches!(error_for(&image, crop, huge, &options), HeatmapError::ScoreMapTooLarge { .. }));
        let short = ScoreMap::Pixels { height: 2, width: 3, scores: &good };
        assert!(matches!(
            error_for(&image, crop, short, &options),
            HeatmapError::ScoreLengthMismatch { expected: 6, actual: 4 }
        ));
        for bad in [f32::NAN, f32::INFINITY, f32::NEG_INFINITY] {
            let scores = [0.0, 1.0, bad, 0.0];
            let map = ScoreMap::Patches { rows: 2, cols: 2, scores: &scores };
            assert!(matches!(error_for(&image, crop, map, &options), HeatmapError::NonFiniteScore { index: 2, .. }));
        }

        for opacity in [-0.1, 1.5, f32::NAN] {
            let options = OverlayOptions { opacity, ..OverlayOptions::default() };
            assert!(matches!(error_for(&image, crop, map, &options), HeatmapError::InvalidOpacity(_)));
        }
        for percentile in [0.0, -5.0, 100.5, f32::NAN] {
            let options = OverlayOptions { clip_percentile: Some(percentile), ..OverlayOptions::default() };
            assert!(matches!(error_for(&image, crop, map, &options), HeatmapError::InvalidPercentile(_)));
        }
    }

    #[test]
    fn errors_explain_themselves() {
        let err = HeatmapError::ScoreLengthMismatch { expected: 196, actual: 197 };
        assert_eq!(err.to_string(), "the score map should hold 196 values but holds 197");
        let err: Box<dyn std::error::Error> = Box::new(HeatmapError::EmptyCrop);
        assert!(err.source().is_none());
    }

    #[test]
    fn png_bytes_decode_to_the_same_image() {
        let scores = [0.0, 0.2, 0.4, 0.6, 0.8, 1.0];
        let map = ScoreMap::Patches { rows: 2, cols: 3, scores: &scores };
        let out = render(map, &OverlayOptions::default()).unwrap();
        let bytes = encode_png(&out).unwrap();
        let decoded = image::load_from_memory(&bytes).unwrap().to_rgb8();
        assert_eq!(decoded, out);
    }
}
