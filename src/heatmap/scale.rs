//! Normalisation: turns raw scores of any sign and scale into colormap
//! positions, and remembers the range so the legend can label it.

use image::Rgb;

use super::Colormap;

/// The sequential map used when the caller does not pick one: its black low
/// end darkens unimportant regions, so the salient ones stand out.
const DEFAULT_SEQUENTIAL: Colormap = Colormap::Inferno;
const DEFAULT_DIVERGING: Colormap = Colormap::Coolwarm;

/// The value range painted by the colormap and shown by the legend.
///
/// Non-negative maps span `0..=max`; maps with any negative value span the
/// symmetric `-m..=m` so that zero always sits at the same colour.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ColorScale {
    pub min: f32,
    pub max: f32,
    pub colormap: Colormap,
}

impl ColorScale {
    /// Fits the range to finite `scores`.
    ///
    /// With `clip_percentile`, the range ends at that percentile of the
    /// magnitudes so a few outliers do not wash out everything else; scores
    /// beyond it saturate at the colormap's end.
    pub fn fit(scores: &[f32], clip_percentile: Option<f32>, colormap: Option<Colormap>) -> Self {
        let signed = scores.iter().any(|&score| score < 0.0);
        let largest = scores.iter().fold(0.0_f32, |acc, score| acc.max(score.abs()));
        let magnitude = match clip_percentile {
            // A sparse map (say one hot patch out of 196) has a zero 99th
            // percentile; falling back to the maximum keeps it visible.
            Some(percentile) => {
                Some(magnitude_percentile(scores, percentile)).filter(|&clipped| clipped > 0.0).unwrap_or(largest)
            }
            None => largest,
        };
        let colormap = colormap.unwrap_or(if signed { DEFAULT_DIVERGING } else { DEFAULT_SEQUENTIAL });
        let min = if signed { -magnitude } else { 0.0 };
        Self { min, max: magnitude, colormap }
    }

    pub fn is_signed(&self) -> bool {
        self.min < 0.0
    }

    /// True for an all-zero map, which has nothing to paint.
    pub fn is_degenerate(&self) -> bool {
        self.max <= self.min
    }

    /// Where `value` falls on the colormap, 0..=1.
    ///
    /// Diverging maps are always centred on zero, so a non-negative map drawn
    /// with one uses only its upper half. Arithmetic is in f64 so scores near
    /// `f32::MAX` cannot overflow into NaN.
    pub fn position(&self, value: f32) -> f32 {
        let value = f64::from(value);
        let (min, max) = (f64::from(self.min), f64::from(self.max));
        let position = if self.colormap.is_diverging() {
            let magnitude = max.max(-min);
            if magnitude == 0.0 {
                0.5
            } else {
                0.5 + 0.5 * value / magnitude
            }
        } else if self.is_degenerate() {
            0.0
        } else {
            (value - min) / (max - min)
        };
        position.clamp(0.0, 1.0) as f32
    }

    pub fn colour(&self, value: f32) -> Rgb<u8> {
        self.colormap.sample(self.position(value))
    }
}

