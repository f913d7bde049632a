//! Running means of one map source's metrics, and its time per phase.

use super::report::{MethodRow, RowKind};
use crate::error::{Error, Result};
use std::collections::BTreeMap;
use web_time::Instant;

#[derive(Default)]
pub struct Tally {
    pub pointing_game: Mean,
    pub mass_accuracy: Mean,
    pub rank_accuracy: Mean,
    pub deletion_auc: Mean,
    pub insertion_auc: Mean,
    pub text_dependence: Mean,
    pub randomization_rho: Mean,
    pub randomization_undefined: usize,
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
}

impl Tally {
    /// Runs `work`, adding its wall-clock time to `phase`.
    pub fn time<T>(&mut self, phase: &str, work: impl FnOnce() -> Result<T>) -> Result<T> {
        let start = Instant::now();
        let result = work();
        *self.timings_ms.entry(phase.to_string()).or_default() += start.elapsed().as_secs_f64() * 1e3;
        result
    }

    /// The means as a report row; errors if a metric never got a sample.
    pub fn into_row(mut self, name: &str, kind: RowKind) -> Result<MethodRow> {
        let required = |mean: &Mean, what: &str| {
            mean.value().ok_or_else(|| Error::InvalidOption(format!("no {what} was measured for `{name}`")))
        };
        let total = self.timings_ms.values().sum();
        self.timings_ms.insert("total".into(), total);
        Ok(MethodRow {
            name: name.into(),
            kind,
            pointing_game: required(&self.pointing_game, "object")?,
            relevance_mass_accuracy: required(&self.mass_accuracy, "object")?,
            relevance_rank_accuracy: required(&self.rank_accuracy, "object")?,
            deletion_auc: required(&self.deletion_auc, "object")?,
            insertion_auc: required(&self.insertion_auc, "object")?,
            text_dependence: required(&self.text_dependence, "two-object scene")?,
            randomization_rho: self.randomization_rho.value(),
            randomization_undefined: self.randomization_undefined,
            timings_ms: self.timings_ms,
        })
    }
}
