//! The colour bar that tells a reader which colour means which score.
//!
//! A vertical bar runs from the maximum (top) to the minimum (bottom), with
//! a tick and a label at each end and at zero for signed maps.

use image::{Rgb, RgbImage};

use super::font::{self, CAP_HEIGHT};
use super::layout::{Metrics, BACKGROUND, INK};
use super::raster::fill_rect;
use super::scale::ColorScale;

const FRAME: Rgb<u8> = Rgb([96, 96, 96]);

/// Vertical distance between neighbouring label centres, in font pixels,
/// below which the labels would crowd each other.
const LABEL_PITCH: u32 = CAP_HEIGHT + 4;
/// Shortest bar, in font pixels, that still shows its gradient clearly.
const MIN_BAR_HEIGHT: u32 = 30;

/// A laid-out legend: labels are formatted up front so the canvas can be
/// sized before anything is drawn.
#[derive(Clone, Debug)]
pub(super) struct Legend {
    scale: ColorScale,
    labels: Vec<(f32, String)>,
    text_scale: u32,
    bar_width: u32,
    tick_length: u32,
    label_gap: u32,
    line: u32,
}

impl Legend {
    pub fn new(scale: ColorScale, metrics: Metrics) -> Self {
        let mut values = vec![scale.max];
        if scale.is_signed() {
            values.push(0.0);
        }
        values.push(scale.min);
        let s = metrics.text_scale;
        Self {
            scale,
            labels: values.into_iter().map(|v| (v, format_value(v))).collect(),
            text_scale: s,
            bar_width: 8 * s,
            tick_length: 2 * s,
            label_gap: 2 * s,
            line: s.div_ceil(2),
        }
    }

    pub fn width(&self) -> u32 {
        let widest = self.labels.iter().map(|(_, text)| font::text_width(text, self.text_scale)).max().unwrap_or(0);
        self.bar_width + self.tick_length + self.label_gap + widest
    }

    /// The least height that keeps the bar readable and the labels apart.
    pub fn min_height(&self) -> u32 {
        let s = self.text_scale;
        let label_span = (self.labels.len() as u32 - 1) * LABEL_PITCH;
        2 * self.end_inset() + s * label_span.max(MIN_BAR_HEIGHT)
    }

    /// Draws the legend into the column at `x`, spanning `height` from `y`.
    pub fn draw(&self, canvas: &mut RgbImage, x: i64, y: i64, height: u32) {
        let inset = self.end_inset();
        let bar_top = y + i64::from(inset);
        let bar_height = height.saturating_sub(2 * inset).max(2);
        self.draw_bar(canvas, x, bar_top, bar_height);

        let tick_x = x + i64::from(self.bar_width);
        let text_x = tick_x + i64::from(self.tick_length + self.label_gap);
        let half_cap = i64::from(CAP_HEIGHT * self.text_scale / 2);
        for (index, (value, text)) in self.labels.iter().enumerate() {
            let tick_y = bar_top + self.offset_of(index, *value, bar_height);
            fill_rect(canvas, tick_x, tick_y, self.tick_length, self.line, FRAME);
            let centre = tick_y + i64::from(self.line / 2);
            font::draw_text(canvas, text_x, centre - half_cap, text, self.text_scale, INK);
        }
    }

    /// Room above and below the bar for half a label.
    fn end_inset(&self) -> u32 {
        (CAP_HEIGHT * self.text_scale).div_ceil(2)
    }

    /// An all-zero map paints nothing, so its bar is left hollow to match.
    fn draw_bar(&self, canvas: &mut RgbImage, x: i64, top: i64, height: u32) {
        let frame = self.line;
        fill_rect(canvas, x, top, self.bar_width, height, FRAME);
        let inner_height = height.saturating_sub(2 * frame);
        let inner_width = self.bar_width.saturating_sub(2 * frame);
        if self.scale.is_degenerate() {
            let inner_y = top + i64::from(frame);
            fill_rect(canvas, x + i64::from(frame), inner_y, inner_width, inner_height, BACKGROUND);
            return;
        }
        let last_row = inner_height.saturating_sub(1).max(1) as f32;
        for row in 0..inner_height {
            let fraction = 1.0 - row as f32 / last_row;
            let value = self.scale.min + (self.scale.max - self.scale.min) * fraction;
            let colour = self.scale.colour(value);
            let inner_y = top + i64::from(frame + row);
            fill_rect(canvas, x + i64::from(frame), inner_y, inner_width, 1, colour);
        }
    }

