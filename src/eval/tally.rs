//! Running means of one map source's metrics, and its time per phase.

use super::report::{MethodRow, RandomizationStage, RowKind};
use crate::error::{Error, Result};
use std::collections::BTreeMap;
use web_time::Instant;

#[derive(Default)]
pub struct Tally {
    pub pointing_game: Mean,
    pub strict_pointing_game: Mean,
    pub mass_accuracy: Mean,
    pub rank_accuracy: Mean,
    pub deletion_auc: Mean,
    pub insertion_auc: Mean,
    pub text_dependence: Mean,
    /// One per stage of the cascading randomization, head first.
    pub randomization: Vec<StageTally>,
    timings_ms: BTreeMap<String, f64>,
}

#[derive(Default)]
pub struct Mean {
    sum: f64,
    count: usize,
}

impl Mean {
    pub fn add(&mut self, value: f64) {
        self.sum += value;
        self.count += 1;
    }

    pub fn value(&self) -> Option<f64> {
        (self.count > 0).then(|| self.sum / self.count as f64)
    }

    pub fn count(&self) -> usize {
        self.count
    }
}

/// A mean of rank correlations that also counts the pairs that had none (a constant map).
#[derive(Default)]
pub struct Correlations {
    mean: Mean,
    undefined: usize,
}

impl Correlations {
    pub fn add(&mut self, rho: Option<f64>) {
        match rho {
            Some(rho) => self.mean.add(rho),
            None => self.undefined += 1,
        }
    }
}

/// Spearman's ρ of the maps and of their absolute values at one stage of the cascade.
#[derive(Default)]
pub struct StageTally {
    pub rho: Correlations,
    pub abs_rho: Correlations,
}

impl Tally {
    pub fn new(randomization_stages: usize) -> Self {
        Tally { randomization: (0..randomization_stages).map(|_| StageTally::default()).collect(), ..Tally::default() }
    }

    /// Runs `work`, adding its wall-clock time to `phase`.
    pub fn time<T>(&mut self, phase: &str, work: impl FnOnce() -> Result<T>) -> Result<T> {
        let start = Instant::now();
        let result = work();
        *self.timings_ms.entry(phase.to_string()).or_default() += start.elapsed().as_secs_f64() * 1e3;
        result
    }

    /// The means as a report row; errors if a metric never got a sample. `stage_labels` names the
    /// randomization stages, head first.
    pub fn into_row(mut self, name: &str, kind: RowKind, stage_labels: &[String]) -> Result<MethodRow> {
        let required = |mean: &Mean, what: &str| {
            mean.value().ok_or_else(|| Error::InvalidOption(format!("no {what} was measured for `{name}`")))
        };
        let total = self.timings_ms.values().sum();
        self.timings_ms.insert("total".into(), total);
        let randomization: Vec<RandomizationStage> = self
            .randomization
            .iter()
            .zip(stage_labels)
            .map(|(stage, label)| RandomizationStage {
                randomized: label.clone(),
                rho: stage.rho.mean.value(),
                abs_rho: stage.abs_rho.mean.value(),
                undefined: stage.rho.undefined,
                abs_undefined: stage.abs_rho.undefined,
            })
            .collect();
        let full = randomization
            .last()
            .ok_or_else(|| Error::InvalidOption(format!("no randomization stage was measured for `{name}`")))?;
        Ok(MethodRow {
            name: name.into(),
            kind,
            pointing_game: required(&self.pointing_game, "object")?,
            strict_pointing_game: required(&self.strict_pointing_game, "object")?,
            relevance_mass_accuracy: required(&self.mass_accuracy, "object")?,
            relevance_rank_accuracy: required(&self.rank_accuracy, "object")?,
            deletion_auc: required(&self.deletion_auc, "object")?,
            insertion_auc: required(&self.insertion_auc, "object")?,
            text_dependence: required(&self.text_dependence, "two-object scene")?,
            randomization_rho: full.rho,
            randomization_abs_rho: full.abs_rho,
            randomization_undefined: full.undefined,
            randomization_abs_undefined: full.abs_undefined,
            randomization,
            timings_ms: self.timings_ms,
        })
    }
}
