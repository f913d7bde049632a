//! Sightline: explain what a vision-language model looks at. The engine behind the CLI and the
//! browser app: model loading, preprocessing, forward and backward passes on a backend, and the
//! explanation methods. See ARCHITECTURE.md.

pub mod api_options;
pub mod backend;
pub mod bench;
pub mod catalog;
pub mod config;
pub mod default_model;
pub mod error;
pub mod eval;
pub mod explain;
#[cfg(not(target_arch = "wasm32"))]
#[doc(hidden)]
pub mod fuzzing;
pub mod generate;
pub mod heatmap;
pub mod loader;
pub mod memory;
pub mod model;
pub mod preprocess;
pub mod quantize;
pub mod render;
pub mod scene;
#[cfg(target_arch = "wasm32")]
pub mod wasm;
#[cfg(target_arch = "wasm32")]
pub mod wasm_generative;

pub use error::{Error, Result};
