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
    /// Fraction of explained objects whose top patch is mostly (more than half) object.
    pub strict_pointing_game: f64,
    pub relevance_mass_accuracy: f64,
    pub relevance_rank_accuracy: f64,
    /// RISE-style deletion (see [`RISE_STYLE_NOTE`]); lower is better.
    pub deletion_auc: f64,
    /// RISE-style insertion; higher is better.
    pub insertion_auc: f64,
    /// Fraction of two-object scenes where prompting each object points at that object, at two
    /// different patches.
    pub text_dependence: f64,
    /// Mean Spearman ρ between the trained and the fully randomized model's maps (the cascade's
    /// last stage); `None` when every pair had a constant map.
    pub randomization_rho: Option<f64>,
    /// The same between the maps' absolute values.
    pub randomization_abs_rho: Option<f64>,
    /// Map pairs left out of `randomization_rho` because one of them was constant.
    pub randomization_undefined: usize,
    /// Map pairs left out of `randomization_abs_rho` because one of them was constant.
    pub randomization_abs_undefined: usize,
    /// The cascading randomization, one entry per stage from the head down.
    pub randomization: Vec<RandomizationStage>,
    /// Wall-clock milliseconds per phase (`explain`, `curves`, `randomization`,
    /// `text_dependence`) and `total`.
    pub timings_ms: BTreeMap<String, f64>,
}

/// The maps' rank correlation once the weights from the head down to `randomized` are random.
#[derive(Clone, Debug, Serialize)]
pub struct RandomizationStage {
    /// The part of the model this stage adds to the randomized ones ("head", "block 3", ...,
    /// "embeddings").
    pub randomized: String,
    pub rho: Option<f64>,
    pub abs_rho: Option<f64>,
    /// Pairs without a correlation (a constant map), left out of `rho` and `abs_rho`.
    pub undefined: usize,
    pub abs_undefined: usize,
}

/// How deletion and insertion differ from RISE, whose names they borrow.
pub const RISE_STYLE_NOTE: &str = "Deletion and insertion are RISE-style (Petsiuk et al. 2018): \
     whole patches in the map's order instead of pixels, removed to the dataset mean colour (zero in \
     normalized space, as RISE deletes) and inserted onto the mean colour (RISE inserts onto a blurred \
     image), scoring the prompted caption's softmax probability among the 12 captions (RISE scores a \
     classifier's class probability).";

/// Why some correlations are missing from the means.
pub const UNDEFINED_NOTE: &str = "A pair with a constant map has no rank correlation: such pairs are \
     counted (\"k undefined\") and left out of the mean.";

/// A mean correlation with the count of pairs that had none.
fn correlation_cell(rho: Option<f64>, undefined: usize) -> String {
    let mean = rho.map_or_else(|| "n/a".to_string(), |rho| format!("{rho:.3}"));
    match undefined {
        0 => mean,
        n => format!("{mean} ({n} undefined)"),
    }
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
            "| method | pointing game | strict pointing | mass acc. | rank acc. | RISE-style deletion AUC ↓ \
             | RISE-style insertion AUC ↑ | text dependence | randomization ρ | ρ of \\|maps\\| |\n",
        );
        out.push_str("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n");
        for row in &self.rows {
            let _ = writeln!(
                out,
                "| {} | {:.3} | {:.3} | {:.3} | {:.3} | {:.3} | {:.3} | {:.3} | {} | {} |",
                row_name(row),
                row.pointing_game,
                row.strict_pointing_game,
                row.relevance_mass_accuracy,
                row.relevance_rank_accuracy,
                row.deletion_auc,
                row.insertion_auc,
                row.text_dependence,
                correlation_cell(row.randomization_rho, row.randomization_undefined),
                correlation_cell(row.randomization_abs_rho, row.randomization_abs_undefined),
            );
        }
        self.cascade_markdown(&mut out);
        for note in &self.notes {
            let _ = write!(out, "\n{note}\n");
        }
        out
    }

    /// The cascading randomization as a second table: ρ / ρ of |maps| after each stage.
    fn cascade_markdown(&self, out: &mut String) {
        let Some(stages) = self.rows.first().map(|row| &row.randomization) else { return };
        let _ = write!(
            out,
            "\nCascading randomization (Adebayo et al. 2018): Spearman ρ / ρ of |maps| between the trained \
             model's maps and the maps with every weight from the head down to the named part random \
             (the last column is the full randomization above).\n\n| method |"
        );
        for stage in stages {
            let _ = write!(out, " {} |", stage.randomized);
        }
        let _ = write!(out, "\n|---|{}\n", "---:|".repeat(stages.len()));
        for row in &self.rows {
            let _ = write!(out, "| {} |", row_name(row));
            for stage in &row.randomization {
                let _ = write!(
                    out,
                    " {} / {} |",
                    correlation_cell(stage.rho, stage.undefined),
                    correlation_cell(stage.abs_rho, stage.abs_undefined)
                );
            }
            out.push('\n');
        }
    }
}

fn row_name(row: &MethodRow) -> String {
    match row.kind {
        RowKind::Method => row.name.clone(),
        RowKind::Baseline => format!("*{} (baseline)*", row.name),
    }
}
