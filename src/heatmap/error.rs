//! The one error type of the heatmap renderer.

use std::fmt;

use super::CropRect;

/// Why an overlay could not be rendered or encoded.
///
/// Every bad input is reported here rather than by a panic, so callers such
/// as the browser build can show the message to the user.
#[derive(Debug)]
pub enum HeatmapError {
    /// The source image has no pixels.
    EmptyImage,
    /// The score map has zero rows or columns.
    EmptyScoreMap {
        /// Rows (or pixel height) of the map.
        rows: usize,
        /// Columns (or pixel width) of the map.
        cols: usize,
    },
    /// The map's dimensions multiply to more values than memory can address.
    ScoreMapTooLarge {
        /// Rows (or pixel height) of the map.
        rows: usize,
        /// Columns (or pixel width) of the map.
        cols: usize,
    },
    /// The score slice does not hold exactly rows × cols values.
    ScoreLengthMismatch {
        /// rows × cols.
        expected: usize,
        /// Length of the slice that was passed.
        actual: usize,
    },
    /// A score is NaN or infinite.
    NonFiniteScore {
        /// Row-major position of the first offending score.
        index: usize,
        /// The offending score.
        value: f32,
    },
    /// The crop rectangle has zero width or height.
    EmptyCrop,
    /// The crop rectangle reaches outside the image.
    CropOutOfBounds {
        /// The rectangle that was passed.
        crop: CropRect,
        /// Width of the image it was meant for.
        image_width: u32,
        /// Height of the image it was meant for.
        image_height: u32,
    },
    /// Opacity is not a number in 0..=1.
    InvalidOpacity(f32),
    /// The clip percentile is not a number in (0, 100].
    InvalidPercentile(f32),
    /// No colormap has this name.
    UnknownColormap {
        /// The name that was asked for.
        name: String,
    },
    /// Legend and title margins would push the canvas past `u32` pixels.
    OutputTooLarge,
    /// A heat layer's side is 0 or above `MAX_LAYER_SIDE`.
    InvalidLayerSize {
        /// Width asked for.
        width: u32,
        /// Height asked for.
        height: u32,
    },
    /// The PNG encoder failed.
    Encode(image::ImageError),
}

impl fmt::Display for HeatmapError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::EmptyImage => write!(f, "the image has no pixels"),
            Self::EmptyScoreMap { rows, cols } => {
                write!(f, "the score map is empty ({rows} x {cols})")
            }
            Self::ScoreMapTooLarge { rows, cols } => {
                write!(f, "the score map is too large ({rows} x {cols})")
            }
            Self::ScoreLengthMismatch { expected, actual } => {
                write!(f, "the score map should hold {expected} values but holds {actual}")
            }
            Self::NonFiniteScore { index, value } => {
                write!(f, "score {index} is {value}; scores must be finite")
            }
            Self::EmptyCrop => write!(f, "the crop rectangle is empty"),
            Self::CropOutOfBounds { crop, image_width, image_height } => write!(
                f,
                "the crop rectangle {}x{} at ({}, {}) reaches outside the {image_width}x{image_height} image",
                crop.width, crop.height, crop.x, crop.y
            ),
            Self::InvalidOpacity(opacity) => {
                write!(f, "opacity must be between 0 and 1, got {opacity}")
            }
            Self::InvalidPercentile(percentile) => {
                write!(f, "the clip percentile must be above 0 and at most 100, got {percentile}")
            }
            Self::UnknownColormap { name } => {
                write!(f, "unknown colormap '{name}' (valid names: {})", super::Colormap::valid_names())
            }
            Self::OutputTooLarge => write!(f, "the rendered image would be too large"),
            Self::InvalidLayerSize { width, height } => write!(
                f,
                "a heat layer must be 1 to {} pixels on each side, not {width}x{height}",
                super::MAX_LAYER_SIDE
            ),
            Self::Encode(err) => write!(f, "PNG encoding failed: {err}"),
        }
    }
}

impl std::error::Error for HeatmapError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Self::Encode(err) => Some(err),
            _ => None,
        }
    }
}
