//! Choosing the next token from its logits: greedy (the highest logit, the first of equal ones,
//! as `torch.argmax` picks), or sampled from the softmax after transformers' order of warpers —
//! temperature, then top-k, then top-p (the smallest set of most likely tokens whose probability
//! reaches p, always at least one) — with a seeded generator so that a seed gives one answer.

use crate::error::{Error, Result};
use crate::explain::noise::SplitMix64;

#[derive(Clone, Copy, Debug, PartialEq)]
pub struct SamplingOptions {
    /// None: greedy.
    pub temperature: Option<f32>,
    pub top_k: Option<usize>,
    pub top_p: Option<f32>,
    pub seed: u64,
}

impl Default for SamplingOptions {
    fn default() -> Self {
        SamplingOptions { temperature: None, top_k: None, top_p: None, seed: 0 }
    }
}

impl SamplingOptions {
    pub fn validate(&self) -> Result<()> {
        if let Some(t) = self.temperature {
            if !(t.is_finite() && t > 0.0) {
                return Err(Error::InvalidOption(format!("temperature must be positive, got {t}")));
            }
        }
        if self.top_k == Some(0) {
            return Err(Error::InvalidOption("top-k must be at least 1".into()));
        }
        if let Some(p) = self.top_p {
            if !(p > 0.0 && p <= 1.0) {
                return Err(Error::InvalidOption(format!("top-p must be in (0, 1], got {p}")));
            }
        }
        if self.temperature.is_none() && (self.top_k.is_some() || self.top_p.is_some()) {
            return Err(Error::InvalidOption("top-k and top-p sample: give a temperature too".into()));
        }
        Ok(())
    }
}

/// Picks tokens one step after another.
pub struct Sampler {
    options: SamplingOptions,
    rng: SplitMix64,
}

impl Sampler {
    pub fn new(options: SamplingOptions) -> Result<Self> {
        options.validate()?;
        Ok(Sampler { options, rng: SplitMix64::new(options.seed) })
    }

    /// The next token for `logits` (one per vocabulary entry).
    pub fn pick(&mut self, logits: &[f32]) -> Result<u32> {
        if logits.is_empty() || logits.iter().any(|l| l.is_nan()) {
            return Err(Error::Internal(format!("logits to sample from: {} values, NaN among them", logits.len())));
        }
        let Some(temperature) = self.options.temperature else {
            return Ok(argmax(logits));
        };
        let mut candidates: Vec<(u32, f64)> =
            logits.iter().enumerate().map(|(id, &l)| (id as u32, l as f64 / temperature as f64)).collect();
        candidates.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
        if let Some(k) = self.options.top_k {
            candidates.truncate(k.min(candidates.len()));
        }
        let max = candidates[0].1;
        let mut weights: Vec<f64> = candidates.iter().map(|(_, l)| (l - max).exp()).collect();
        let total: f64 = weights.iter().sum();
        weights.iter_mut().for_each(|w| *w /= total);
        if let Some(p) = self.options.top_p {
            let mut cumulative = 0.0;
            let keep = weights
                .iter()
                .position(|w| {
                    cumulative += w;
                    cumulative >= p as f64
                })
                .map_or(weights.len(), |last| last + 1);
            weights.truncate(keep);
        }
        let total: f64 = weights.iter().sum();
        let mut draw = self.uniform() * total;
        for (index, weight) in weights.iter().enumerate() {
            if draw < *weight {
                return Ok(candidates[index].0);
            }
            draw -= weight;
        }
        Ok(candidates[weights.len() - 1].0)
    }

    /// A uniform draw in [0, 1) from the top 53 bits.
    fn uniform(&mut self) -> f64 {
        (self.rng.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// The index of the largest value, the first of equal ones.
pub fn argmax(values: &[f32]) -> u32 {
    let mut best = 0;
    for (index, value) in values.iter().enumerate() {
        if *value > values[best] {
            best = index;
        }
    }
    best as u32
}

/// softmax(logits)[id], in f64.
pub fn probability(logits: &[f32], id: u32) -> f32 {
    let max = logits.iter().copied().fold(f32::NEG_INFINITY, f32::max) as f64;
    let total: f64 = logits.iter().map(|&l| (l as f64 - max).exp()).sum();
    ((logits[id as usize] as f64 - max).exp() / total) as f32
}

/// The `count` most likely tokens with their probabilities, most likely first.
pub fn top_candidates(logits: &[f32], count: usize) -> Vec<(u32, f32)> {
    let mut ids: Vec<u32> = (0..logits.len() as u32).collect();
    ids.sort_by(|a, b| logits[*b as usize].total_cmp(&logits[*a as usize]).then(a.cmp(b)));
    ids.truncate(count);
    ids.into_iter().map(|id| (id, probability(logits, id))).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn greedy_takes_the_first_of_the_largest() {
        let mut sampler = Sampler::new(SamplingOptions::default()).unwrap();
        assert_eq!(sampler.pick(&[0.1, 3.0, 3.0, -1.0]).unwrap(), 1);
        assert!(sampler.pick(&[0.1, f32::NAN]).is_err());
    }

    #[test]
    fn sampling_follows_the_probabilities_and_the_seed() {
        let logits = [0.0f32, (3.0f32).ln(), f32::NEG_INFINITY];
        let options = SamplingOptions { temperature: Some(1.0), seed: 7, ..SamplingOptions::default() };
        let mut sampler = Sampler::new(options).unwrap();
        let picks: Vec<u32> = (0..4000).map(|_| sampler.pick(&logits).unwrap()).collect();
        let ones = picks.iter().filter(|&&p| p == 1).count() as f64 / picks.len() as f64;
        assert!((ones - 0.75).abs() < 0.03, "token 1 drawn {ones} of the time, expected 0.75");
        assert!(!picks.contains(&2), "a token of probability 0 is never drawn");
        let mut again = Sampler::new(options).unwrap();
        assert_eq!(picks[..50], (0..50).map(|_| again.pick(&logits).unwrap()).collect::<Vec<_>>()[..]);
    }

    #[test]
    fn top_k_and_top_p_cut_the_tail() {
        let logits = [4.0f32, 3.0, 2.0, 1.0];
        let top_k = SamplingOptions { temperature: Some(1.0), top_k: Some(1), seed: 1, ..SamplingOptions::default() };
        let mut sampler = Sampler::new(top_k).unwrap();
        assert!((0..100).all(|_| sampler.pick(&logits).unwrap() == 0));
        // p(0) ≈ 0.64, p(1) ≈ 0.24: top-p 0.8 keeps two tokens.
        let top_p = SamplingOptions { temperature: Some(1.0), top_p: Some(0.8), seed: 2, ..SamplingOptions::default() };
        let mut sampler = Sampler::new(top_p).unwrap();
        let picks: Vec<u32> = (0..500).map(|_| sampler.pick(&logits).unwrap()).collect();
        assert!(picks.iter().all(|&p| p < 2) && picks.contains(&1));
    }

    #[test]
    fn bad_options_are_refused() {
        let bad = |o: SamplingOptions| Sampler::new(o).is_err();
        assert!(bad(SamplingOptions { temperature: Some(0.0), ..SamplingOptions::default() }));
        assert!(bad(SamplingOptions { temperature: Some(1.0), top_k: Some(0), ..SamplingOptions::default() }));
        assert!(bad(SamplingOptions { temperature: Some(1.0), top_p: Some(1.5), ..SamplingOptions::default() }));
        assert!(bad(SamplingOptions { top_k: Some(3), ..SamplingOptions::default() }));
    }
}