/// The `percentile`-th percentile of |score|, interpolating linearly between
/// order statistics (numpy's default), for `percentile` in (0, 100].
fn magnitude_percentile(scores: &[f32], percentile: f32) -> f32 {
    let mut magnitudes: Vec<f32> = scores.iter().map(|score| score.abs()).collect();
    if magnitudes.is_empty() {
        return 0.0;
    }
    magnitudes.sort_unstable_by(f32::total_cmp);
    let rank = f64::from(percentile) / 100.0 * (magnitudes.len() - 1) as f64;
    let lower = rank.floor() as usize;
    let upper = rank.ceil().min((magnitudes.len() - 1) as f64) as usize;
    let fraction = rank - lower as f64;
    let (a, b) = (f64::from(magnitudes[lower]), f64::from(magnitudes[upper]));
    (a + (b - a) * fraction) as f32
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn non_negative_maps_span_zero_to_max() {
        let scale = ColorScale::fit(&[0.0, 0.5, 2.0, 1.0], None, None);
        assert_eq!((scale.min, scale.max), (0.0, 2.0));
        assert!(!scale.is_signed());
        assert_eq!(scale.colormap, DEFAULT_SEQUENTIAL);
        assert_eq!(scale.position(0.0), 0.0);
        assert_eq!(scale.position(1.0), 0.5);
        assert_eq!(scale.position(2.0), 1.0);
    }

    #[test]
    fn maps_that_never_reach_zero_still_start_at_zero() {
        let scale = ColorScale::fit(&[3.0, 4.0], None, None);
        assert_eq!((scale.min, scale.max), (0.0, 4.0));
    }

    #[test]
    fn signed_maps_are_symmetric_and_diverging() {
        let scale = ColorScale::fit(&[-0.5, 0.25, 1.0], None, None);
        assert_eq!((scale.min, scale.max), (-1.0, 1.0));
        assert!(scale.is_signed());
        assert!(scale.colormap.is_diverging());
        assert_eq!(scale.position(0.0), 0.5);
        assert_eq!(scale.position(-1.0), 0.0);
        assert_eq!(scale.position(1.0), 1.0);
    }

    #[test]
    fn all_zero_map_is_degenerate_without_dividing_by_zero() {
        for colormap in [None, Some(Colormap::Coolwarm), Some(Colormap::Viridis)] {
            let scale = ColorScale::fit(&[0.0; 9], None, colormap);
            assert_eq!((scale.min, scale.max), (0.0, 0.0));
            assert!(scale.is_degenerate());
            let position = scale.position(0.0);
            assert!(position.is_finite());
            let expected = if scale.colormap.is_diverging() { 0.5 } else { 0.0 };
            assert_eq!(position, expected);
        }
    }

    #[test]
    fn explicit_colormap_wins_and_diverging_maps_centre_on_zero() {
        let scale = ColorScale::fit(&[0.0, 4.0], None, Some(Colormap::Coolwarm));
        assert_eq!(scale.position(0.0), 0.5);
        assert_eq!(scale.position(4.0), 1.0);
        let scale = ColorScale::fit(&[-2.0, 2.0], None, Some(Colormap::Magma));
        assert_eq!(scale.colormap, Colormap::Magma);
        assert_eq!(scale.position(-2.0), 0.0);
        assert_eq!(scale.position(0.0), 0.5);
    }

    #[test]
    fn percentile_clip_ignores_outliers_and_saturates() {
        let mut scores: Vec<f32> = (1..=100).map(|i| i as f32 / 100.0).collect();
        scores.push(1000.0);
        let scale = ColorScale::fit(&scores, Some(99.0), None);
        assert!((scale.max - 1.0).abs() < 1e-6, "{}", scale.max);
        assert_eq!(scale.position(1000.0), 1.0);
    }

    #[test]
    fn percentile_of_signed_map_uses_magnitudes() {
        let scale = ColorScale::fit(&[-4.0, 1.0, 2.0, 3.0], Some(100.0), None);
        assert_eq!((scale.min, scale.max), (-4.0, 4.0));
    }

    #[test]
    fn sparse_map_falls_back_to_max_when_percentile_is_zero() {
        let mut scores = vec![0.0; 196];
        scores[17] = 0.8;
        let scale = ColorScale::fit(&scores, Some(99.0), None);
        assert_eq!(scale.max, 0.8);
    }

    #[test]
    fn extreme_scores_do_not_overflow() {
        let scale = ColorScale::fit(&[-f32::MAX, f32::MAX], None, Some(Colormap::Viridis));
        assert_eq!(scale.position(f32::MAX), 1.0);
        assert_eq!(scale.position(-f32::MAX), 0.0);
        assert_eq!(scale.position(0.0), 0.5);
    }
}
