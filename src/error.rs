//! One error type for the whole engine. Every message names the thing that is wrong (a file, a tensor,
//! an option) so that a user can act on it; nothing in the engine panics on user input.

use thiserror::Error;

#[derive(Debug, Error)]
pub enum Error {
    #[error("model config: {0}")]
    Config(String),
    #[error("unsupported architecture: {0}")]
    UnsupportedArchitecture(String),
    #[error("weights: {0}")]
    Weights(String),
    #[error("GGUF file: {0}")]
    Gguf(String),
    #[error("missing tensor `{0}` in the weights file")]
    MissingTensor(String),
    #[error("tensor `{name}` has shape {actual:?}, expected {expected:?}")]
    TensorShape { name: String, actual: Vec<usize>, expected: Vec<usize> },
    #[error("tokenizer: {0}")]
    Tokenizer(String),
    #[error("image: {0}")]
    Image(String),
    #[error("text: {0}")]
    Text(String),
    /// A checkpoint's chat template failed to parse or render, or hit a limit.
    #[error("chat template: {0}")]
    ChatTemplate(String),
    #[error("invalid option: {0}")]
    InvalidOption(String),
    #[error("{path}: {message}")]
    Io { path: String, message: String },
    /// The GPU device failed under the work: lost, out of memory, or none could be opened. The
    /// only error an explanation may recover from by running again on the CPU.
    #[error("GPU device: {0}")]
    Device(String),
    /// A shape or logic error inside the engine: a bug, never the input's fault, and never hidden
    /// by a fallback.
    #[error("internal error (a bug in Sightline): {0}")]
    Internal(String),
    /// A result could not be written as JSON.
    #[error("writing JSON: {0}")]
    Json(String),
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

/// candle runs the CPU backend's tensor bookkeeping; its errors there are shape mismatches.
impl From<candle_core::Error> for Error {
    fn from(e: candle_core::Error) -> Self {
        Error::Internal(e.to_string())
    }
}

/// A value written as indented JSON for output (an explanation, a report).
pub fn pretty_json<T: serde::Serialize>(value: &T) -> Result<String> {
    serde_json::to_string_pretty(value).map_err(|e| Error::Json(e.to_string()))
}

impl Error {
    pub fn io(path: impl std::fmt::Display, err: impl std::fmt::Display) -> Self {
        Error::Io { path: path.to_string(), message: err.to_string() }
    }
}

impl From<crate::scene::SceneError> for Error {
    fn from(e: crate::scene::SceneError) -> Self {
        Error::InvalidOption(e.to_string())
    }
}

impl From<crate::heatmap::HeatmapError> for Error {
    fn from(e: crate::heatmap::HeatmapError) -> Self {
        Error::InvalidOption(format!("heatmap: {e}"))
    }
}
