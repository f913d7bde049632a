//! An explanation drawn over the original image at full resolution (the CLI's --png).

use crate::error::{Error, Result};
use crate::explain::Explanation;
use crate::heatmap::{encode_png, render_overlay, CropRect, OverlayOptions, ScoreMap};
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
/// An explanation read from JSON may name a target it has no text or probability for:
/// `render_explanation` refuses it, and its title shows what is missing.
pub fn title(explanation: &Explanation) -> String {
    let text = explanation.texts.get(explanation.target).map_or("?", String::as_str);
    match explanation.probs.as_ref().and_then(|probs| probs.get(explanation.target)) {
        Some(probability) => format!("{} · '{text}' · p={probability:.2}", explanation.method),
        None => format!("{} · '{text}' · logit={:.2}", explanation.method, explanation.score),
    }
}

pub fn render_explanation(
    image: &RgbImage,
    explanation: &Explanation,
    choice: MapChoice,
    options: &OverlayOptions,
) -> Result<RgbImage> {
    if explanation.target >= explanation.texts.len() {
        return Err(Error::InvalidOption(format!(
            "the explanation's target {} is out of range: it has {} texts",
            explanation.target,
            explanation.texts.len()
        )));
    }
    let [rows, cols] = explanation.patch_grid;
    let [height, width] = explanation.input_size;
    let map = match (&explanation.pixel_scores, choice) {
        (Some(scores), MapChoice::Pixels) => ScoreMap::Pixels { height, width, scores },
        _ => ScoreMap::Patches { rows, cols, scores: &explanation.patch_scores },
    };
    Ok(render_overlay(image, crop_in_pixels(explanation, image), map, options)?)
}

pub fn explanation_png(
    image: &RgbImage,
    explanation: &Explanation,
    choice: MapChoice,
    options: &OverlayOptions,
) -> Result<Vec<u8>> {
    Ok(encode_png(&render_explanation(image, explanation, choice, options)?)?)
}

/// The explanation's crop rectangle snapped to whole pixels inside the image.
fn crop_in_pixels(explanation: &Explanation, image: &RgbImage) -> CropRect {
    let c = explanation.crop;
    let x = (c.x.round().max(0.0) as u32).min(image.width() - 1);
    let y = (c.y.round().max(0.0) as u32).min(image.height() - 1);
    let width = (c.width.round() as u32).clamp(1, image.width() - x);
    let height = (c.height.round() as u32).clamp(1, image.height() - y);
    CropRect::new(x, y, width, height)
}
