//! An explanation drawn over the original image at full resolution (the CLI's --png).

use crate::error::Result;
use crate::explain::Explanation;
use crate::heatmap::{encode_png, render_overlay, CropRect, OverlayOptions, ScoreMap};
use crate::preprocess::ImageCropRect;
use image::RgbImage;

/// Which of an explanation's maps to draw.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum MapChoice {
    /// One value per patch: every method has it.
    #[default]
    Patches,
    /// One value per input pixel where the method defines it, else the patch map.
    Pixels,
}

/// A title naming the method, the explained text and its probability (or logit with one text).
pub fn title(explanation: &Explanation) -> String {
    let text = &explanation.texts[explanation.target];
    match &explanation.probs {
        Some(probs) => format!("{} · '{text}' · p={:.2}", explanation.method, probs[explanation.target]),
        None => format!("{} · '{text}' · logit={:.2}", explanation.method, explanation.score),
    }
}

pub fn render_explanation(
    image: &RgbImage,
    explanation: &Explanation,
    choice: MapChoice,
    options: &OverlayOptions,
) -> Result<RgbImage> {
    let [rows, cols] = explanation.patch_grid;
    let [height, width] = explanation.input_size;
    let map = match (&explanation.pixel_scores, choice) {
        (Some(scores), MapChoice::Pixels) => ScoreMap::Pixels { height, width, scores },
        _ => ScoreMap::Patches { rows, cols, scores: &explanation.patch_scores },
    };
    let crop = crop_in_pixels(explanation.crop, image.width(), image.height());
    Ok(render_overlay(image, crop, map, options)?)
}

pub fn explanation_png(
    image: &RgbImage,
    explanation: &Explanation,
    choice: MapChoice,
    options: &OverlayOptions,
) -> Result<Vec<u8>> {
    Ok(encode_png(&render_explanation(image, explanation, choice, options)?)?)
}

/// An explanation's crop rectangle snapped to whole pixels inside a `width` × `height` image
/// (at least 1 × 1).
pub fn crop_in_pixels(crop: ImageCropRect, width: u32, height: u32) -> CropRect {
    let (width, height) = (width.max(1), height.max(1));
    let x = (crop.x.round().max(0.0) as u32).min(width - 1);
    let y = (crop.y.round().max(0.0) as u32).min(height - 1);
    let crop_width = (crop.width.round() as u32).clamp(1, width - x);
    let crop_height = (crop.height.round() as u32).clamp(1, height - y);
    CropRect::new(x, y, crop_width, crop_height)
}
