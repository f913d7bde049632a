//! The explanation methods and the `Explanation` they produce (the JSON contract of the CLI, the
//! wasm API and the custom element).

mod device_relevance;
mod explainer;
mod fallback;
mod generative;
mod maps;
mod methods;
pub mod noise;
pub mod relevance;
mod subject;
mod subjects;
mod timings;

pub use explainer::{Explainer, ImageInput, Request, MAX_TEXTS};
pub use fallback::{explain_with_fallback, explain_with_fallback_async};
pub use generative::{
    AnswerToken, Candidate, ContrastToken, GenerateRequest, Generation, GenerativeExplainer, StreamedToken,
    DEFAULT_MAX_TOKENS, MAX_TOKENS,
};
pub use maps::Geometry;
pub use relevance::HeadFusion;

use crate::error::{Error, Result};
use crate::preprocess::ImageCropRect;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Method {
    Attention,
    Rollout,
    Gradient,
    GradXInput,
    IntegratedGradients,
    Smoothgrad,
    Gradcam,
    Chefer,
    Occlusion,
    /// Chefer's relevance continued from the decoder's image tokens through the vision tower
    /// (LVLM-Interpret's "all"): generative models only.
    CheferVision,
    /// The explained token's logit read at each image token (the base of TAM): generative
    /// models only.
    TokenActivation,
}

impl Method {
    /// What explains a CLIP score.
    pub const CLIP: [Method; 9] = [
        Method::Attention,
        Method::Rollout,
        Method::Gradient,
        Method::GradXInput,
        Method::IntegratedGradients,
        Method::Smoothgrad,
        Method::Gradcam,
        Method::Chefer,
        Method::Occlusion,
    ];

    /// What explains a generated token.
    pub const GENERATIVE: [Method; 10] = [
        Method::Attention,
        Method::Rollout,
        Method::Chefer,
        Method::CheferVision,
        Method::Gradient,
        Method::GradXInput,
        Method::IntegratedGradients,
        Method::Smoothgrad,
        Method::Occlusion,
        Method::TokenActivation,
    ];

    /// Every method of either kind of model.
    pub const ALL: [Method; 11] = [
        Method::Attention,
        Method::Rollout,
        Method::Gradient,
        Method::GradXInput,
        Method::IntegratedGradients,
        Method::Smoothgrad,
        Method::Gradcam,
        Method::Chefer,
        Method::Occlusion,
        Method::CheferVision,
        Method::TokenActivation,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Method::Attention => "attention",
            Method::Rollout => "rollout",
            Method::Gradient => "gradient",
            Method::GradXInput => "grad_x_input",
            Method::IntegratedGradients => "integrated_gradients",
            Method::Smoothgrad => "smoothgrad",
            Method::Gradcam => "gradcam",
            Method::Chefer => "chefer",
            Method::Occlusion => "occlusion",
            Method::CheferVision => "chefer_vision",
            Method::TokenActivation => "token_activation",
        }
    }

    /// Whether the method needs ∂s/∂(anything): these run a backward pass.
    pub fn uses_gradients(self) -> bool {
        !matches!(self, Method::Attention | Method::Rollout | Method::Occlusion | Method::TokenActivation)
    }
}

impl std::str::FromStr for Method {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        Method::ALL.into_iter().find(|m| m.name() == s).ok_or_else(|| {
            let known: Vec<&str> = Method::ALL.iter().map(|m| m.name()).collect();
            Error::InvalidOption(format!("unknown method `{s}` (known: {})", known.join(", ")))
        })
    }
}

impl std::fmt::Display for Method {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct MethodOptions {
    /// Integrated-gradients steps, SmoothGrad samples.
    pub steps: usize,
    /// SmoothGrad's noise seed.
    pub seed: u64,
    pub head_fusion: HeadFusion,
    pub discard_ratio: f32,
}

pub const MAX_STEPS: usize = 1024;

impl Default for MethodOptions {
    fn default() -> Self {
        MethodOptions { steps: 32, seed: 0, head_fusion: HeadFusion::Mean, discard_ratio: 0.0 }
    }
}

impl MethodOptions {
    pub fn validate(&self) -> Result<()> {
        if self.steps == 0 || self.steps > MAX_STEPS {
            return Err(Error::InvalidOption(format!("steps must be between 1 and {MAX_STEPS}, got {}", self.steps)));
        }
        if !(0.0..1.0).contains(&self.discard_ratio) {
            return Err(Error::InvalidOption(format!("discard ratio must be in [0, 1), got {}", self.discard_ratio)));
        }
        Ok(())
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ModelInfo {
    pub name: String,
    pub architecture: String,
    pub dtype: String,
}

/// One explanation: the JSON contract shared by the CLI, the wasm API and the custom element.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Explanation {
    pub method: Method,
    /// The backend that actually ran.
    pub backend: String,
    pub model: ModelInfo,
    pub options: MethodOptions,
    pub texts: Vec<String>,
    pub target: usize,
    /// logits_per_image[0, target].
    pub score: f32,
    /// logits_per_image[0, :].
    pub logits: Vec<f32>,
    /// Softmax over the texts, present with several texts.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub probs: Option<Vec<f32>>,
    /// [H, W] of the model input.
    pub input_size: [usize; 2],
    /// [rows, cols] of patches.
    pub patch_grid: [usize; 2],
    /// Where the model input lies in the original image.
    pub crop: ImageCropRect,
    /// Row-major over the patch grid, raw (not normalized).
    pub patch_scores: Vec<f32>,
    /// H·W row-major, for the methods that define them.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub pixel_scores: Option<Vec<f32>>,
    /// The target text's tokens, special tokens included.
    pub text_tokens: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub text_scores: Option<Vec<f32>>,
    pub warnings: Vec<String>,
    pub timings_ms: BTreeMap<String, f64>,
}
