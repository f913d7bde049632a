//! Image files to the RGB pixels a person sees: decoded under hard limits (decompression bombs are
//! rejected from the header alone, truncated JPEGs refused), turned upright by the EXIF
//! orientation, reduced to 8 bits and composited over white. The CLI, the wasm engine and the
//! page's display all read images through here, so the explained pixels are the shown pixels.
//!
//! Where Pillow (and so transformers) is sensible we give its pixels: `ImageOps.exif_transpose`
//! as `load_image` applies it, the processor's `convert_rgb` (alpha composited over white),
//! 16-bit colour PNGs reduced to their high byte, CMYK and YCCK JPEGs converted as Pillow does
//! up to one level of rounding. One deliberate difference: Pillow clips 16-bit grayscale (`I;16`)
//! at 255 when converting to RGB, turning almost every pixel white; we take its high byte too.

use super::jpeg_end;
use crate::error::{Error, Result};
use image::{DynamicImage, ImageBuffer, ImageDecoder, ImageFormat, ImageReader, Limits, Pixel, RgbImage, RgbaImage};
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
    if reader.format() == Some(ImageFormat::Jpeg) && jpeg_end::is_truncated(bytes) {
        return Err(Error::Image(
            "cannot decode the image: the JPEG file is truncated (it ends before its end-of-image marker)".into(),
        ));
    }
    let mut image_limits = Limits::default();
    image_limits.max_image_width = Some(limits.max_side);
    image_limits.max_image_height = Some(limits.max_side);
    image_limits.max_alloc = Some(limits.max_decoded_bytes);
    reader.limits(image_limits);
    let too_large = |detail: &dyn std::fmt::Display| {
        Error::Image(format!(
            "the image is too large (limits: {} pixels per side, {} MiB decoded): {detail}",
            limits.max_side,
            limits.max_decoded_bytes >> 20
        ))
    };
    let decode_error = |e: image::ImageError| match e {
        image::ImageError::Limits(limit) => too_large(&limit),
        other => Error::Image(format!("cannot decode the image: {other}")),
    };
    let mut decoder = reader.into_decoder().map_err(decode_error)?;
    // `ImageReader::decode` reserves the decoded size against the limits; a decoder taken from
    // the reader checks only the sides, so the size is checked here, still before any pixel.
    let (width, height) = decoder.dimensions();
    if decoder.total_bytes() > limits.max_decoded_bytes {
        return Err(too_large(&format_args!("{width} × {height} pixels")));
    }
    let orientation = decoder.orientation().map_err(decode_error)?;
    let decoded = DynamicImage::from_decoder(decoder).map_err(decode_error)?;
    if decoded.width() == 0 || decoded.height() == 0 {
        return Err(Error::Image("the image has no pixels".into()));
    }
    let mut upright = DynamicImage::ImageRgb8(opaque_rgb8(decoded));
    upright.apply_orientation(orientation);
    Ok(upright.into_rgb8())
}

/// 8-bit RGB as Pillow converts it, transparent images composited over white.
fn opaque_rgb8(image: DynamicImage) -> RgbImage {
    let image = match image {
        DynamicImage::ImageLuma16(i) => DynamicImage::ImageLuma8(high_bytes(i)),
        DynamicImage::ImageLumaA16(i) => DynamicImage::ImageLumaA8(high_bytes(i)),
        DynamicImage::ImageRgb16(i) => DynamicImage::ImageRgb8(high_bytes(i)),
        DynamicImage::ImageRgba16(i) => DynamicImage::ImageRgba8(high_bytes(i)),
        other => other,
    };
    if image.color().has_alpha() {
        composite_over_white(&image.to_rgba8())
    } else {
        image.into_rgb8()
    }
}

/// Each 16-bit sample's high byte (v >> 8), as Pillow's and libpng's 16-to-8-bit readers keep it.
/// Exact rounding (round(v·255/65535)) would differ from it by at most one level, and from what
/// transformers sees.
fn high_bytes<From, To>(image: ImageBuffer<From, Vec<u16>>) -> ImageBuffer<To, Vec<u8>>
where
    From: Pixel<Subpixel = u16>,
    To: Pixel<Subpixel = u8>,
{
    let (width, height) = image.dimensions();
    let samples = image.into_raw().into_iter().map(|v| (v >> 8) as u8).collect();
    ImageBuffer::from_raw(width, height, samples).expect("the same channel count in 8 bits as in 16")
}

/// transformers' `convert_to_rgb`: transparent images are alpha-composited over white, with
/// Pillow's integer `alpha_composite` arithmetic (7 fraction bits, rounded division by 255).
fn composite_over_white(image: &RgbaImage) -> RgbImage {
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
