//! `preprocessor_config.json` of `CLIPImageProcessor`, with its defaults.

use super::{CLIP_MEAN, CLIP_STD};
use crate::error::{Error, Result};
use serde::Deserialize;

/// Resampling filters by PIL's numbering, which transformers stores in `resample`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Resample {
    Bilinear,
    Bicubic,
}

/// The largest resize target accepted: the decoder's limit per side. Only the centre crop of the
/// resized image is ever computed, so this bounds arithmetic, not memory.
pub const MAX_RESIZE_EDGE: usize = 16_384;

#[derive(Clone, Debug)]
pub struct PreprocessorConfig {
    pub do_resize: bool,
    pub shortest_edge: usize,
    pub resample: Resample,
    pub do_center_crop: bool,
    pub crop_height: usize,
    pub crop_width: usize,
    pub do_rescale: bool,
    pub rescale_factor: f64,
    pub do_normalize: bool,
    pub mean: [f32; 3],
    pub std: [f32; 3],
}

#[derive(Deserialize)]
#[serde(untagged)]
enum SizeField {
    Int(usize),
    ShortestEdge { shortest_edge: usize },
    HeightWidth { height: usize, width: usize },
}

#[derive(Deserialize)]
struct RawConfig {
    do_resize: Option<bool>,
    size: Option<SizeField>,
    resample: Option<u32>,
    do_center_crop: Option<bool>,
    crop_size: Option<SizeField>,
    do_rescale: Option<bool>,
    rescale_factor: Option<f64>,
    do_normalize: Option<bool>,
    image_mean: Option<Vec<f32>>,
    image_std: Option<Vec<f32>>,
}

impl PreprocessorConfig {
    /// CLIP's processor for a model whose input is `image_size` square.
    pub fn clip_default(image_size: usize) -> Self {
        PreprocessorConfig {
            do_resize: true,
            shortest_edge: image_size,
            resample: Resample::Bicubic,
            do_center_crop: true,
            crop_height: image_size,
            crop_width: image_size,
            do_rescale: true,
            rescale_factor: 1.0 / 255.0,
            do_normalize: true,
            mean: CLIP_MEAN,
            std: CLIP_STD,
        }
    }

    pub fn from_json(text: &str, image_size: usize) -> Result<Self> {
        let bad = |msg: String| Error::Config(format!("preprocessor_config.json: {msg}"));
        let raw: RawConfig = serde_json::from_str(text).map_err(|e| bad(e.to_string()))?;
        let mut config = Self::clip_default(image_size);
        if let Some(v) = raw.do_resize {
            config.do_resize = v;
        }
        match raw.size {
            None => {}
            Some(SizeField::Int(n)) | Some(SizeField::ShortestEdge { shortest_edge: n }) => config.shortest_edge = n,
            Some(SizeField::HeightWidth { height, width }) if height == width => config.shortest_edge = height,
            Some(SizeField::HeightWidth { height, width }) => {
                return Err(bad(format!("size {height}x{width} is not square; CLIP resizes the shortest edge")))
            }
        }
        config.resample = match raw.resample.unwrap_or(3) {
            2 => Resample::Bilinear,
            3 => Resample::Bicubic,
            other => return Err(bad(format!("resample {other} is not supported (2 = bilinear, 3 = bicubic)"))),
        };
        if let Some(v) = raw.do_center_crop {
            config.do_center_crop = v;
        }
        match raw.crop_size {
            None => {}
            Some(SizeField::Int(n)) | Some(SizeField::ShortestEdge { shortest_edge: n }) => {
                config.crop_height = n;
                config.crop_width = n;
            }
            Some(SizeField::HeightWidth { height, width }) => {
                config.crop_height = height;
                config.crop_width = width;
            }
        }
        if let Some(v) = raw.do_rescale {
            config.do_rescale = v;
        }
        if let Some(v) = raw.rescale_factor {
            config.rescale_factor = v;
        }
        if let Some(v) = raw.do_normalize {
            config.do_normalize = v;
        }
        if let Some(mean) = raw.image_mean {
            config.mean = three_channels("image_mean", &mean).map_err(bad)?;
        }
        if let Some(std) = raw.image_std {
            config.std = three_channels("image_std", &std).map_err(bad)?;
            if config.std.iter().any(|s| s.is_nan() || *s <= 0.0) {
                return Err(bad("image_std must be positive".into()));
            }
        }
        if config.shortest_edge == 0 {
            return Err(bad("size must be positive".into()));
        }
        if config.shortest_edge > MAX_RESIZE_EDGE {
            return Err(bad(format!("size {} is larger than the limit of {MAX_RESIZE_EDGE}", config.shortest_edge)));
        }
        let output = if config.do_center_crop {
            (config.crop_height, config.crop_width)
        } else {
            (config.shortest_edge, config.shortest_edge)
        };
        if output != (image_size, image_size) {
            return Err(bad(format!(
                "produces {}x{} images but the vision model takes {image_size}x{image_size}",
                output.0, output.1
            )));
        }
        if !config.do_center_crop {
            return Err(bad("do_center_crop = false is not supported: CLIP needs a square input".into()));
        }
        Ok(config)
    }
}

fn three_channels(name: &str, values: &[f32]) -> Result<[f32; 3], String> {
    match values {
        [r, g, b] => Ok([*r, *g, *b]),
        _ => Err(format!("{name} must have 3 values, found {}", values.len())),
    }
}
