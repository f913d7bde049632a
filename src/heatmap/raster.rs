//! The two drawing primitives everything else is built from. Both clip to
//! the canvas, so callers never index out of bounds.

use image::{Rgb, RgbImage};

/// Fills the rectangle at (`x`, `y`) of `width` × `height` with `colour`.
pub(super) fn fill_rect(canvas: &mut RgbImage, x: i64, y: i64, width: u32, height: u32, colour: Rgb<u8>) {
    let (x_range, y_range) = clip(canvas, x, y, width, height);
    for py in y_range {
        for px in x_range.clone() {
            canvas.put_pixel(px, py, colour);
        }
    }
}

/// Copies `source` onto `canvas` with its top-left corner at (`x`, `y`).
pub(super) fn blit(canvas: &mut RgbImage, source: &RgbImage, x: i64, y: i64) {
    let (x_range, y_range) = clip(canvas, x, y, source.width(), source.height());
    for py in y_range {
        for px in x_range.clone() {
            let pixel = *source.get_pixel((i64::from(px) - x) as u32, (i64::from(py) - y) as u32);
            canvas.put_pixel(px, py, pixel);
        }
    }
}

fn clip(canvas: &RgbImage, x: i64, y: i64, width: u32, height: u32) -> (std::ops::Range<u32>, std::ops::Range<u32>) {
    let span = |start: i64, len: u32, limit: u32| {
        let begin = start.clamp(0, i64::from(limit)) as u32;
        let end = (start + i64::from(len)).clamp(0, i64::from(limit)) as u32;
        begin..end
    };
    (span(x, width, canvas.width()), span(y, height, canvas.height()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn drawing_clips_at_every_edge() {
        let mut canvas = RgbImage::new(4, 3);
        let white = Rgb([255, 255, 255]);
        fill_rect(&mut canvas, -2, -2, 4, 4, white);
        fill_rect(&mut canvas, 3, 2, 10, 10, white);
        fill_rect(&mut canvas, 100, 100, 1, 1, white);
        let lit: Vec<(u32, u32)> =
            canvas.enumerate_pixels().filter(|(_, _, p)| **p == white).map(|(x, y, _)| (x, y)).collect();
        assert_eq!(lit, vec![(0, 0), (1, 0), (0, 1), (1, 1), (3, 2)]);
    }

    #[test]
    fn blit_places_and_clips() {
        let mut canvas = RgbImage::new(3, 3);
        let source = RgbImage::from_pixel(2, 2, Rgb([9, 9, 9]));
        blit(&mut canvas, &source, 2, -1);
        assert_eq!(canvas.get_pixel(2, 0), &Rgb([9, 9, 9]));
        assert_eq!(canvas.get_pixel(1, 0), &Rgb([0, 0, 0]));
        assert_eq!(canvas.get_pixel(2, 1), &Rgb([0, 0, 0]));
    }
}
