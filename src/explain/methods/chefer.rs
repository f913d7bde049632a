//! Chefer et al.'s gradient-weighted relevance propagation for generic attention models (2021,
//! <https://arxiv.org/abs/2103.15679>): R ← R + mean_h(ReLU(∂s/∂A ⊙ A))·R, read at the explained
//! row of each stack.

use super::{backward, maps_from_rows, Maps};
use crate::backend::TensorStore;
use crate::error::{Error, Result};
use crate::explain::device_relevance::{chefer_relevance, chefer_relevance_from};
use crate::explain::subject::Subject;
use crate::explain::timings::Timings;

pub(super) async fn chefer<S: Subject>(subject: &S, pass: &S::Pass, timings: &Timings) -> Result<Maps> {
    let grads = backward(subject, pass, timings).await?;
    chefer_rows(subject, pass, &grads, timings).await
}

async fn chefer_rows<S: Subject>(subject: &S, pass: &S::Pass, grads: &S::Grads, timings: &Timings) -> Result<Maps> {
    let stacks = subject.stacks(pass, Some(grads))?;
    let mut rows = Vec::with_capacity(stacks.len());
    for stack in &stacks {
        let gradients =
            stack.grads.as_ref().ok_or_else(|| Error::Internal("an attention stack without its gradients".into()))?;
        rows.push(chefer_relevance(subject.backend(), timings, &stack.probs, gradients, stack.row).await?);
    }
    maps_from_rows(&stacks, &rows)
}

/// Chefer's row continued into the vision tower under a decoder (LVLM-Interpret's "all"): the
/// decoder's relevance of each image token is put on the vision token that made it, then
/// v ← v + v·mean_h(ReLU(∂s/∂A ⊙ A)) through the tower's layers that feed the features, from the
/// last of them down. Patch scores are v at the patches; text scores are the decoder's.
pub(super) async fn chefer_vision<S: Subject>(subject: &S, pass: &S::Pass, timings: &Timings) -> Result<Maps> {
    let grads = backward(subject, pass, timings).await?;
    let decoder = chefer_rows(subject, pass, &grads, timings).await?;
    let continuation = subject.vision_continuation(pass, &grads).ok_or_else(|| {
        Error::InvalidOption(
            "chefer_vision explains a generated token through its vision tower; use chefer here".into(),
        )
    })?;
    let stacks = subject.stacks(pass, Some(&grads))?;
    let stack = stacks
        .iter()
        .find(|stack| !stack.patch_positions.is_empty())
        .ok_or_else(|| Error::Internal("no attention stack holds the image".into()))?;
    let gradients =
        stack.grads.as_ref().ok_or_else(|| Error::Internal("an attention stack without its gradients".into()))?;
    let row = chefer_relevance(subject.backend(), timings, &stack.probs, gradients, stack.row).await?;
    let first = continuation.probs.first().ok_or_else(|| Error::Internal("a vision tower without layers".into()))?;
    let vision_tokens = *subject.backend().dims(first).last().unwrap_or(&0);
    let mut start = vec![0f32; vision_tokens];
    for &(position, token) in &continuation.sources {
        start[token] = row[position];
    }
    let vision_row =
        chefer_relevance_from(subject.backend(), timings, &continuation.probs, &continuation.grads, start).await?;
    Ok(Maps {
        patch_scores: vision_row[continuation.patch_tokens].to_vec(),
        pixel_scores: None,
        text_scores: decoder.text_scores,
    })
}
