//! Image decoding with hard limits (decompression bombs are rejected from the header alone) and
//! CLIP's pixel pipeline: RGB, shortest side resized, centre crop, rescale, normalize.

use super::processor_config::PreprocessorConfig;
use super::resample::{resize_window, window};
use crate::error::{Error, Result};
use crate::loader::HostTensor;
use image::{ImageReader, Limits, RgbImage};
use std::io::Cursor;

/// Bounds on what an input image may claim before any pixel is decoded.
#[derive(Clone, Copy, Debug)]
pub struct ImageLimits {
    pub max_side: u32,
    pub max_decoded_bytes: u64,
}

impl Default for ImageLimits {
    fn default() -> Self {
        // 16k per side covers any camera; 512 MiB keeps a decode well inside wasm's address space.
        ImageLimits { max_side: 16_384, max_decoded_bytes: 512 << 20 }
    }
}

/// Image files larger than this are refused before they are read: far more than any photo the
/// decode limits would accept.
pub const MAX_IMAGE_FILE_BYTES: u64 = 256 << 20;

/// An image file's bytes, refused when it is not a regular file (a pipe or a device could be
/// endless) or larger than `MAX_IMAGE_FILE_BYTES`.
pub fn read_image_file(path: &std::path::Path) -> Result<Vec<u8>> {
    let metadata = std::fs::metadata(path).map_err(|e| Error::io(path.display(), e))?;
    if !metadata.is_file() {
        return Err(Error::io(path.display(), "is not a regular file"));
    }
    if metadata.len() > MAX_IMAGE_FILE_BYTES {
        return Err(Error::io(
            path.display(),
            format!("is {} bytes; image files over {} MiB are refused", metadata.len(), MAX_IMAGE_FILE_BYTES >> 20),
        ));
    }
    std::fs::read(path).map_err(|e| Error::io(path.display(), e))
}

pub fn decode_image(bytes: &[u8], limits: ImageLimits) -> Result<RgbImage> {
    if bytes.is_empty() {
        return Err(Error::Image("the image file is empty".into()));
    }
    let mut reader = ImageReader::new(Cursor::new(bytes))
        .with_guessed_format()
        .map_err(|e| Error::Image(format!("cannot read the image: {e}")))?;
    if reader.format().is_none() {
        return Err(Error::Image("unrecognized image format (supported: PNG, JPEG, GIF, BMP, WebP)".into()));
    }
    let mut image_limits = Limits::default();
    image_limits.max_image_width = Some(limits.max_side);
    image_limits.max_image_height = Some(limits.max_side);
    image_limits.max_alloc = Some(limits.max_decoded_bytes);
    reader.limits(image_limits);
    let decoded = reader.decode().map_err(|e| match e {
        image::ImageError::Limits(_) => Error::Image(format!(
            "the image is too large (limits: {} pixels per side, {} MiB decoded): {e}",
            limits.max_side,
            limits.max_decoded_bytes >> 20
        )),
        other => Error::Image(format!("cannot decode the image: {other}")),
    })?;
    if decoded.width() == 0 || decoded.height() == 0 {
        return Err(Error::Image("the image has no pixels".into()));
    }
    if decoded.color().has_alpha() {
        Ok(composite_over_white(&decoded.to_rgba8()))
    } else {
        Ok(decoded.to_rgb8())
    }
}

/// transformers' `convert_to_rgb`: transparent images are alpha-composited over white, with
/// Pillow's integer `alpha_composite` arithmetic (7 fraction bits, rounded division by 255).
fn composite_over_white(image: &image::RgbaImage) -> RgbImage {
    const FRACTION_BITS: u32 = 7;
    let divide_by_255 = |v: u32| ((v >> 8) + v) >> 8;
    RgbImage::from_fn(image.width(), image.height(), |x, y| {
        let [r, g, b, a] = image.get_pixel(x, y).0.map(u32::from);
        if a == 0 {
            return image::Rgb([255, 255, 255]);
        }
        // Over an opaque white background Pillow's coefficients reduce to a and 255 − a.
        let blend = |c: u32| {
            let mixed = (c * a + 255 * (255 - a)) << FRACTION_BITS;
            (divide_by_255(mixed + (0x80 << FRACTION_BITS)) >> FRACTION_BITS) as u8
        };
        image::Rgb([blend(r), blend(g), blend(b)])
    })
}

