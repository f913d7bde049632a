//! The option objects the wasm API receives from the page, as plain serde structs: they compile
//! natively too, so the fuzz targets and tests deserialize them from JSON exactly as the worker's
//! objects are deserialized (src/wasm.rs converts the JS value with serde-wasm-bindgen).

use crate::error::Error;
use crate::explain::{
    ContrastToken, GenerateRequest, HeadFusion, ImageInput, Method, MethodOptions, Request, DEFAULT_MAX_TOKENS,
};
use crate::generate::SamplingOptions;
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
        let options = method_options(self.steps, self.seed, self.head_fusion.as_deref(), self.discard_ratio)?;
        Ok((self.method.parse()?, options))
    }
}

/// The given options over `MethodOptions::default()`, checked.
fn method_options(
    steps: Option<usize>,
    seed: Option<u64>,
    head_fusion: Option<&str>,
    discard_ratio: Option<f32>,
) -> Result<MethodOptions, Error> {
    let defaults = MethodOptions::default();
    let options = MethodOptions {
        steps: steps.unwrap_or(defaults.steps),
        seed: seed.unwrap_or(defaults.seed),
        head_fusion: head_fusion.map(str::parse::<HeadFusion>).transpose()?.unwrap_or(defaults.head_fusion),
        discard_ratio: discard_ratio.unwrap_or(defaults.discard_ratio),
    };
    options.validate()?;
    Ok(options)
}

/// What the page asks a generative model for (`sightline generate`'s options); field names follow
/// JS conventions. Without `answer` the model answers `prompt`; with it, that answer (token ids)
/// is explained as given. `seed` seeds both sampling and SmoothGrad's noise, as on the CLI.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct GenerateOptions {
    pub prompt: String,
    pub max_tokens: Option<usize>,
    /// Explain the answer with this method; none only generates.
    pub method: Option<String>,
    pub steps: Option<usize>,
    pub seed: Option<u64>,
    pub head_fusion: Option<String>,
    pub discard_ratio: Option<f32>,
    /// Explain only this answer token (counting from 0).
    pub token: Option<usize>,
    /// "Why this token rather than that": the other token as text (one token of the vocabulary)…
    pub contrast: Option<String>,
    /// …or by its id (one of a step's candidates).
    pub contrast_id: Option<u32>,
    pub answer: Option<Vec<u32>>,
    pub temperature: Option<f32>,
    pub top_k: Option<usize>,
    pub top_p: Option<f32>,
}

impl GenerateOptions {
    /// The generation (and explanation) of `image` these options ask for.
    pub fn request<'a>(&'a self, image: &'a [u8]) -> Result<GenerateRequest<'a>, Error> {
        let options = method_options(self.steps, self.seed, self.head_fusion.as_deref(), self.discard_ratio)?;
        let contrast = match (&self.contrast, self.contrast_id) {
            (Some(_), Some(_)) => {
                return Err(Error::InvalidOption("give the contrast as text or as a token id, not both".into()))
            }
            (Some(text), None) => Some(ContrastToken::Text(text)),
            (None, Some(id)) => Some(ContrastToken::Id(id)),
            (None, None) => None,
        };
        if self.temperature.is_none() && (self.top_k.is_some() || self.top_p.is_some()) {
            return Err(Error::InvalidOption("top-k and top-p shape sampling: give a temperature too".into()));
        }
        Ok(GenerateRequest {
            image: ImageInput::Encoded(image),
            prompt: &self.prompt,
            max_tokens: self.max_tokens.unwrap_or(DEFAULT_MAX_TOKENS),
            sampling: SamplingOptions {
                temperature: self.temperature,
                top_k: self.top_k,
                top_p: self.top_p,
                seed: options.seed,
            },
            method: self.method.as_deref().map(str::parse).transpose()?,
            options,
            token: self.token,
            contrast,
            answer: self.answer.as_deref(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn options(json: &str) -> Result<GenerateOptions, String> {
        serde_json::from_str(json).map_err(|e| e.to_string())
    }

    #[test]
    fn generate_options_become_the_clis_request() {
        let given = options(
            r#"{"prompt": "What colour?", "maxTokens": 8, "method": "chefer", "token": 2, "contrastId": 17,
                "answer": [5, 6, 7], "seed": 3}"#,
        )
        .unwrap();
        let request = given.request(b"png").unwrap();
        assert_eq!((request.prompt, request.max_tokens, request.token), ("What colour?", 8, Some(2)));
        assert_eq!(request.method, Some(Method::Chefer));
        assert_eq!(request.contrast, Some(ContrastToken::Id(17)));
        assert_eq!(request.answer, Some(&[5, 6, 7][..]));
        assert_eq!((request.sampling.seed, request.options.seed, request.sampling.temperature), (3, 3, None));
        let plain = options(r#"{"prompt": "Why?"}"#).unwrap();
        let request = plain.request(b"png").unwrap();
        assert_eq!((request.max_tokens, request.method, request.contrast), (DEFAULT_MAX_TOKENS, None, None));
    }

    #[test]
    fn bad_generate_options_are_refused_with_their_name() {
        assert!(options(r#"{"prompt": "x", "tokens": 3}"#).unwrap_err().contains("unknown field `tokens`"));
        assert!(options(r#"{"maxTokens": 3}"#).unwrap_err().contains("missing field `prompt`"));
        let refused = |json: &str| options(json).unwrap().request(b"").err().expect("refused").to_string();
        assert!(refused(r#"{"prompt": "x", "contrast": "a", "contrastId": 1}"#).contains("not both"));
        assert!(refused(r#"{"prompt": "x", "method": "magic"}"#).contains("magic"));
        assert!(refused(r#"{"prompt": "x", "topK": 3}"#).contains("give a temperature"));
        assert!(refused(r#"{"prompt": "x", "steps": 0}"#).contains("steps"));
    }
}
