//! Forward-only attention methods: raw attention and rollout (Abnar & Zuidema 2020,
//! <https://arxiv.org/abs/2005.00928>).

use super::{maps_from_rows, Maps};
use crate::error::{Error, Result};
use crate::explain::device_relevance::{attention_relevance, rollout_relevance};
use crate::explain::subject::{AttentionReadout, Subject};
use crate::explain::timings::Timings;
use crate::explain::MethodOptions;

/// The explained row of the attention probabilities averaged over heads: of the last layer, or
/// averaged over the layers too, as the stack reads out.
pub(super) async fn raw_attention<S: Subject>(subject: &S, pass: &S::Pass, timings: &Timings) -> Result<Maps> {
    let backend = subject.backend();
    let stacks = subject.stacks(pass, None)?;
    let mut rows = Vec::with_capacity(stacks.len());
    for stack in &stacks {
        let last = *stack.probs.last().ok_or_else(|| Error::Internal("an attention stack without layers".into()))?;
        let row = match stack.readout {
            AttentionReadout::LastLayer => attention_relevance(backend, timings, last, stack.row).await?,
            AttentionReadout::MeanOverLayers => {
                let mut sum: Vec<f64> = Vec::new();
                for layer in &stack.probs {
                    let row = attention_relevance(backend, timings, layer, stack.row).await?;
                    sum.resize(row.len(), 0.0);
                    sum.iter_mut().zip(row).for_each(|(s, v)| *s += f64::from(v));
                }
                let layers = stack.probs.len() as f64;
                sum.into_iter().map(|s| (s / layers) as f32).collect()
            }
        };
        rows.push(row);
    }
    maps_from_rows(&stacks, &rows)
}

/// The explained row of Â_L⋯Â_1 for each stack.
pub(super) async fn rollout<S: Subject>(
    subject: &S,
    pass: &S::Pass,
    options: &MethodOptions,
    timings: &Timings,
) -> Result<Maps> {
    let stacks = subject.stacks(pass, None)?;
    let mut rows = Vec::with_capacity(stacks.len());
    for stack in &stacks {
        let (fusion, discard) = (options.head_fusion, options.discard_ratio);
        rows.push(rollout_relevance(subject.backend(), timings, &stack.probs, stack.row, fusion, discard).await?);
    }
    maps_from_rows(&stacks, &rows)
}
