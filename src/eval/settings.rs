//! What a benchmark run covers, with defaults sized for the tiny default model.

use super::scenes::{Prompts, MIN_EVAL_SEED};
use crate::error::{Error, Result};
use crate::explain::{Method, MethodOptions};

/// What a benchmark run covers.
#[derive(Clone, Debug, PartialEq)]
pub struct EvalSettings {
    /// Multi-object scenes, and as many two-object scenes for text dependence.
    pub scenes: usize,
    /// Dataset seed, at least [`MIN_EVAL_SEED`].
    pub seed: u64,
    pub methods: Vec<Method>,
    /// Integrated-gradients steps and SmoothGrad samples; other options keep their defaults.
    pub steps: usize,
    /// Scene side in pixels; the model's input size when `None`.
    pub scene_size: Option<u32>,
    pub prompts: Prompts,
}

/// Fewer steps than the explain default, which keep 100 scenes × 9 methods within minutes while
/// leaving integrated gradients and SmoothGrad far from degenerate.
pub const DEFAULT_STEPS: usize = 16;
pub const DEFAULT_SCENES: usize = 100;

impl Default for EvalSettings {
    fn default() -> Self {
        EvalSettings {
            scenes: DEFAULT_SCENES,
            seed: MIN_EVAL_SEED,
            methods: Method::CLIP.to_vec(),
            steps: DEFAULT_STEPS,
            scene_size: None,
            prompts: Prompts::default(),
        }
    }
}

impl EvalSettings {
    pub fn method_options(&self) -> MethodOptions {
        MethodOptions { steps: self.steps, ..MethodOptions::default() }
    }

    pub fn validate(&self) -> Result<()> {
        if self.scenes == 0 {
            return Err(Error::InvalidOption("the benchmark needs at least one scene".into()));
        }
        if self.methods.is_empty() {
            return Err(Error::InvalidOption("no method to evaluate: name at least one".into()));
        }
        if let Some((i, method)) = self.methods.iter().enumerate().find(|(i, m)| self.methods[..*i].contains(m)) {
            return Err(Error::InvalidOption(format!(
                "method `{method}` is listed twice (first at {})",
                self.methods.iter().position(|m| m == method).unwrap_or(i)
            )));
        }
        self.method_options().validate()
    }
}
