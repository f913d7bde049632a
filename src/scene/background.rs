//! Scene backgrounds: faintly tinted grey, plain or with luminance noise.

use serde::{Deserialize, Serialize};

use super::rng::SplitMix64;
use super::spec::BackgroundSpec;

/// The background drawn behind a scene's objects.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Background {
    /// Base colour before noise.
    pub rgb: [u8; 3],
    /// Per-pixel noise amplitude; 0 means a plain background.
    pub noise_amplitude: u8,
}

impl Background {
    pub(super) fn draw(rng: &mut SplitMix64, spec: &BackgroundSpec) -> Self {
        let level = rng.in_range(spec.min_level.into(), spec.max_level.into()) as i32;
        let mut rgb = [0; 3];
        for channel in &mut rgb {
            *channel = clamp_to_byte(level + rng.symmetric(spec.max_tint));
        }
        let noise_amplitude = if spec.max_noise_amplitude > 0 && rng.chance(spec.noisy_probability) {
            rng.in_range(1, spec.max_noise_amplitude.into()) as u8
        } else {
            0
        };
        Self { rgb, noise_amplitude }
    }

    /// Fills interleaved RGB `pixels`. Noise shifts all three channels of a
    /// pixel equally: chroma noise could push a pixel towards an object colour.
    pub(super) fn paint(&self, rng: &mut SplitMix64, pixels: &mut [u8]) {
        for pixel in pixels.chunks_exact_mut(3) {
            let shift = if self.noise_amplitude == 0 { 0 } else { rng.symmetric(self.noise_amplitude) };
            for (channel, &base) in pixel.iter_mut().zip(&self.rgb) {
                *channel = clamp_to_byte(i32::from(base) + shift);
            }
        }
    }
}

fn clamp_to_byte(value: i32) -> u8 {
    value.clamp(0, 255) as u8
}
