//! Paints the resampled scores over the crop region of the original image.

use image::{Rgb, RgbImage};

use super::scale::ColorScale;
use super::CropRect;

/// Brightness kept outside the crop: dark enough to show the model never saw
/// those pixels, light enough to keep the context recognisable.
pub const OUTSIDE_CROP_BRIGHTNESS: f32 = 0.4;

/// Blends the colour of each score into the crop region at `opacity` and
/// dims everything outside it. `crop_scores` holds one score per crop pixel,
/// row-major. A degenerate (all-zero) scale paints nothing.
pub(super) fn paint(
    image: &RgbImage,
    crop: CropRect,
    crop_scores: &[f32],
    scale: &ColorScale,
    opacity: f32,
) -> RgbImage {
    let mut painted = image.clone();
    let crop_width = crop.width as usize;
    for (x, y, pixel) in painted.enumerate_pixels_mut() {
        if !crop.contains(x, y) {
            *pixel = Rgb(pixel.0.map(|c| mix(c, 0, 1.0 - OUTSIDE_CROP_BRIGHTNESS)));
        } else if !scale.is_degenerate() {
            let index = (y - crop.y) as usize * crop_width + (x - crop.x) as usize;
            let colour = scale.colour(crop_scores[index]);
            *pixel = Rgb(std::array::from_fn(|i| mix(pixel.0[i], colour.0[i], opacity)));
        }
    }
    painted
}

/// Moves `from` towards `to` by `amount` (0..=1).
fn mix(from: u8, to: u8, amount: f32) -> u8 {
    let (from, to) = (f32::from(from), f32::from(to));
    (from + (to - from) * amount).round() as u8
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::heatmap::Colormap;

    fn crop() -> CropRect {
        CropRect::new(1, 0, 2, 2)
    }

    fn scale(max: f32) -> ColorScale {
        ColorScale { min: 0.0, max, colormap: Colormap::Viridis }
    }

    #[test]
    fn crop_is_coloured_and_the_rest_dimmed() {
        let image = RgbImage::from_pixel(4, 2, Rgb([200, 100, 50]));
        let painted = paint(&image, crop(), &[1.0; 4], &scale(1.0), 1.0);
        assert_eq!(painted.get_pixel(1, 1), &Colormap::Viridis.sample(1.0));
        assert_eq!(painted.get_pixel(0, 0), &Rgb([80, 40, 20]));
        assert_eq!(painted.get_pixel(3, 1), &Rgb([80, 40, 20]));
    }

    #[test]
    fn opacity_blends_between_image_and_colour() {
        let image = RgbImage::from_pixel(4, 2, Rgb([0, 0, 0]));
        let colour = Colormap::Viridis.sample(1.0);
        let painted = paint(&image, crop(), &[1.0; 4], &scale(1.0), 0.5);
        let expected = Rgb(colour.0.map(|c| (f32::from(c) / 2.0).round() as u8));
        assert_eq!(painted.get_pixel(2, 0), &expected);
        let untouched = paint(&image, crop(), &[1.0; 4], &scale(1.0), 0.0);
        assert_eq!(untouched.get_pixel(2, 0), &Rgb([0, 0, 0]));
    }

    #[test]
    fn all_zero_scale_leaves_the_crop_transparent() {
        let image = RgbImage::from_pixel(4, 2, Rgb([10, 20, 30]));
        let painted = paint(&image, crop(), &[0.0; 4], &scale(0.0), 0.8);
        assert_eq!(painted.get_pixel(1, 0), &Rgb([10, 20, 30]));
        assert_eq!(painted.get_pixel(0, 0), &Rgb([4, 8, 12]));
    }
}
