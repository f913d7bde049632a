//! Element-wise comparison of computed values against expected ones.

/// The absolute error every element may carry, as a fraction of the largest expected magnitude:
/// the rounding of f32 reductions over thousands of terms through twelve layers. A small element
/// computed as a sum (or difference) of terms as large as the largest one carries their rounding,
/// which its own size cannot bound: WebGPU against the CPU at ViT-B/32 size, the pixel gradient
/// (∂s/∂x summed over 768 channels) differs by 1.9e-5 of the map's largest value; occlusion's
/// s(x) − s(x') and Grad-CAM's h · w by about 5e-6.
pub const ROUNDING_FLOOR: f32 = 5e-5;

/// `Ok` when both slices have the same length, every value of both is finite, and every element
/// satisfies |actual − expected| ≤ min(tolerance · max|expected|,
/// tolerance · |expected| + ROUNDING_FLOOR · max|expected|): each element within `tolerance` of
/// itself above the rounding floor, and never more than `tolerance` of the largest magnitude (the
/// check this replaces, which let small elements be off by many times their size and let NaN
/// through). Otherwise the problem, naming the element that exceeds its bound the most.
pub fn check_close(actual: &[f32], expected: &[f32], tolerance: f32) -> Result<(), String> {
    if actual.len() != expected.len() {
        return Err(format!("length {} vs expected {}", actual.len(), expected.len()));
    }
    for (name, values) in [("actual", actual), ("expected", expected)] {
        if let Some((i, v)) = values.iter().enumerate().find(|(_, v)| !v.is_finite()) {
            return Err(format!("{name} element {i} is {v}"));
        }
    }
    let scale = expected.iter().fold(0f64, |m, v| m.max(f64::from(v.abs())));
    let floor = f64::from(ROUNDING_FLOOR) * scale;
    let tolerance = f64::from(tolerance);
    // The worst element relative to its own bound, so the message names the one that fails most.
    let worst = actual
        .iter()
        .zip(expected)
        .map(|(&a, &e)| {
            let error = (f64::from(a) - f64::from(e)).abs();
            let bound = (tolerance * f64::from(e.abs()) + floor).min(tolerance * scale);
            (error, bound)
        })
        .enumerate()
        .filter(|(_, (error, bound))| error > bound)
        .max_by(|(_, (ea, ba)), (_, (eb, bb))| (ea / ba).total_cmp(&(eb / bb)));
    match worst {
        None => Ok(()),
        Some((i, (error, bound))) => Err(format!(
            "element {i} is {} but expected {} (error {error:.3e} > bound {bound:.3e} = min({tolerance} × \
             |expected| + {ROUNDING_FLOOR} × max|expected|, {tolerance} × max|expected|), max|expected| {scale:.3e})",
            actual[i], expected[i]
        )),
    }
}

/// Panics with `what` and [`check_close`]'s message unless the values are close.
#[track_caller]
pub fn assert_close(what: &str, actual: &[f32], expected: &[f32], tolerance: f32) {
    if let Err(problem) = check_close(actual, expected, tolerance) {
        panic!("{what}: {problem}");
    }
}

/// Panics with `what` unless both slices have the same length, every value is finite, and every
/// element is within `tolerance · max|expected|` of the expected one: for errors that are known to
/// be a share of the map's scale rather than of each element (an input that differs, such as the
/// few levels by which two JPEG decoders disagree), never for parity of arithmetic.
#[track_caller]
pub fn assert_close_to_largest(what: &str, actual: &[f32], expected: &[f32], tolerance: f32) {
    assert_eq!(actual.len(), expected.len(), "{what}: lengths");
    if let Some((i, v)) = actual.iter().chain(expected).enumerate().find(|(_, v)| !v.is_finite()) {
        panic!("{what}: value {i} of actual then expected is {v}");
    }
    let scale = expected.iter().fold(0f32, |m, v| m.max(v.abs()));
    if let Some((i, (a, e))) =
        actual.iter().zip(expected).enumerate().find(|(_, (a, e))| (*a - *e).abs() > tolerance * scale)
    {
        panic!("{what}: element {i} is {a} but expected {e} (beyond {tolerance} × max|expected| = {scale:.3e})");
    }
}