    /// Distance from the bar top to the tick of label `index`, which shows
    /// `value`. A degenerate 0..0 range spreads its labels evenly instead.
    fn offset_of(&self, index: usize, value: f32, bar_height: u32) -> i64 {
        let travel = f64::from(bar_height.saturating_sub(self.line));
        let fraction = if self.scale.is_degenerate() {
            index as f64 / (self.labels.len() - 1) as f64
        } else {
            let (min, max) = (f64::from(self.scale.min), f64::from(self.scale.max));
            (max - f64::from(value)) / (max - min)
        };
        (fraction * travel).round() as i64
    }
}

/// Formats a score for a label with about three significant digits,
/// switching to scientific notation for very small or large magnitudes.
pub(super) fn format_value(value: f32) -> String {
    if value == 0.0 {
        return "0".to_owned();
    }
    let magnitude = value.abs();
    if (1e-3..1e5).contains(&magnitude) {
        let decimals = (2 - magnitude.log10().floor() as i32).max(0) as usize;
        trim_fraction(&format!("{value:.decimals$}")).to_owned()
    } else {
        let formatted = format!("{value:.1e}");
        match formatted.split_once('e') {
            Some((mantissa, exponent)) => format!("{}e{exponent}", trim_fraction(mantissa)),
            None => formatted,
        }
    }
}

fn trim_fraction(number: &str) -> &str {
    if number.contains('.') {
        number.trim_end_matches('0').trim_end_matches('.')
    } else {
        number
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::heatmap::Colormap;

    #[test]
    fn values_format_compactly() {
        let cases = [
            (0.0, "0"),
            (-0.0, "0"),
            (0.93, "0.93"),
            (1.0, "1"),
            (-0.5, "-0.5"),
            (12.345, "12.3"),
            (999.7, "1000"),
            (0.012345, "0.0123"),
            (0.0001234, "1.2e-4"),
            (-2.0e-7, "-2e-7"),
            (123456.0, "1.2e5"),
        ];
        for (value, expected) in cases {
            assert_eq!(format_value(value), expected, "{value}");
        }
    }

    fn legend_for(min: f32, max: f32, text_scale: u32) -> Legend {
        let colormap = if min < 0.0 { Colormap::Coolwarm } else { Colormap::Viridis };
        let scale = ColorScale { min, max, colormap };
        Legend::new(scale, Metrics::with_text_scale(text_scale))
    }

    #[test]
    fn signed_legends_label_zero() {
        let texts: Vec<String> = legend_for(-2.0, 2.0, 1).labels.into_iter().map(|l| l.1).collect();
        assert_eq!(texts, ["2", "0", "-2"]);
        let texts: Vec<String> = legend_for(0.0, 0.0, 1).labels.into_iter().map(|l| l.1).collect();
        assert_eq!(texts, ["0", "0"]);
    }

    #[test]
    fn bar_shows_max_at_top_and_min_at_bottom() {
        let legend = legend_for(0.0, 1.0, 2);
        let height = legend.min_height();
        let mut canvas = RgbImage::from_pixel(legend.width(), height, Rgb([255, 255, 255]));
        legend.draw(&mut canvas, 0, 0, height);
        let centre_x = legend.bar_width / 2;
        let inset = legend.end_inset() + legend.line;
        let top = *canvas.get_pixel(centre_x, inset);
        let bottom = *canvas.get_pixel(centre_x, height - 1 - inset);
        assert_eq!(top, Colormap::Viridis.sample(1.0));
        assert_eq!(bottom, Colormap::Viridis.sample(0.0));
    }

    #[test]
    fn all_zero_bar_is_hollow() {
        let legend = legend_for(0.0, 0.0, 1);
        let height = legend.min_height();
        let mut canvas = RgbImage::new(legend.width(), height);
        legend.draw(&mut canvas, 0, 0, height);
        assert_eq!(canvas.get_pixel(legend.bar_width / 2, height / 2), &BACKGROUND);
    }

    #[test]
    fn labels_never_overlap_at_minimum_height() {
        for (min, max, text_scale) in [(-1.0, 1.0, 1), (-1.0, 1.0, 2), (-1.0, 1.0, 7), (0.0, 0.0, 1)] {
            let legend = legend_for(min, max, text_scale);
            let bar_height = legend.min_height() - 2 * legend.end_inset();
            let offsets: Vec<i64> = legend
                .labels
                .iter()
                .enumerate()
                .map(|(index, (value, _))| legend.offset_of(index, *value, bar_height))
                .collect();
            let cap = i64::from(CAP_HEIGHT * text_scale);
            assert!(offsets.windows(2).all(|pair| pair[1] - pair[0] > cap));
        }
    }
}
