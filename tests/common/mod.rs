//! Helpers shared by the integration tests: fixture paths and tolerant comparisons.
#![allow(dead_code)]

use std::path::{Path, PathBuf};

pub fn fixture(path: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures").join(path)
}

pub fn read_json(path: &Path) -> serde_json::Value {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

pub fn floats(value: &serde_json::Value) -> Vec<f32> {
    value.as_array().expect("an array of numbers").iter().map(|v| v.as_f64().expect("a number") as f32).collect()
}

/// Asserts |actual − expected| ≤ tolerance · max|expected| element-wise, naming the worst element.
pub fn assert_close(what: &str, actual: &[f32], expected: &[f32], tolerance: f32) {
    assert_eq!(actual.len(), expected.len(), "{what}: length {} vs expected {}", actual.len(), expected.len());
    let scale = expected.iter().fold(0f32, |m, v| m.max(v.abs())).max(f32::MIN_POSITIVE);
    let (worst, error) = actual
        .iter()
        .zip(expected)
        .map(|(a, e)| (a - e).abs())
        .enumerate()
        .fold((0, 0f32), |best, (i, e)| if e > best.1 { (i, e) } else { best });
    assert!(
        error <= tolerance * scale,
        "{what}: element {worst} is {} but expected {} (error {error:.3e} > {tolerance} × max|expected| {scale:.3e})",
        actual[worst],
        expected[worst]
    );
}
