//! Chefer et al.'s gradient-weighted relevance propagation for generic attention models (2021,
//! <https://arxiv.org/abs/2103.15679>): R ← R + mean_h(ReLU(∂s/∂A ⊙ A))·R, read at the explained
//! row of each stack.

use super::{backward, maps_from_rows, Maps};
use crate::error::{Error, Result};
use crate::explain::device_relevance::chefer_relevance;
use crate::explain::subject::Subject;
use crate::explain::timings::Timings;

pub(super) async fn chefer<S: Subject>(subject: &S, pass: &S::Pass, timings: &Timings) -> Result<Maps> {
    let grads = backward(subject, pass, timings).await?;
    let stacks = subject.stacks(pass, Some(&grads))?;
    let mut rows = Vec::with_capacity(stacks.len());
    for stack in &stacks {
        let gradients =
            stack.grads.as_ref().ok_or_else(|| Error::Internal("an attention stack without its gradients".into()))?;
        rows.push(chefer_relevance(subject.backend(), timings, &stack.probs, gradients, stack.row).await?);
    }
    maps_from_rows(&stacks, &rows)
}