/// Where the model's square input lies in the original image, in original pixel coordinates.
#[derive(Clone, Copy, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct CropRect {
    pub x: f32,
    pub y: f32,
    pub width: f32,
    pub height: f32,
}

pub struct PreparedImage {
    /// Normalized pixel values, (3, H, W).
    pub pixels: HostTensor,
    pub crop: CropRect,
}

pub struct Preprocessor {
    pub config: PreprocessorConfig,
}

impl Preprocessor {
    pub fn new(config: PreprocessorConfig) -> Self {
        Preprocessor { config }
    }

    /// transformers' `get_resize_output_image_size` with `default_to_square=False`: the short side
    /// becomes `shortest_edge`, the long side is scaled and truncated.
    fn resized_size(&self, width: usize, height: usize) -> (usize, usize) {
        let short_target = self.config.shortest_edge;
        let (short, long) = if width <= height { (width, height) } else { (height, width) };
        let long_target = ((short_target * long) as f64 / short as f64) as usize;
        if width <= height {
            (short_target, long_target.max(1))
        } else {
            (long_target.max(1), short_target)
        }
    }

    pub fn prepare(&self, image: &RgbImage) -> PreparedImage {
        let config = &self.config;
        let (orig_w, orig_h) = (image.width() as usize, image.height() as usize);
        let (rw, rh) = if config.do_resize { self.resized_size(orig_w, orig_h) } else { (orig_w, orig_h) };
        let (ch, cw) = (config.crop_height, config.crop_width);
        // Python's floor division; negative offsets pad with zeros, as transformers' center_crop.
        let top = (rh as i64 - ch as i64).div_euclid(2);
        let left = (rw as i64 - cw as i64).div_euclid(2);
        // Only the part of the resized image that the crop keeps is ever computed.
        let inside = |start: i64, length: usize, size: usize| {
            start.max(0) as usize..(start + length as i64).min(size as i64) as usize
        };
        let (rows, columns) = (inside(top, ch, rh), inside(left, cw, rw));
        let kept = if config.do_resize {
            resize_window(image, rw, rh, config.resample, columns.clone(), rows.clone())
        } else {
            window(image, columns.clone(), rows.clone())
        };
        let scale = if config.do_rescale { config.rescale_factor } else { 1.0 };
        let raw = kept.as_raw();
        let mut data = vec![0f32; 3 * ch * cw];
        for c in 0..3 {
            let (mean, std) = if config.do_normalize { (config.mean[c], config.std[c]) } else { (0.0, 1.0) };
            for y in 0..ch {
                for x in 0..cw {
                    let (sy, sx) = ((y as i64 + top) as usize, (x as i64 + left) as usize);
                    let value = if rows.contains(&sy) && columns.contains(&sx) {
                        raw[((sy - rows.start) * columns.len() + sx - columns.start) * 3 + c]
                    } else {
                        0
                    };
                    // transformers rescales in float64 and then normalizes in float32.
                    let rescaled = (value as f64 * scale) as f32;
                    data[(c * ch + y) * cw + x] = (rescaled - mean) / std;
                }
            }
        }
        let (sx, sy) = (orig_w as f32 / rw as f32, orig_h as f32 / rh as f32);
        PreparedImage {
            pixels: HostTensor::new(data, vec![3, ch, cw]),
            crop: CropRect { x: left as f32 * sx, y: top as f32 * sy, width: cw as f32 * sx, height: ch as f32 * sy },
        }
    }
}
