//! The tables of rotary position embeddings (RoPE) as transformers' Llama applies them: head
//! channel i < d/2 is paired with channel i + d/2 ("rotate half") and the pair of token position p
//! is turned by the angle p · fᵢ. The tables hold cos(p · fᵢ) and sin(p · fᵢ), times an attention
//! factor, computed on the host in f64 and rounded once to f32. The frequencies are an input, so
//! the `rope_scaling` variants (linear, dynamic, YaRN, Llama 3, ...) are a different list of
//! frequencies and factor computed from the config, not a different op.
//! <https://arxiv.org/abs/2104.09864>

use super::TensorStore;
use crate::error::{Error, Result};
use crate::loader::HostTensor;

/// cos and sin, each (P, d/2) for positions 0..P and head dimension d, where `T` is a tensor of a
/// backend (or a `HostTensor` before upload).
#[derive(Clone, Debug)]
pub struct RotaryTables<T> {
    pub(crate) cos: T,
    pub(crate) sin: T,
    head_dim: usize,
    positions: usize,
}

impl RotaryTables<HostTensor> {
    /// Llama's default frequencies fᵢ = 1 / θ^(2i/d) for i < d/2, θ = `rope_theta`.
    pub fn default_frequencies(head_dim: usize, theta: f64) -> Result<Vec<f64>> {
        if head_dim == 0 || !head_dim.is_multiple_of(2) || !(theta.is_finite() && theta > 0.0) {
            return Err(Error::Config(format!(
                "rotary embeddings need an even head dimension and a positive rope_theta, got {head_dim} and {theta}"
            )));
        }
        Ok((0..head_dim / 2).map(|i| 1.0 / theta.powf((2 * i) as f64 / head_dim as f64)).collect())
    }

    /// The tables for positions 0..`positions` of one frequency per channel pair (d/2 of them),
    /// with cos and sin multiplied by `attention_factor` (1 unless a `rope_scaling` variant says
    /// otherwise).
    pub fn new(frequencies: &[f64], positions: usize, attention_factor: f64) -> Result<Self> {
        if frequencies.is_empty()
            || positions == 0
            || !frequencies.iter().chain([&attention_factor]).all(|f| f.is_finite())
        {
            return Err(Error::Config(format!(
                "rotary embeddings: {} frequencies for {positions} positions with factor {attention_factor}",
                frequencies.len()
            )));
        }
        let half = frequencies.len();
        let (mut cos, mut sin) = (Vec::with_capacity(positions * half), Vec::with_capacity(positions * half));
        for position in 0..positions {
            for frequency in frequencies {
                let angle = position as f64 * frequency;
                cos.push((angle.cos() * attention_factor) as f32);
                sin.push((angle.sin() * attention_factor) as f32);
            }
        }
        Ok(RotaryTables {
            cos: HostTensor::new(cos, vec![positions, half]),
            sin: HostTensor::new(sin, vec![positions, half]),
            head_dim: 2 * half,
            positions,
        })
    }

    /// The same tables held by `store`.
    pub fn upload<S: TensorStore>(&self, store: &S) -> Result<RotaryTables<S::Tensor>> {
        Ok(RotaryTables {
            cos: store.upload(&self.cos)?,
            sin: store.upload(&self.sin)?,
            head_dim: self.head_dim,
            positions: self.positions,
        })
    }
}

impl<T> RotaryTables<T> {
    /// d, the head dimension the tables rotate.
    pub fn head_dim(&self) -> usize {
        self.head_dim
    }

    /// P, the number of positions the tables cover.
    pub fn positions(&self) -> usize {
        self.positions
    }

    pub fn cos(&self) -> &T {
        &self.cos
    }

    pub fn sin(&self) -> &T {
        &self.sin
    }

    /// (rows B·T, tokens T) of x (B, T, H·d) rotated from position `offset`; errors unless its
    /// width is whole heads of d and the tables reach position offset + T − 1.
    pub(crate) fn geometry(&self, op: &str, x: &[usize], offset: usize) -> Result<(usize, usize)> {
        let &[batch, tokens, width] = x else {
            return Err(Error::Internal(format!("{op}: shape {x:?} is not (B, T, H·d)")));
        };
        if width == 0 || !width.is_multiple_of(self.head_dim) || offset + tokens > self.positions {
            return Err(Error::Internal(format!(
                "{op}: {x:?} at offset {offset} does not fit tables of head dimension {} for {} positions",
                self.head_dim, self.positions
            )));
        }
        Ok((batch * tokens, tokens))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_frequencies_are_llamas() {
        let f = RotaryTables::default_frequencies(8, 10_000.0).unwrap();
        let expected = [1.0, 0.1, 0.01, 0.001];
        assert!(f.iter().zip(expected).all(|(a, e)| (a - e).abs() < 1e-15), "{f:?}");
        assert!(RotaryTables::default_frequencies(7, 10_000.0).is_err());
        assert!(RotaryTables::default_frequencies(8, 0.0).is_err());
    }

    #[test]
    fn tables_hold_the_scaled_angles_of_each_position() {
        let t = RotaryTables::new(&[1.0, 0.25], 3, 2.0).unwrap();
        assert_eq!((t.head_dim(), t.positions(), t.cos.shape.as_slice()), (4, 3, &[3, 2][..]));
        // Position 2, second pair: angle 0.5.
        assert_eq!(t.cos.data[5], (0.5f64.cos() * 2.0) as f32);
        assert_eq!(t.sin.data[5], (0.5f64.sin() * 2.0) as f32);
        assert_eq!((t.cos.data[0], t.sin.data[0]), (2.0, 0.0));
        assert!(RotaryTables::new(&[], 3, 1.0).is_err());
        assert!(RotaryTables::new(&[1.0], 3, f64::NAN).is_err());
    }

    #[test]
    fn inputs_must_be_whole_heads_within_the_tables() {
        let t = RotaryTables::new(&[1.0, 0.5], 6, 1.0).unwrap();
        assert_eq!(t.geometry("rotary", &[2, 3, 8], 3).unwrap(), (6, 3));
        assert!(t.geometry("rotary", &[2, 3, 8], 4).is_err(), "position 6 is beyond the tables");
        assert!(t.geometry("rotary", &[2, 3, 6], 0).is_err(), "6 channels are not whole heads of 4");
        assert!(t.geometry("rotary", &[3, 8], 0).is_err());
    }
}
