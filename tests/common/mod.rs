//! Helpers shared by the integration tests: fixture paths, element-wise comparisons and the
//! WebGPU adapter (skipped loudly, or required in CI).
#![allow(dead_code, unused_imports)] // each test binary uses a different part

pub mod compare;
pub mod vit_b32;
pub mod webgpu;

pub use compare::{assert_close, assert_close_to_largest};

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
