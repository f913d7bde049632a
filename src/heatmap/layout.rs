//! Arranges the painted image, the legend and the title on one canvas, with
//! sizes that follow the image so a 32 px thumbnail and a 2000 px photo both
//! get legible, proportionate text.

use image::{Rgb, RgbImage};

use super::font::{self, GLYPH_HEIGHT};
use super::legend::Legend;
use super::raster::blit;
use super::scale::ColorScale;
use super::HeatmapError;

/// Margin colour.
pub(super) const BACKGROUND: Rgb<u8> = Rgb([255, 255, 255]);
/// Text colour: near-black reads as crisp without the harshness of pure black.
pub(super) const INK: Rgb<u8> = Rgb([34, 34, 34]);

/// Long titles wrap, but never push the image further down than this.
const MAX_TITLE_LINES: usize = 3;
/// Blank font pixels between title lines.
const LINE_GAP: u32 = 2;

/// Sizes derived from the image, in canvas pixels.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct Metrics {
    /// Canvas pixels per font pixel.
    pub text_scale: u32,
    /// Margin around and between the parts.
    pub padding: u32,
}

impl Metrics {
    /// Text grows with the square root of the image's shorter side: 1x up to
    /// about 110 px, 2x around 224 px, 6x at 2000 px.
    pub fn for_image(width: u32, height: u32) -> Self {
        let shorter = f64::from(width.min(height));
        Self::with_text_scale(((shorter.sqrt() / 7.0).round() as u32).max(1))
    }

    pub fn with_text_scale(text_scale: u32) -> Self {
        Self { text_scale, padding: 4 * text_scale }
    }
}

/// Puts `painted` on a white canvas with the title above and the legend to
/// the right. Without either, `painted` is returned unchanged.
pub(super) fn compose(
    painted: RgbImage,
    scale: ColorScale,
    title: Option<&str>,
    show_legend: bool,
) -> Result<RgbImage, HeatmapError> {
    let title = title.map(str::trim).filter(|title| !title.is_empty());
    if title.is_none() && !show_legend {
        return Ok(painted);
    }
    let metrics = Metrics::for_image(painted.width(), painted.height());
    let (text_scale, pad) = (metrics.text_scale, metrics.padding);
    let legend = show_legend.then(|| Legend::new(scale, metrics));

    let legend_width = legend.as_ref().map_or(0, |legend| pad + legend.width());
    let content_height = painted.height().max(legend.as_ref().map_or(0, Legend::min_height));
    let width = checked_sum(&[pad, painted.width(), legend_width, pad])?;

    let title_lines = title.map_or_else(Vec::new, |title| {
        let columns = font::characters_within(width - 2 * pad, text_scale);
        wrap_words(title, columns, MAX_TITLE_LINES)
    });
    let line_height = (GLYPH_HEIGHT + LINE_GAP) * text_scale;
    let title_height = match title_lines.len() as u32 {
        0 => 0,
        lines => lines * line_height - LINE_GAP * text_scale + pad,
    };
    let content_top = pad + title_height;
    let height = checked_sum(&[content_top, content_height, pad])?;
    if u128::from(width) * u128::from(height) * 3 > usize::MAX as u128 {
        return Err(HeatmapError::OutputTooLarge);
    }

    let mut canvas = RgbImage::from_pixel(width, height, BACKGROUND);
    for (index, line) in title_lines.iter().enumerate() {
        let y = pad + index as u32 * line_height;
        font::draw_text(&mut canvas, pad.into(), y.into(), line, text_scale, INK);
    }
    let image_top = content_top + (content_height - painted.height()) / 2;
    blit(&mut canvas, &painted, pad.into(), image_top.into());
    if let Some(legend) = legend {
        let x = 2 * pad + painted.width();
        legend.draw(&mut canvas, x.into(), content_top.into(), content_height);
    }
    Ok(canvas)
}

fn checked_sum(parts: &[u32]) -> Result<u32, HeatmapError> {
    parts.iter().try_fold(0_u32, |total, &part| total.checked_add(part)).ok_or(HeatmapError::OutputTooLarge)
}

/// Greedy word wrap to `columns` characters per line. Words longer than a
/// line are split; text beyond `max_lines` is cut and marked with an ellipsis.
fn wrap_words(text: &str, columns: usize, max_lines: usize) -> Vec<String> {
    let mut lines: Vec<Vec<char>> = Vec::new();
    let mut current: Vec<char> = Vec::new();
    for word in text.split_whitespace() {
        let word: Vec<char> = word.chars().collect();
        for piece in word.chunks(columns) {
            if current.is_empty() {
                current.extend(piece);
            } else if current.len() + 1 + piece.len() <= columns {
                current.push(' ');
                current.extend(piece);
            } else {
                lines.push(std::mem::replace(&mut current, piece.to_vec()));
            }
        }
    }
    if !current.is_empty() {
        lines.push(current);
    }
    if lines.len() > max_lines {
        lines.truncate(max_lines);
        if let Some(last) = lines.last_mut() {
            last.truncate(columns - 1);
            while last.last() == Some(&' ') {
                last.pop();
            }
            last.push('\u{2026}');
        }
    }
    lines.into_iter().map(String::from_iter).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::heatmap::Colormap;

    fn scale() -> ColorScale {
        ColorScale { min: 0.0, max: 1.0, colormap: Colormap::Inferno }
    }

    #[test]
    fn text_scale_follows_image_size() {
        assert_eq!(Metrics::for_image(32, 32).text_scale, 1);
        assert_eq!(Metrics::for_image(300, 200).text_scale, 2);
        assert_eq!(Metrics::for_image(2000, 2000).text_scale, 6);
        assert_eq!(Metrics::for_image(5000, 1).text_scale, 1);
    }

    #[test]
    fn words_wrap_split_and_truncate() {
        assert_eq!(wrap_words("a red circle", 20, 3), ["a red circle"]);
        assert_eq!(wrap_words("a red  circle", 6, 3), ["a red", "circle"]);
        assert_eq!(wrap_words("abcdefgh", 3, 5), ["abc", "def", "gh"]);
        assert_eq!(wrap_words("one two three four", 5, 2), ["one", "two\u{2026}"]);
        assert_eq!(wrap_words("xy", 1, 1), ["\u{2026}"]);
        assert!(wrap_words("   ", 4, 2).is_empty());
    }

    #[test]
    fn without_legend_or_title_the_image_passes_through() {
        let painted = RgbImage::from_pixel(5, 4, Rgb([1, 2, 3]));
        let out = compose(painted.clone(), scale(), Some("  "), false).unwrap();
        assert_eq!(out, painted);
    }

    #[test]
    fn legend_widens_and_title_heightens_the_canvas() {
        let painted = RgbImage::new(300, 200);
        let with_legend = compose(painted.clone(), scale(), None, true).unwrap();
        assert!(with_legend.width() > 300 + 16);
        assert_eq!(with_legend.height(), 200 + 2 * 8);
        let with_title = compose(painted, scale(), Some("title"), true).unwrap();
        assert_eq!(with_title.width(), with_legend.width());
        assert!(with_title.height() > with_legend.height());
    }

    #[test]
    fn tiny_images_get_room_for_the_legend() {
        let painted = RgbImage::from_pixel(8, 8, Rgb([0, 0, 0]));
        let long_title = "chefer \u{b7} 'a red circle' \u{b7} p=0.93 and much more text";
        let out = compose(painted, scale(), Some(long_title), true).unwrap();
        assert!(out.height() >= 38);
        assert!(out.width() < 100, "{}", out.width());
    }
}
