//! CLIP's pixel pipeline on decoded RGB (decode.rs): shortest side resized, centre crop, rescale,
//! normalize.

use super::processor_config::PreprocessorConfig;
use super::resample::{resize_window, window};
use crate::loader::HostTensor;
use image::RgbImage;

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
