//! The heat alone, for front ends that lay it over the image themselves (the web app's canvases):
//! the map resampled and coloured exactly as `render_overlay` does it, as RGBA pixels.

use super::scale::ColorScale;
use super::{upsample, HeatmapError, ScoreMap};

/// The largest side of a heat layer (the web app paints at most 1024).
pub const MAX_LAYER_SIDE: u32 = 4096;

/// `map` resampled to `width` × `height` and coloured on `scale`, row-major RGBA: opaque colours,
/// or fully transparent pixels when the scale is degenerate (an all-zero map paints nothing).
pub fn heat_layer(map: ScoreMap<'_>, width: u32, height: u32, scale: &ColorScale) -> Result<Vec<u8>, HeatmapError> {
    if !(1..=MAX_LAYER_SIDE).contains(&width) || !(1..=MAX_LAYER_SIDE).contains(&height) {
        return Err(HeatmapError::InvalidLayerSize { width, height });
    }
    let grid = map.validated_grid()?;
    let pixels = width as usize * height as usize;
    if scale.is_degenerate() {
        return Ok(vec![0; pixels * 4]);
    }
    let values = upsample::resample(grid, width as usize, height as usize);
    Ok(values
        .iter()
        .flat_map(|&value| {
            let [r, g, b] = scale.colour(value).0;
            [r, g, b, u8::MAX]
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::heatmap::{render_overlay, Colormap, CropRect, OverlayOptions};
    use image::{Rgb, RgbImage};

    #[test]
    fn opaque_layer_equals_an_opaque_overlay() {
        let scores = [0.1, -0.7, 0.3, 0.0, 0.9, -0.2];
        let map = ScoreMap::Patches { rows: 2, cols: 3, scores: &scores };
        let scale = ColorScale::fit(&scores, None, None);
        let layer = heat_layer(map, 37, 23, &scale).unwrap();
        let options = OverlayOptions { opacity: 1.0, legend: false, ..OverlayOptions::default() };
        let overlay = render_overlay(&RgbImage::new(37, 23), CropRect::full(37, 23), map, &options).unwrap();
        let expected: Vec<u8> = overlay.pixels().flat_map(|Rgb([r, g, b])| [*r, *g, *b, 255]).collect();
        assert_eq!(layer, expected);
    }

    #[test]
    fn an_all_zero_map_is_transparent() {
        let scores = [0.0; 4];
        let map = ScoreMap::Patches { rows: 2, cols: 2, scores: &scores };
        let scale = ColorScale::fit(&scores, None, Some(Colormap::Viridis));
        assert_eq!(heat_layer(map, 5, 4, &scale).unwrap(), vec![0; 5 * 4 * 4]);
    }

    #[test]
    fn bad_sizes_and_scores_are_errors() {
        let scores = [1.0, f32::NAN];
        let scale = ColorScale::fit(&[1.0], None, None);
        let map = ScoreMap::Patches { rows: 1, cols: 2, scores: &scores };
        assert!(matches!(heat_layer(map, 4, 4, &scale), Err(HeatmapError::NonFiniteScore { index: 1, .. })));
        let map = ScoreMap::Patches { rows: 1, cols: 1, scores: &scores[..1] };
        for (width, height) in [(0, 4), (4, 0), (MAX_LAYER_SIDE + 1, 1)] {
            assert!(matches!(heat_layer(map, width, height, &scale), Err(HeatmapError::InvalidLayerSize { .. })));
        }
    }
}
