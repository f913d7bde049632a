//! Seeded pseudo-random numbers for scene generation.
//!
//! A hand-written SplitMix64 keeps the module free of the `rand` crate and,
//! more importantly, pins the exact number sequence: a scene seed must give the
//! same bytes natively and under wasm, and across dependency upgrades.

/// SplitMix64 (Steele, Lea & Flood, 2014): tiny, fast and statistically good
/// enough for layout and noise.
#[derive(Clone, Debug)]
pub struct SplitMix64 {
    state: u64,
}

const GOLDEN_GAMMA: u64 = 0x9E37_79B9_7F4A_7C15;

impl SplitMix64 {
    pub fn new(seed: u64) -> Self {
        Self { state: seed }
    }

    pub fn next_u64(&mut self) -> u64 {
        self.state = self.state.wrapping_add(GOLDEN_GAMMA);
        let mut z = self.state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform integer in `0..bound`; `bound` must be non-zero.
    ///
    /// Multiply-shift instead of `%` avoids the worst modulo bias without a
    /// rejection loop, so every call consumes exactly one draw.
    pub fn below(&mut self, bound: u64) -> u64 {
        debug_assert!(bound > 0);
        ((u128::from(self.next_u64()) * u128::from(bound)) >> 64) as u64
    }

    /// Uniform integer in the inclusive range `low..=high`.
    pub fn in_range(&mut self, low: u32, high: u32) -> u32 {
        debug_assert!(low <= high);
        low + self.below(u64::from(high - low) + 1) as u32
    }

    /// Uniform signed integer in `-amplitude..=amplitude`.
    pub fn symmetric(&mut self, amplitude: u8) -> i32 {
        let span = 2 * u64::from(amplitude) + 1;
        self.below(span) as i32 - i32::from(amplitude)
    }

    /// True with probability `probability`.
    ///
    /// Uses the top 53 bits as an exact f64 in [0, 1); comparing IEEE doubles
    /// is bit-for-bit identical on every platform.
    pub fn chance(&mut self, probability: f64) -> bool {
        let unit = (self.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64);
        unit < probability
    }

    /// Shuffles `items` in place (Fisher–Yates).
    pub fn shuffle<T>(&mut self, items: &mut [T]) {
        for last in (1..items.len()).rev() {
            let pick = self.below(last as u64 + 1) as usize;
            items.swap(last, pick);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_reference_splitmix64_sequence() {
        // First outputs for seed 1234567 from the reference C implementation;
        // guards against accidental edits that would silently change every dataset.
        let mut rng = SplitMix64::new(1_234_567);
        assert_eq!(rng.next_u64(), 6_457_827_717_110_365_317);
        assert_eq!(rng.next_u64(), 3_203_168_211_198_807_973);
        assert_eq!(rng.next_u64(), 9_817_491_932_198_370_423);
    }

    #[test]
    fn ranges_stay_in_bounds() {
        let mut rng = SplitMix64::new(7);
        for _ in 0..10_000 {
            assert!(rng.below(5) < 5);
            let value = rng.in_range(3, 9);
            assert!((3..=9).contains(&value));
            assert!((-4..=4).contains(&rng.symmetric(4)));
        }
        assert!(!rng.chance(0.0));
        assert!(rng.chance(1.0));
    }
}
