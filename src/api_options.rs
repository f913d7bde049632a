//! The option objects the wasm API receives from the page, as plain serde structs: they compile
//! natively too, so the fuzz targets and tests deserialize them from JSON exactly as the worker's
//! objects are deserialized (src/wasm.rs converts the JS value with serde-wasm-bindgen).

use crate::error::Error;
use crate::explain::{HeadFusion, ImageInput, Method, MethodOptions, Request};
use serde::Deserialize;

/// What the page asks `explain` for; field names follow JS conventions.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ExplainOptions {
    pub texts: Vec<String>,
    #[serde(default)]
    pub target: usize,
    pub method: String,
    pub steps: Option<usize>,
    pub seed: Option<u64>,
    pub head_fusion: Option<String>,
    pub discard_ratio: Option<f32>,
}

impl ExplainOptions {
    /// The explanation of `image` these options ask for.
    pub fn request<'a>(&'a self, image: &'a [u8]) -> Result<Request<'a>, Error> {
        let (method, options) = self.method_options()?;
        Ok(Request { image: ImageInput::Encoded(image), texts: &self.texts, target: self.target, method, options })
    }

    pub fn method_options(&self) -> Result<(Method, MethodOptions), Error> {
        let defaults = MethodOptions::default();
        let options = MethodOptions {
            steps: self.steps.unwrap_or(defaults.steps),
            seed: self.seed.unwrap_or(defaults.seed),
            head_fusion: match &self.head_fusion {
                Some(name) => name.parse::<HeadFusion>()?,
                None => defaults.head_fusion,
            },
            discard_ratio: self.discard_ratio.unwrap_or(defaults.discard_ratio),
        };
        options.validate()?;
        Ok((self.method.parse()?, options))
    }
}
