//! Rotary position embedding parameters as transformers reads them from a decoder's config —
//! `rope_theta` beside `rope_scaling` (transformers 4) or `rope_parameters` (transformers 5) — and
//! the inverse frequencies and attention factor they give, which is all the backend's
//! `RotaryTables` needs: every scaling variant is a different list of frequencies, not a different op.
//! Formulas: transformers' `modeling_rope_utils.py` (linear: kaiokendev; dynamic NTK: bloc97 and
//! emozilla; YaRN: <https://arxiv.org/abs/2309.00071>; Llama 3.1's frequency bands).

use crate::error::{Error, Result};
use serde::Deserialize;
use std::f64::consts::PI;

/// transformers' `RotaryEmbeddingConfigMixin.default_theta`.
const DEFAULT_THETA: f64 = 10_000.0;
/// YaRN's defaults for the rotation counts that bound the interpolated band.
const YARN_BETA_FAST: f64 = 32.0;
const YARN_BETA_SLOW: f64 = 1.0;

#[derive(Clone, Debug, PartialEq)]
pub enum RopeScaling {
    /// fᵢ = 1 / θ^(2i/d).
    Default,
    /// Positions divided by `factor` (every frequency divided by it).
    Linear { factor: f64 },
    /// NTK-aware scaling of θ once a sequence outgrows `max_position_embeddings`; within it the
    /// frequencies are the default ones.
    Dynamic { factor: f64 },
    /// Llama 3.1: low frequencies divided by `factor`, high ones kept, a smooth band between.
    Llama3 { factor: f64, low_freq_factor: f64, high_freq_factor: f64, original_max_position_embeddings: f64 },
    /// YaRN: interpolated and extrapolated frequencies blended by a linear ramp over the
    /// dimensions, with an attention factor on cos and sin.
    Yarn {
        factor: f64,
        original_max_position_embeddings: f64,
        attention_factor: Option<f64>,
        beta_fast: f64,
        beta_slow: f64,
        mscale: Option<f64>,
        mscale_all_dim: Option<f64>,
        truncate: bool,
    },
}

#[derive(Clone, Debug, PartialEq)]
pub struct RopeConfig {
    pub theta: f64,
    pub scaling: RopeScaling,
}

/// What `RotaryTables::new` takes: one frequency per channel pair (head_dim / 2 of them) and the
/// factor on cos and sin.
#[derive(Clone, Debug, PartialEq)]
pub struct RopeFrequencies {
    pub inverse_frequencies: Vec<f64>,
    pub attention_factor: f64,
}

/// The union of the keys transformers reads from a rope dict (unknown keys only warn there).
#[derive(Deserialize, Default)]
struct RawRope {
    rope_type: Option<String>,
    #[serde(rename = "type")]
    legacy_type: Option<String>,
    rope_theta: Option<f64>,
    factor: Option<f64>,
    partial_rotary_factor: Option<f64>,
    original_max_position_embeddings: Option<f64>,
    low_freq_factor: Option<f64>,
    high_freq_factor: Option<f64>,
    attention_factor: Option<f64>,
    beta_fast: Option<f64>,
    beta_slow: Option<f64>,
    mscale: Option<f64>,
    mscale_all_dim: Option<f64>,
    truncate: Option<bool>,
}

