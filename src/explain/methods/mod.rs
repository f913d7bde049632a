//! The explanation methods, written once against [`Subject`](super::subject::Subject): one file
//! per family. Each method returns its [`Maps`]; the explainer of a model family wraps them with
//! the family's scores into an `Explanation`.

mod attention;
mod batched;
mod chefer;
mod gradcam;
mod gradients;
mod token_activation;

pub(crate) use batched::{batch_ranges, stack_inputs};

use super::subject::{AttentionStack, Subject};
use super::timings::Timings;
use super::{Method, MethodOptions};
use crate::error::{Error, Result};
use crate::model::Recording;

/// What a method computes for one explained score.
pub struct Maps {
    /// One value per patch, row-major over the patch grid, raw (not normalized).
    pub patch_scores: Vec<f32>,
    /// One value per input pixel, for the methods that define them.
    pub pixel_scores: Option<Vec<f32>>,
    /// One value per text token, for the methods that read the text.
    pub text_scores: Option<Vec<f32>>,
}

impl Method {
    /// What the explained input's forward pass must keep for this method.
    pub fn recording(self) -> Recording {
        match self {
            Method::Attention | Method::Rollout => Recording::Attention,
            Method::Gradient | Method::GradXInput | Method::Chefer | Method::CheferVision | Method::Gradcam => {
                Recording::Backward
            }
            Method::TokenActivation => Recording::Nothing,
            Method::IntegratedGradients | Method::Smoothgrad | Method::Occlusion => Recording::Nothing,
        }
    }
}

/// Runs `method` on `subject`, whose explained input went forward as `pass` with the method's
/// recording.
pub(super) async fn run<S: Subject>(
    subject: &S,
    pass: &S::Pass,
    method: Method,
    options: &MethodOptions,
    timings: &Timings,
    progress: &dyn Fn(usize, usize),
) -> Result<Maps> {
    match method {
        Method::Attention => attention::raw_attention(subject, pass, timings).await,
        Method::Rollout => attention::rollout(subject, pass, options, timings).await,
        Method::Chefer => chefer::chefer(subject, pass, timings).await,
        Method::Gradient => gradients::gradient(subject, pass, timings).await,
        Method::GradXInput => gradients::grad_x_input(subject, pass, timings).await,
        Method::Gradcam => gradcam::gradcam(subject, pass, timings).await,
        Method::IntegratedGradients => batched::integrated_gradients(subject, options, timings, progress).await,
        Method::Smoothgrad => batched::smoothgrad(subject, options, timings, progress).await,
        Method::Occlusion => batched::occlusion(subject, pass, timings, progress).await,
        Method::CheferVision => chefer::chefer_vision(subject, pass, timings).await,
        Method::TokenActivation => token_activation::token_activation(subject, pass, timings).await,
    }
}

/// The backward pass of a gradient method, charged to the `backward` phase.
async fn backward<S: Subject>(subject: &S, pass: &S::Pass, timings: &Timings) -> Result<S::Grads> {
    let grads = subject.backward(pass, timings).await?;
    timings.lap_after_device(subject.backend(), "backward").await?;
    Ok(grads)
}

/// The maps of a relevance method that gives one row per stack (each over that stack's tokens):
/// the patch scores from the stack that holds the image, the text scores from the one that holds
/// the text (a decoder holds both).
fn maps_from_rows<T>(stacks: &[AttentionStack<T>], rows: &[Vec<f32>]) -> Result<Maps> {
    let mut patch_scores = None;
    let mut text_scores = None;
    for (stack, row) in stacks.iter().zip(rows) {
        if !stack.patch_positions.is_empty() {
            patch_scores = Some(row[stack.patch_positions.clone()].to_vec());
        }
        if !stack.text_positions.is_empty() {
            text_scores = Some(stack.text_positions.iter().map(|&t| row[t]).collect());
        }
    }
    let patch_scores = patch_scores.ok_or_else(|| Error::Internal("no attention stack holds the image".into()))?;
    Ok(Maps { patch_scores, pixel_scores: None, text_scores })
}
