//! Image resizing that reproduces Pillow's `Image.resize` bit for bit on 8-bit RGB (the resize that
//! transformers' CLIPImageProcessor uses): separable convolution with an antialiasing support that
//! widens when downscaling, fixed-point coefficients, horizontal pass first, 8-bit clamping between
//! passes. See Pillow's `libImaging/Resample.c`.

use super::processor_config::Resample;
use image::RgbImage;
use std::ops::Range;

/// Pillow keeps 22 fraction bits so that a sum of 8-bit pixels times weights fits in 32 bits.
const PRECISION_BITS: u32 = 32 - 8 - 2;

impl Resample {
    fn support(self) -> f64 {
        match self {
            Resample::Bilinear => 1.0,
            Resample::Bicubic => 2.0,
        }
    }

    fn weight(self, x: f64) -> f64 {
        let x = x.abs();
        match self {
            Resample::Bilinear => (1.0 - x).max(0.0),
            Resample::Bicubic => {
                // Keys' cubic with a = -0.5, as Pillow.
                const A: f64 = -0.5;
                if x < 1.0 {
                    ((A + 2.0) * x - (A + 3.0)) * x * x + 1.0
                } else if x < 2.0 {
                    (((x - 5.0) * x + 8.0) * x - 4.0) * A
                } else {
                    0.0
                }
            }
        }
    }
}

/// For each output position of a window: the first input index and the fixed-point weights of
/// the inputs it reads.
struct Coefficients {
    starts: Vec<usize>,
    weights: Vec<Vec<i32>>,
}

/// The coefficients of the outputs in `window` of a resize from `in_size` to `out_size`: each
/// output's own, so a window of them equals the same outputs of the whole resize.
fn coefficients(in_size: usize, out_size: usize, filter: Resample, window: Range<usize>) -> Coefficients {
    let scale = in_size as f64 / out_size as f64;
    let filter_scale = scale.max(1.0);
    let support = filter.support() * filter_scale;
    let mut starts = Vec::with_capacity(window.len());
    let mut weights = Vec::with_capacity(window.len());
    for out in window {
        let center = (out as f64 + 0.5) * scale;
        // Pillow rounds with a C cast after adding 0.5; `as i64` truncates toward zero the same way.
        let first = ((center - support + 0.5) as i64).max(0) as usize;
        let end = ((center + support + 0.5) as i64).min(in_size as i64) as usize;
        let raw: Vec<f64> = (first..end).map(|x| filter.weight((x as f64 - center + 0.5) / filter_scale)).collect();
        let total: f64 = raw.iter().sum();
        let fixed = raw
            .iter()
            .map(|w| {
                let w = if total != 0.0 { w / total } else { *w };
                let scaled = w * (1u32 << PRECISION_BITS) as f64;
                (if scaled < 0.0 { scaled - 0.5 } else { scaled + 0.5 }) as i32
            })
            .collect();
        starts.push(first);
        weights.push(fixed);
    }
    Coefficients { starts, weights }
}

fn clamp_to_u8(accumulator: i64) -> u8 {
    (accumulator >> PRECISION_BITS).clamp(0, 255) as u8
}

const ROUNDING: i64 = 1 << (PRECISION_BITS - 1);

/// Columns `columns` of `src` resized to `width`, every row.
fn resize_horizontal(src: &RgbImage, width: usize, filter: Resample, columns: Range<usize>) -> RgbImage {
    let (src_width, height) = (src.width() as usize, src.height() as usize);
    let coeffs = coefficients(src_width, width, filter, columns);
    let out_width = coeffs.starts.len();
    let src = src.as_raw();
    let mut out = vec![0u8; out_width * height * 3];
    for y in 0..height {
        let row = &src[y * src_width * 3..(y + 1) * src_width * 3];
        for x in 0..out_width {
            let start = coeffs.starts[x];
            for c in 0..3 {
                let sum = coeffs.weights[x]
                    .iter()
                    .enumerate()
                    .fold(ROUNDING, |acc, (i, w)| acc + row[(start + i) * 3 + c] as i64 * *w as i64);
                out[(y * out_width + x) * 3 + c] = clamp_to_u8(sum);
            }
        }
    }
    RgbImage::from_raw(out_width as u32, height as u32, out).expect("buffer sized for the image")
}

/// Rows `rows` of `src` resized to `height`.
fn resize_vertical(src: &RgbImage, height: usize, filter: Resample, rows: Range<usize>) -> RgbImage {
    let (width, src_height) = (src.width() as usize, src.height() as usize);
    let coeffs = coefficients(src_height, height, filter, rows);
    let out_height = coeffs.starts.len();
    let src = src.as_raw();
    let stride = width * 3;
    let mut out = vec![0u8; width * out_height * 3];
    for y in 0..out_height {
        let start = coeffs.starts[y];
        for i in 0..stride {
            let sum = coeffs.weights[y]
                .iter()
                .enumerate()
                .fold(ROUNDING, |acc, (k, w)| acc + src[(start + k) * stride + i] as i64 * *w as i64);
            out[y * stride + i] = clamp_to_u8(sum);
        }
    }
    RgbImage::from_raw(width as u32, out_height as u32, out).expect("buffer sized for the image")
}

/// The pixels `columns` × `rows` of Pillow's `resize((width, height), filter)` on an RGB image,
/// computed alone: the part of the resized image a centre crop keeps costs the crop, however
/// far the resize stretches a long, thin image.
pub fn resize_window(
    src: &RgbImage,
    width: usize,
    height: usize,
    filter: Resample,
    columns: Range<usize>,
    rows: Range<usize>,
) -> RgbImage {
    let horizontal = if width != src.width() as usize {
        resize_horizontal(src, width, filter, columns)
    } else {
        window(src, columns, 0..src.height() as usize)
    };
    if height != horizontal.height() as usize {
        resize_vertical(&horizontal, height, filter, rows)
    } else {
        window(&horizontal, 0..horizontal.width() as usize, rows)
    }
}

/// The pixels `columns` × `rows` of `image`, copied.
pub fn window(image: &RgbImage, columns: Range<usize>, rows: Range<usize>) -> RgbImage {
    let width = image.width() as usize;
    let raw = image.as_raw();
    let out: Vec<u8> = rows
        .clone()
        .flat_map(|y| &raw[(y * width + columns.start) * 3..(y * width + columns.end) * 3])
        .copied()
        .collect();
    RgbImage::from_raw(columns.len() as u32, rows.len() as u32, out).expect("buffer sized for the window")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_window_equals_the_same_pixels_of_the_whole_resize() {
        let src =
            RgbImage::from_fn(37, 23, |x, y| image::Rgb([(x * 7 + y * 3) as u8, (x * y) as u8, (255 - x * 5) as u8]));
        for (width, height) in [(50, 31), (12, 9), (37, 40), (60, 23)] {
            for filter in [Resample::Bilinear, Resample::Bicubic] {
                let whole = resize_window(&src, width, height, filter, 0..width, 0..height);
                for (columns, rows) in [(3..11, 2..8), (0..width, height / 2..height), (width - 1..width, 0..1)] {
                    let part = resize_window(&src, width, height, filter, columns.clone(), rows.clone());
                    assert_eq!(part, window(&whole, columns, rows), "{width}x{height} {filter:?}");
                }
            }
        }
    }
}
