//! The benchmark's results: one row per method and baseline, as JSON and as a markdown table.

use super::scenes::Prompts;
use serde::Serialize;
use std::collections::BTreeMap;
use std::fmt::Write;

/// Whether a row explains the model or is a model-free reference.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RowKind {
    Method,
    Baseline,
}

/// The means of every metric for one method or baseline.
#[derive(Clone, Debug, Serialize)]
pub struct MethodRow {
    pub name: String,
    pub kind: RowKind,
    /// Fraction of explained objects whose top patch holds a pixel of the object.
    pub pointing_game: f64,
    pub relevance_mass_accuracy: f64,
    pub relevance_rank_accuracy: f64,
    /// Lower is better.
    pub deletion_auc: f64,
    /// Higher is better.
    pub insertion_auc: f64,
    /// Fraction of two-object scenes where prompting each object points at that object.
    pub text_dependence: f64,
    /// Mean Spearman ρ between the trained and the randomized model's maps; `None` when every
    /// pair had a constant map.
    pub randomization_rho: Option<f64>,
    /// Maps left out of `randomization_rho` because one of the pair was constant.
    pub randomization_undefined: usize,
    /// Wall-clock milliseconds per phase (`explain`, `curves`, `randomization`,
    /// `text_dependence`) and `total`.
    pub timings_ms: BTreeMap<String, f64>,
}

/// Everything one benchmark run measured.
#[derive(Clone, Debug, Serialize)]
pub struct EvalReport {
    pub model: String,
    pub seed: u64,
    /// Multi-object scenes (2–4 objects).
    pub scenes: usize,
    /// Which objects of each scene were prompted.
    pub prompts: Prompts,
    /// Objects explained on them.
    pub explained_objects: usize,
    /// Objects left out because no pixel of them survives at the model-input resolution.
    pub skipped_objects: usize,
    /// Two-object scenes scored for text dependence.
    pub text_dependence_scenes: usize,
    pub scene_size: u32,
    pub input_size: usize,
    pub patch_grid: [usize; 2],
    /// Integrated-gradients steps and SmoothGrad samples.
    pub steps: usize,
    pub rows: Vec<MethodRow>,
    pub notes: Vec<String>,
    pub total_ms: f64,
}

impl EvalReport {
    /// The method (not baseline) with the highest pointing game, the best a model's explanations
    /// can localize objects.
    pub fn best_pointing_game(&self) -> Option<&MethodRow> {
        self.rows
            .iter()
            .filter(|row| row.kind == RowKind::Method)
            .max_by(|a, b| a.pointing_game.total_cmp(&b.pointing_game))
    }

    pub fn row(&self, name: &str) -> Option<&MethodRow> {
        self.rows.iter().find(|row| row.name == name)
    }

    /// A header line, the table, and the notes.
    pub fn to_markdown(&self) -> String {
        let mut out = String::new();
        let prompted = match self.prompts {
            Prompts::OnePerScene => "one per scene",
            Prompts::EveryObject => "every object",
        };
        let skipped = match self.skipped_objects {
            0 => String::new(),
            n => format!(", {n} invisible at the input size skipped"),
        };
        let _ = writeln!(
            out,
            "**{}** · seed {} · {} scenes of 2–4 objects ({} px, {}×{} patches) · \
             {} explained objects ({prompted}{skipped}) · text dependence on {} two-object scenes · {} steps\n",
            self.model,
            self.seed,
            self.scenes,
            self.scene_size,
            self.patch_grid[0],
            self.patch_grid[1],
            self.explained_objects,
            self.text_dependence_scenes,
            self.steps
        );
        out.push_str(
            "| method | pointing game | mass acc. | rank acc. | deletion AUC ↓ | insertion AUC ↑ | text dependence | randomization ρ |\n",
        );
        out.push_str("|---|---:|---:|---:|---:|---:|---:|---:|\n");
        for row in &self.rows {
            let name = match row.kind {
                RowKind::Method => row.name.clone(),
                RowKind::Baseline => format!("*{} (baseline)*", row.name),
            };
            let rho = row.randomization_rho.map_or_else(|| "n/a".to_string(), |rho| format!("{rho:.3}"));
            let _ = writeln!(
                out,
                "| {name} | {:.3} | {:.3} | {:.3} | {:.3} | {:.3} | {:.3} | {rho} |",
                row.pointing_game,
                row.relevance_mass_accuracy,
                row.relevance_rank_accuracy,
                row.deletion_auc,
                row.insertion_auc,
                row.text_dependence
            );
        }
        for note in &self.notes {
            let _ = write!(out, "\n{note}\n");
        }
        out
    }
}
