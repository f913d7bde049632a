//! The explanation drawn over the original image (the CLI's --png).

use crate::error::{Error, Result};
use crate::explain::Explanation;
use crate::preprocess::{decode_image, ImageLimits};

pub fn explanation_png(image_bytes: &[u8], explanation: &Explanation, limits: ImageLimits) -> Result<Vec<u8>> {
    let _ = (image_bytes, explanation, limits);
    Err(Error::InvalidOption("PNG output is not available yet".into()))
}
