//! The CPU's activation functions and their derivatives, element-wise over a slice. Each
//! activation has its own element function, passed to the slice loops as a function item (a
//! distinct zero-sized type), so that every loop is compiled for one formula with no branch per
//! element and the compiler can vectorize it.

use super::vector_exp::{exp, sigmoid};
use crate::backend::Activation;

/// CLIP's quick GELU, x · σ(1.702 x).
const QUICK_GELU_ALPHA: f32 = 1.702;
/// GELU's tanh approximation, ½x(1 + tanh(√(2/π)(x + 0.044715 x³))).
const SQRT_2_OVER_PI: f32 = 0.797_884_6;
const GELU_TANH_CUBIC: f32 = 0.044_715;
const INV_SQRT_2: f32 = std::f32::consts::FRAC_1_SQRT_2;

pub(super) fn apply(x: &[f32], act: Activation) -> Vec<f32> {
    match act {
        Activation::QuickGelu => map(x, quick_gelu),
        Activation::Gelu => map(x, gelu),
        Activation::GeluTanh => map(x, gelu_tanh),
        Activation::Silu => map(x, silu),
    }
}

/// (act(x), act'(x)) for every element.
pub(super) fn apply_with_derivative(x: &[f32], act: Activation) -> (Vec<f32>, Vec<f32>) {
    match act {
        Activation::QuickGelu => map_pairs(x, quick_gelu_with_derivative),
        Activation::Gelu => map_pairs(x, gelu_with_derivative),
        Activation::GeluTanh => map_pairs(x, gelu_tanh_with_derivative),
        Activation::Silu => map_pairs(x, silu_with_derivative),
    }
}

#[inline(always)]
fn map(x: &[f32], f: impl Fn(f32) -> f32) -> Vec<f32> {
    x.iter().map(|v| f(*v)).collect()
}

#[inline(always)]
fn map_pairs(x: &[f32], f: impl Fn(f32) -> (f32, f32)) -> (Vec<f32>, Vec<f32>) {
    let (mut values, mut derivatives) = (vec![0f32; x.len()], vec![0f32; x.len()]);
    for ((v, d), x) in values.iter_mut().zip(derivatives.iter_mut()).zip(x) {
        (*v, *d) = f(*x);
    }
    (values, derivatives)
}

#[inline(always)]
fn quick_gelu(x: f32) -> f32 {
    x * sigmoid(QUICK_GELU_ALPHA * x)
}

#[inline(always)]
fn silu(x: f32) -> f32 {
    x * sigmoid(x)
}

fn gelu(x: f32) -> f32 {
    0.5 * x * (1.0 + erf(x * INV_SQRT_2))
}

fn gelu_tanh(x: f32) -> f32 {
    0.5 * x * (1.0 + (SQRT_2_OVER_PI * (x + GELU_TANH_CUBIC * x * x * x)).tanh())
}

/// Each derivative shares the one transcendental its activation needs.
#[inline(always)]
fn quick_gelu_with_derivative(x: f32) -> (f32, f32) {
    let s = sigmoid(QUICK_GELU_ALPHA * x);
    (x * s, s * (1.0 + QUICK_GELU_ALPHA * x * (1.0 - s)))
}

#[inline(always)]
fn silu_with_derivative(x: f32) -> (f32, f32) {
    let s = sigmoid(x);
    (x * s, s * (1.0 + x * (1.0 - s)))
}

fn gelu_with_derivative(x: f32) -> (f32, f32) {
    let cdf = 0.5 * (1.0 + erf(x * INV_SQRT_2));
    let pdf = exp(-0.5 * x * x) * INV_SQRT_2 / std::f32::consts::PI.sqrt();
    (x * cdf, cdf + x * pdf)
}

fn gelu_tanh_with_derivative(x: f32) -> (f32, f32) {
    let t = (SQRT_2_OVER_PI * (x + GELU_TANH_CUBIC * x * x * x)).tanh();
    let d_inner = SQRT_2_OVER_PI * (1.0 + 3.0 * GELU_TANH_CUBIC * x * x);
    (0.5 * x * (1.0 + t), 0.5 * (1.0 + t) + 0.5 * x * (1.0 - t * t) * d_inner)
}

/// erf through the complementary error function of Numerical Recipes (relative error < 1.2e-7),
/// evaluated in f64: Abramowitz–Stegun 7.1.26 is too coarse for a 2e-3 parity budget after many
/// layers, and std has no erf.
fn erf(x: f32) -> f32 {
    let x = x as f64;
    let z = x.abs();
    let t = 1.0 / (1.0 + 0.5 * z);
    let poly = -z * z - 1.265_512_23
        + t * (1.000_023_68
            + t * (0.374_091_96
                + t * (0.096_784_18
                    + t * (-0.186_288_06
                        + t * (0.278_868_07
                            + t * (-1.135_203_98 + t * (1.488_515_87 + t * (-0.822_152_23 + t * 0.170_872_77))))))));
    let erfc = t * poly.exp();
    (if x >= 0.0 { 1.0 - erfc } else { erfc - 1.0 }) as f32
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Each derivative against a central difference of its own activation, in f64 so the check
    /// is not limited by f32 cancellation.
    #[test]
    fn derivatives_match_central_differences() {
        let h = 1e-3f32;
        for act in [Activation::QuickGelu, Activation::Gelu, Activation::GeluTanh, Activation::Silu] {
            let xs: Vec<f32> = (-60..=60).map(|i| i as f32 / 10.0).collect();
            let (values, derivatives) = apply_with_derivative(&xs, act);
            assert_eq!(values, apply(&xs, act), "{act:?}: values differ between the two entry points");
            let above = apply(&xs.iter().map(|x| x + h).collect::<Vec<_>>(), act);
            let below = apply(&xs.iter().map(|x| x - h).collect::<Vec<_>>(), act);
            for i in 0..xs.len() {
                let numeric = (above[i] as f64 - below[i] as f64) / (2.0 * h as f64);
                assert!(
                    (numeric - derivatives[i] as f64).abs() < 2e-3,
                    "{act:?} at {}: {numeric} vs {}",
                    xs[i],
                    derivatives[i]
                );
            }
        }
    }

    #[test]
    fn quick_gelu_matches_its_definition() {
        for x in [-8.0f32, -1.0, -0.1, 0.0, 0.3, 2.0, 9.0] {
            let reference = x as f64 / (1.0 + (-1.702 * x as f64).exp());
            assert!((quick_gelu(x) as f64 - reference).abs() <= 1e-6 * reference.abs().max(1e-3));
        }
    }
}
