//! Image resizing that reproduces Pillow's `Image.resize` bit for bit on 8-bit RGB (the resize that
//! transformers' CLIPImageProcessor uses): separable convolution with an antialiasing support that
//! widens when downscaling, fixed-point coefficients, horizontal pass first, 8-bit clamping between
//! passes. See Pillow's `libImaging/Resample.c`.

use super::processor_config::Resample;
use image::RgbImage;

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

/// For each output position: the first input index and the fixed-point weights of the inputs it reads.
struct Coefficients {
    starts: Vec<usize>,
    weights: Vec<Vec<i32>>,
}

fn coefficients(in_size: usize, out_size: usize, filter: Resample) -> Coefficients {
    let scale = in_size as f64 / out_size as f64;
    let filter_scale = scale.max(1.0);
    let support = filter.support() * filter_scale;
    let mut starts = Vec::with_capacity(out_size);
    let mut weights = Vec::with_capacity(out_size);
    for out in 0..out_size {
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

fn resize_horizontal(src: &RgbImage, width: usize, filter: Resample) -> RgbImage {
    let (src_width, height) = (src.width() as usize, src.height() as usize);
    let coeffs = coefficients(src_width, width, filter);
    let src = src.as_raw();
    let mut out = vec![0u8; width * height * 3];
    for y in 0..height {
        let row = &src[y * src_width * 3..(y + 1) * src_width * 3];
        for x in 0..width {
            let start = coeffs.starts[x];
            for c in 0..3 {
                let sum = coeffs.weights[x]
                    .iter()
                    .enumerate()
                    .fold(ROUNDING, |acc, (i, w)| acc + row[(start + i) * 3 + c] as i64 * *w as i64);
                out[(y * width + x) * 3 + c] = clamp_to_u8(sum);
            }
        }
    }
    RgbImage::from_raw(width as u32, height as u32, out).expect("buffer sized for the image")
}

fn resize_vertical(src: &RgbImage, height: usize, filter: Resample) -> RgbImage {
    let (width, src_height) = (src.width() as usize, src.height() as usize);
    let coeffs = coefficients(src_height, height, filter);
    let src = src.as_raw();
    let stride = width * 3;
    let mut out = vec![0u8; width * height * 3];
    for y in 0..height {
        let start = coeffs.starts[y];
        for i in 0..stride {
            let sum = coeffs.weights[y]
                .iter()
                .enumerate()
                .fold(ROUNDING, |acc, (k, w)| acc + src[(start + k) * stride + i] as i64 * *w as i64);
            out[y * stride + i] = clamp_to_u8(sum);
        }
    }
    RgbImage::from_raw(width as u32, height as u32, out).expect("buffer sized for the image")
}

/// Pillow's `resize((width, height), filter)` on an RGB image.
pub fn resize(src: &RgbImage, width: usize, height: usize, filter: Resample) -> RgbImage {
    let horizontal = if width != src.width() as usize { resize_horizontal(src, width, filter) } else { src.clone() };
    if height != horizontal.height() as usize {
        resize_vertical(&horizontal, height, filter)
    } else {
        horizontal
    }
}