impl RopeConfig {
    /// Reads the rope fields of a decoder's config object as transformers' `convert_rope_params_to_dict`
    /// does: `rope_scaling` (if set) else `rope_parameters`; a `rope_theta` inside it wins over the
    /// top-level one, which defaults to 10000. `prefix` names the object in errors.
    pub(crate) fn from_config_object(
        object: &serde_json::Map<String, serde_json::Value>,
        max_position_embeddings: usize,
        prefix: &str,
    ) -> Result<Self> {
        let bad = |message: String| Error::Config(format!("{prefix}: {message}"));
        let non_empty =
            |key: &str| object.get(key).filter(|v| !v.is_null() && v.as_object().is_none_or(|o| !o.is_empty()));
        let (source, parameters) = match (non_empty("rope_scaling"), non_empty("rope_parameters")) {
            (Some(v), _) => ("rope_scaling", Some(v)),
            (None, Some(v)) => ("rope_parameters", Some(v)),
            (None, None) => ("rope_parameters", None),
        };
        let raw: RawRope = match parameters {
            None => RawRope::default(),
            Some(value) => {
                if value.as_object().is_some_and(|o| o.values().any(|v| v.is_object())) {
                    return Err(bad(format!("{source} given per layer type is not supported")));
                }
                serde_json::from_value(value.clone()).map_err(|e| bad(format!("{source}: {e}")))?
            }
        };
        let top_theta = match object.get("rope_theta") {
            None | Some(serde_json::Value::Null) => None,
            Some(v) => Some(v.as_f64().ok_or_else(|| bad(format!("rope_theta {v} is not a number")))?),
        };
        let theta = raw.rope_theta.or(top_theta).unwrap_or(DEFAULT_THETA);
        if !(theta.is_finite() && theta > 1.0) {
            return Err(bad(format!("rope_theta must be a number above 1, got {theta}")));
        }
        if let Some(partial) = raw.partial_rotary_factor.filter(|p| *p != 1.0) {
            return Err(bad(format!("partial_rotary_factor {partial} is not supported (Llama rotates whole heads)")));
        }
        let kind = raw.rope_type.clone().or(raw.legacy_type.clone()).unwrap_or_else(|| "default".into());
        let factor = |name: &str| -> Result<f64> {
            let value = raw.factor.ok_or_else(|| bad(format!("{source} of type `{name}` needs a `factor`")))?;
            at_least_one("factor", value).map_err(bad)
        };
        let original = raw.original_max_position_embeddings.unwrap_or(max_position_embeddings as f64);
        let scaling = match kind.as_str() {
            "default" => RopeScaling::Default,
            "linear" => RopeScaling::Linear { factor: factor("linear")? },
            "dynamic" => RopeScaling::Dynamic { factor: factor("dynamic")? },
            "llama3" => {
                let required = |name: &str, value: Option<f64>| {
                    value.ok_or_else(|| bad(format!("{source} of type `llama3` needs `{name}`")))
                };
                let low_freq_factor = required("low_freq_factor", raw.low_freq_factor)?;
                let high_freq_factor = required("high_freq_factor", raw.high_freq_factor)?;
                if !(low_freq_factor > 0.0 && high_freq_factor > low_freq_factor && high_freq_factor.is_finite()) {
                    return Err(bad(format!(
                        "llama3 rope needs 0 < low_freq_factor < high_freq_factor, got {low_freq_factor} and \
                         {high_freq_factor}"
                    )));
                }
                RopeScaling::Llama3 {
                    factor: factor("llama3")?,
                    low_freq_factor,
                    high_freq_factor,
                    original_max_position_embeddings: positive("original_max_position_embeddings", original)
                        .map_err(bad)?,
                }
            }
            "yarn" => {
                let original = positive("original_max_position_embeddings", original).map_err(bad)?;
                // DeepSeek-style configs leave `factor` out and mean the context's growth.
                let factor = match raw.factor {
                    Some(f) => f,
                    None => max_position_embeddings as f64 / original,
                };
                RopeScaling::Yarn {
                    factor: at_least_one("factor", factor).map_err(bad)?,
                    original_max_position_embeddings: original,
                    attention_factor: raw.attention_factor,
                    // transformers reads these with `or`, so 0 also means the default.
                    beta_fast: raw.beta_fast.filter(|b| *b != 0.0).unwrap_or(YARN_BETA_FAST),
                    beta_slow: raw.beta_slow.filter(|b| *b != 0.0).unwrap_or(YARN_BETA_SLOW),
                    mscale: raw.mscale,
                    mscale_all_dim: raw.mscale_all_dim,
                    truncate: raw.truncate.unwrap_or(true),
                }
            }
            other => {
                return Err(bad(format!(
                    "rope type `{other}` is not supported (supported: default, linear, dynamic, llama3, yarn)"
                )))
            }
        };
        Ok(RopeConfig { theta, scaling })
    }

    /// Llama's default rotary embeddings with base `theta`.
    pub fn plain(theta: f64) -> Self {
        RopeConfig { theta, scaling: RopeScaling::Default }
    }

