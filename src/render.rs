//! An explanation drawn over the original image at full resolution (the CLI's --png).

use crate::error::{Error, Result};
use crate::explain::Explanation;
use crate::heatmap::{encode_png, render_overlay, CropRect, OverlayOptions, ScoreMap};
use crate::preprocess::ImageCropRect;
use image::imageops::{resize, FilterType};
use image::RgbImage;

/// The most an export is enlarged: a 96 px scene to 1536 px.
const MAX_ENLARGEMENT: u32 = 16;

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

/// `image` enlarged by the smallest whole factor (at most `MAX_ENLARGEMENT`) that makes it at least
/// `min_width` pixels wide, and `crop` moved with it: an export as large as the page shows it.
/// `pixelated` keeps pixels square (nearest neighbour), as the page draws small images; otherwise
/// the enlargement is smooth (Catmull-Rom).
pub fn enlarged(image: &RgbImage, crop: ImageCropRect, min_width: u32, pixelated: bool) -> (RgbImage, ImageCropRect) {
    let factor = min_width.div_ceil(image.width().max(1)).clamp(1, MAX_ENLARGEMENT);
    if factor == 1 {
        return (image.clone(), crop);
    }
    let filter = if pixelated { FilterType::Nearest } else { FilterType::CatmullRom };
    let scaled = resize(image, image.width() * factor, image.height() * factor, filter);
    let f = factor as f32;
    (scaled, ImageCropRect { x: crop.x * f, y: crop.y * f, width: crop.width * f, height: crop.height * f })
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

#[cfg(test)]
mod tests {
    use super::*;
    use image::Rgb;

    #[test]
    fn enlarging_is_by_a_whole_factor_and_moves_the_crop() {
        let mut image = RgbImage::from_pixel(96, 64, Rgb([10, 20, 30]));
        image.put_pixel(95, 63, Rgb([200, 0, 0]));
        let crop = ImageCropRect { x: 16.0, y: 0.0, width: 64.0, height: 64.0 };
        let (large, moved) = enlarged(&image, crop, 700, true);
        assert_eq!((large.width(), large.height()), (96 * 8, 64 * 8));
        assert_eq!(moved, ImageCropRect { x: 128.0, y: 0.0, width: 512.0, height: 512.0 });
        // Nearest neighbour: the corner pixel is an 8 × 8 block of the same colour.
        assert!((760..768).all(|x| large.get_pixel(x, 511) == &Rgb([200, 0, 0])));
        assert_eq!(large.get_pixel(759, 511), &Rgb([10, 20, 30]));
        let (same, kept) = enlarged(&image, crop, 50, false);
        assert_eq!((same.dimensions(), kept), (image.dimensions(), crop));
        let (capped, _) = enlarged(&image, crop, 100_000, false);
        assert_eq!(capped.width(), 96 * 16);
    }
}
