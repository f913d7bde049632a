//! The one error type of the scene module.

use std::fmt;

#[derive(Debug)]
pub enum SceneError {
    /// The spec or image size cannot produce valid scenes; the text says why.
    InvalidSpec(String),
    Io(std::io::Error),
    Image(image::ImageError),
    Json(serde_json::Error),
}

impl fmt::Display for SceneError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SceneError::InvalidSpec(reason) => write!(f, "invalid scene spec: {reason}"),
            SceneError::Io(error) => write!(f, "scene dataset I/O failed: {error}"),
            SceneError::Image(error) => write!(f, "scene preview image failed: {error}"),
            SceneError::Json(error) => write!(f, "scene metadata JSON failed: {error}"),
        }
    }
}

impl std::error::Error for SceneError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            SceneError::InvalidSpec(_) => None,
            SceneError::Io(error) => Some(error),
            SceneError::Image(error) => Some(error),
            SceneError::Json(error) => Some(error),
        }
    }
}

impl From<std::io::Error> for SceneError {
    fn from(error: std::io::Error) -> Self {
        SceneError::Io(error)
    }
}

impl From<image::ImageError> for SceneError {
    fn from(error: image::ImageError) -> Self {
        SceneError::Image(error)
    }
}

impl From<serde_json::Error> for SceneError {
    fn from(error: serde_json::Error) -> Self {
        SceneError::Json(error)
    }
}