    /// The frequencies for heads of `head_dim` channels, for sequences up to the model's
    /// `max_position_embeddings` (the only lengths Sightline runs; for `dynamic`, longer ones
    /// would change θ). Each frequency is rounded to f32, as transformers keeps them in a float32
    /// buffer.
    pub fn frequencies(&self, head_dim: usize) -> Result<RopeFrequencies> {
        if head_dim < 2 || !head_dim.is_multiple_of(2) {
            return Err(Error::Config(format!("rotary embeddings need an even head dimension, got {head_dim}")));
        }
        let dim = head_dim as f64;
        let default: Vec<f64> = (0..head_dim / 2).map(|i| 1.0 / self.theta.powf((2 * i) as f64 / dim)).collect();
        let (frequencies, attention_factor) = match &self.scaling {
            RopeScaling::Default | RopeScaling::Dynamic { .. } => (default, 1.0),
            RopeScaling::Linear { factor } => (default.iter().map(|f| f / factor).collect(), 1.0),
            RopeScaling::Llama3 { factor, low_freq_factor, high_freq_factor, original_max_position_embeddings } => {
                let low_freq_wavelength = original_max_position_embeddings / low_freq_factor;
                let high_freq_wavelength = original_max_position_embeddings / high_freq_factor;
                let scaled = default.iter().map(|&f| {
                    let wavelength = 2.0 * PI / f;
                    if wavelength < high_freq_wavelength {
                        f
                    } else if wavelength > low_freq_wavelength {
                        f / factor
                    } else {
                        let smooth = (original_max_position_embeddings / wavelength - low_freq_factor)
                            / (high_freq_factor - low_freq_factor);
                        (1.0 - smooth) * f / factor + smooth * f
                    }
                });
                (scaled.collect(), 1.0)
            }
            RopeScaling::Yarn {
                factor,
                original_max_position_embeddings,
                attention_factor,
                beta_fast,
                beta_slow,
                mscale,
                mscale_all_dim,
                truncate,
            } => {
                let attention_factor = attention_factor.unwrap_or_else(|| match (mscale, mscale_all_dim) {
                    (Some(m), Some(all)) if *m != 0.0 && *all != 0.0 => {
                        yarn_mscale(*factor, *m) / yarn_mscale(*factor, *all)
                    }
                    _ => yarn_mscale(*factor, 1.0),
                });
                // The dimension at which a frequency turns `rotations` times over the original context.
                let correction_dim = |rotations: f64| {
                    dim * (original_max_position_embeddings / (rotations * 2.0 * PI)).ln() / (2.0 * self.theta.ln())
                };
                let (mut low, mut high) = (correction_dim(*beta_fast), correction_dim(*beta_slow));
                if *truncate {
                    (low, high) = (low.floor(), high.ceil());
                }
                let (low, mut high) = (low.max(0.0), high.min(dim - 1.0));
                if low == high {
                    high += 0.001;
                }
                let blended = default.iter().enumerate().map(|(i, &f)| {
                    let ramp = ((i as f64 - low) / (high - low)).clamp(0.0, 1.0);
                    let extrapolation = 1.0 - ramp;
                    f / factor * (1.0 - extrapolation) + f * extrapolation
                });
                (blended.collect(), attention_factor)
            }
        };
        Ok(RopeFrequencies {
            inverse_frequencies: frequencies.into_iter().map(|f| f as f32 as f64).collect(),
            attention_factor,
        })
    }
}

/// YaRN's `0.1 · mscale · ln(scale) + 1` (1 for no scaling).
fn yarn_mscale(scale: f64, mscale: f64) -> f64 {
    if scale <= 1.0 {
        1.0
    } else {
        0.1 * mscale * scale.ln() + 1.0
    }
}

fn at_least_one(name: &str, value: f64) -> Result<f64, String> {
    if value.is_finite() && value >= 1.0 {
        Ok(value)
    } else {
        Err(format!("rope {name} must be at least 1, got {value}"))
    }
}

