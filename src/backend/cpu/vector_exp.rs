//! An `exp` that the compiler vectorizes. `f32::exp` is a call into libm, so every loop that
//! uses it (softmax, quick GELU and their backward passes) runs one value at a time; this one is
//! branch-free arithmetic on bit patterns and becomes SSE, AVX or wasm SIMD code inside those
//! loops. It is the classic Cephes `expf` reduction: e^x = 2^n · e^r with n = round(x / ln 2) and
//! |r| ≤ ln 2 / 2, e^r from a degree-7 polynomial, 2^n assembled directly in the exponent bits.
//! Its error is within 2 ulp of `f32::exp` on the whole clamped range (tested below).

/// ln 2 in two parts, so that n · ln 2 is subtracted without rounding away r's low bits.
const LN2_HIGH: f32 = 0.693_359_4;
const LN2_LOW: f32 = -2.121_944_4e-4;
/// Adding 1.5 · 2²³ rounds a float below 2²² to an integer, which then sits in the low mantissa
/// bits: round-to-nearest and float-to-int in one vectorizable addition.
const ROUNDING_SHIFT: f32 = 12_582_912.0;
/// Inputs are clamped so that 2^n stays a normal float: e^x for x above the top overflows f32
/// anyway, and below the bottom it is under 1.3e-38, which no softmax or sigmoid can tell from 0.
const LOWEST_INPUT: f32 = -87.3;
const HIGHEST_INPUT: f32 = 88.0;
/// Cephes' minimax coefficients for (e^r − 1 − r) / r² on |r| ≤ ln 2 / 2.
const POLYNOMIAL: [f32; 6] = [1.987_569_1e-4, 1.398_199_9e-3, 8.333_452e-3, 4.166_579_6e-2, 0.166_666_65, 0.5];

#[inline(always)]
pub fn exp(x: f32) -> f32 {
    let x = x.clamp(LOWEST_INPUT, HIGHEST_INPUT);
    let shifted = x * std::f32::consts::LOG2_E + ROUNDING_SHIFT;
    let n = shifted - ROUNDING_SHIFT;
    let r = x - n * LN2_HIGH - n * LN2_LOW;
    let mut p = POLYNOMIAL[0];
    for c in &POLYNOMIAL[1..] {
        p = p * r + c;
    }
    let e_r = 1.0 + r + r * r * p;
    let n_bits = shifted.to_bits().wrapping_sub(ROUNDING_SHIFT.to_bits());
    let two_to_n = f32::from_bits(n_bits.wrapping_add(127) << 23);
    e_r * two_to_n
}

/// 1 / (1 + e^−x).
#[inline(always)]
pub fn sigmoid(x: f32) -> f32 {
    1.0 / (1.0 + exp(-x))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ulps_apart(a: f32, b: f32) -> u32 {
        (a.to_bits() as i64 - b.to_bits() as i64).unsigned_abs() as u32
    }

    #[test]
    fn exp_is_within_two_ulp_of_libm_on_the_clamped_range() {
        let steps = 2_000_000;
        let mut worst = 0;
        for i in 0..=steps {
            let x = LOWEST_INPUT + (HIGHEST_INPUT - LOWEST_INPUT) * i as f32 / steps as f32;
            worst = worst.max(ulps_apart(exp(x), x.exp()));
        }
        assert!(worst <= 2, "worst error {worst} ulp");
    }

    #[test]
    fn exp_is_exact_where_softmax_and_sigmoid_live() {
        assert_eq!(exp(0.0), 1.0);
        for x in [-1e-8f32, -0.5, -1.0, -10.0, 1.0, 3.5, 20.0] {
            assert!(ulps_apart(exp(x), x.exp()) <= 2, "exp({x}) = {} vs {}", exp(x), x.exp());
        }
    }

    #[test]
    fn exp_saturates_instead_of_overflowing() {
        assert!(exp(-1000.0) < 1.3e-38 && exp(-1000.0) >= 0.0);
        assert!(exp(f32::NEG_INFINITY) < 1.3e-38);
        assert!(exp(1000.0).is_finite() && exp(1000.0) > 1e38);
        assert_eq!(sigmoid(1000.0), 1.0);
        assert!(sigmoid(-1000.0) < 1e-38);
    }

    #[test]
    fn exp_propagates_nan() {
        assert!(exp(f32::NAN).is_nan());
    }
}
