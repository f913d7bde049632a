//! Reproducible Gaussian noise for SmoothGrad: SplitMix64 and Box–Muller, specified exactly so that
//! any implementation (the PyTorch fixtures, a GPU kernel) draws the same samples from a seed.

pub struct SplitMix64 {
    state: u64,
}

impl SplitMix64 {
    pub fn new(seed: u64) -> Self {
        SplitMix64 { state: seed }
    }

    pub fn next_u64(&mut self) -> u64 {
        self.state = self.state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in [0, 1) with 53 random bits.
    pub fn next_f64(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
    }
}

/// SmoothGrad's noise level (Smilkov et al. 2017): 15 % of the range of the normalized input,
/// computed in f64 and rounded once, as the reference defines it (in f32 it can land an ulp off).
pub fn smoothgrad_sigma(pixels: &[f32]) -> f32 {
    let (lo, hi) = pixels.iter().fold((f32::INFINITY, f32::NEG_INFINITY), |(lo, hi), v| (lo.min(*v), hi.max(*v)));
    (0.15 * (f64::from(hi) - f64::from(lo))) as f32
}

/// `count` standard normal samples, drawn in Box–Muller pairs (cosine first, then sine).
pub fn standard_normals(seed: u64, count: usize) -> Vec<f64> {
    let mut rng = SplitMix64::new(seed);
    let mut out = Vec::with_capacity(count + 1);
    while out.len() < count {
        let u1 = rng.next_f64();
        let u2 = rng.next_f64();
        let radius = (-2.0 * (1.0 - u1).ln()).sqrt();
        let angle = 2.0 * std::f64::consts::PI * u2;
        out.push(radius * angle.cos());
        out.push(radius * angle.sin());
    }
    out.truncate(count);
    out
}