fn positive(name: &str, value: f64) -> Result<f64, String> {
    if value.is_finite() && value > 0.0 {
        Ok(value)
    } else {
        Err(format!("rope {name} must be positive, got {value}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn rope(config: serde_json::Value) -> Result<RopeConfig> {
        RopeConfig::from_config_object(config.as_object().unwrap(), 2048, "text_config")
    }

    #[test]
    fn theta_comes_from_rope_parameters_then_the_top_level_then_the_default() {
        assert_eq!(rope(json!({})).unwrap(), RopeConfig::plain(10_000.0));
        assert_eq!(rope(json!({"rope_theta": 5e5})).unwrap(), RopeConfig::plain(5e5));
        let both = rope(json!({"rope_theta": 5e5, "rope_parameters": {"rope_type": "default", "rope_theta": 100.0}}));
        assert_eq!(both.unwrap(), RopeConfig::plain(100.0));
        // transformers 4's `rope_scaling` (with the old `type` key) wins over `rope_parameters`.
        let legacy = rope(json!({"rope_theta": 1e4, "rope_scaling": {"type": "linear", "factor": 2.0},
                                 "rope_parameters": {"rope_type": "default"}}));
        assert_eq!(legacy.unwrap().scaling, RopeScaling::Linear { factor: 2.0 });
        assert_eq!(rope(json!({"rope_scaling": null, "rope_theta": 7.0})).unwrap(), RopeConfig::plain(7.0));
    }

    #[test]
    fn default_frequencies_are_llamas_rounded_to_f32() {
        let f = RopeConfig::plain(10_000.0).frequencies(8).unwrap();
        let expected = [1.0, 0.1, 0.01, 0.001].map(|v: f64| v as f32 as f64);
        assert_eq!(f.inverse_frequencies, expected);
        assert_eq!(f.attention_factor, 1.0);
        assert!(RopeConfig::plain(1e4).frequencies(7).unwrap_err().to_string().contains("even head dimension"));
    }

    #[test]
    fn linear_divides_and_dynamic_keeps_the_frequencies_within_the_context() {
        let base = RopeConfig::plain(1e4).frequencies(8).unwrap().inverse_frequencies;
        let linear = rope(json!({"rope_scaling": {"type": "linear", "factor": 4.0}})).unwrap().frequencies(8).unwrap();
        for (l, b) in linear.inverse_frequencies.iter().zip(&base) {
            assert!((l - b / 4.0).abs() <= 1e-7 * b, "{l} vs {b}");
        }
        let dynamic = rope(json!({"rope_parameters": {"rope_type": "dynamic", "factor": 2.0}})).unwrap();
        assert_eq!(dynamic.frequencies(8).unwrap().inverse_frequencies, base);
    }

    #[test]
    fn llama3_keeps_high_frequencies_divides_low_ones_and_blends_between() {
        let config = rope(json!({"rope_theta": 500000.0, "rope_parameters": {"rope_type": "llama3", "factor": 8.0,
            "low_freq_factor": 1.0, "high_freq_factor": 4.0, "original_max_position_embeddings": 8192}}))
        .unwrap();
        let scaled = config.frequencies(128).unwrap().inverse_frequencies;
        let base = RopeConfig::plain(500000.0).frequencies(128).unwrap().inverse_frequencies;
        assert_eq!(scaled[0], base[0], "wavelength 2π < 2048 is kept");
        let last = base.len() - 1;
        assert!((scaled[last] - base[last] / 8.0).abs() <= 1e-7 * base[last], "the longest wavelength is divided");
        let between = (0..base.len()).find(|&i| 2.0 * PI / base[i] > 2048.0 && 2.0 * PI / base[i] < 8192.0).unwrap();
        assert!(scaled[between] < base[between] && scaled[between] > base[between] / 8.0);
    }

    #[test]
    fn yarn_ramps_between_extrapolation_and_interpolation_with_its_attention_factor() {
        let config = rope(json!({"rope_parameters": {"rope_type": "yarn", "factor": 4.0,
            "original_max_position_embeddings": 512}}))
        .unwrap();
        let f = config.frequencies(64).unwrap();
        assert!((f.attention_factor - (0.1 * 4f64.ln() + 1.0)).abs() < 1e-15);
        let base = RopeConfig::plain(1e4).frequencies(64).unwrap().inverse_frequencies;
        assert_eq!(f.inverse_frequencies[0], base[0]);
        let last = base.len() - 1;
        assert!((f.inverse_frequencies[last] - base[last] / 4.0).abs() <= 1e-7 * base[last]);
        let given = rope(json!({"rope_parameters": {"rope_type": "yarn", "factor": 4.0, "attention_factor": 0.5,
            "original_max_position_embeddings": 512}}));
        assert_eq!(given.unwrap().frequencies(64).unwrap().attention_factor, 0.5);
    }

    #[test]
    fn bad_rope_fields_are_clear_errors() {
        let error = |config: serde_json::Value| rope(config).unwrap_err().to_string();
        let unknown = error(json!({"rope_parameters": {"rope_type": "longrope", "factor": 2.0}}));
        assert!(unknown.contains("`longrope` is not supported") && unknown.contains("llama3"), "{unknown}");
        assert!(error(json!({"rope_scaling": {"type": "linear"}})).contains("needs a `factor`"));
        assert!(error(json!({"rope_scaling": {"type": "linear", "factor": 0.5}})).contains("at least 1"));
        assert!(error(json!({"rope_parameters": {"rope_type": "llama3", "factor": 8.0}})).contains("low_freq_factor"));
        assert!(error(json!({"rope_theta": 0.5})).contains("rope_theta must be a number above 1"));
        assert!(error(json!({"rope_theta": "big"})).contains("not a number"));
        assert!(error(json!({"rope_parameters": {"rope_type": "default", "partial_rotary_factor": 0.5}}))
            .contains("partial_rotary_factor"));
        assert!(error(json!({"rope_parameters": {"full_attention": {"rope_type": "default"}}})).contains("per layer"));
        assert!(error(json!({"rope_parameters": {"rope_type": 3}})).contains("rope_parameters"));
    }
}
