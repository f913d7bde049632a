//! How far one explanation moves between two versions of one model (the web app's "compare with
//! full precision" view): the numbers `sightline drift` averages over scenes, for a single
//! image, texts, target and method, plus how much the score and probabilities moved.

use super::drift::top_patch;
use super::metrics::spearman;
use crate::error::{Error, Result};
use crate::explain::Explanation;
use serde::Serialize;

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ExplanationDrift {
    /// Spearman ρ (average ranks for ties) between the two patch maps; `None` when one map is
    /// constant, where no ranking exists to correlate.
    pub spearman: Option<f64>,
    /// The first patch of highest score in each map, row-major.
    pub top_patch_a: Option<usize>,
    pub top_patch_b: Option<usize>,
    pub top_patch_agrees: bool,
    /// |s_a − s_b| of the explained score (the target's logit).
    pub score_difference: f64,
    /// max over texts of |p_a − p_b|; `None` with a single text, which has no probabilities.
    pub max_probability_difference: Option<f64>,
}

/// Compares two explanations of the same request by two models. Errors when they explain
/// different requests or maps of different sizes, where a comparison would mean nothing.
pub fn explanation_drift(a: &Explanation, b: &Explanation) -> Result<ExplanationDrift> {
    if a.method != b.method || a.texts != b.texts || a.target != b.target {
        return Err(Error::InvalidOption(
            "the two explanations answer different requests (method, texts or target differ)".into(),
        ));
    }
    if a.patch_grid != b.patch_grid || a.patch_scores.len() != b.patch_scores.len() {
        return Err(Error::InvalidOption(format!(
            "the models see different patch grids ({}×{} vs {}×{}): compare two versions of one model",
            a.patch_grid[0], a.patch_grid[1], b.patch_grid[0], b.patch_grid[1]
        )));
    }
    let (top_patch_a, top_patch_b) = (top_patch(&a.patch_scores), top_patch(&b.patch_scores));
    let max_probability_difference = match (&a.probs, &b.probs) {
        (Some(pa), Some(pb)) if pa.len() == pb.len() => {
            Some(pa.iter().zip(pb).map(|(x, y)| (f64::from(*x) - f64::from(*y)).abs()).fold(0.0, f64::max))
        }
        _ => None,
    };
    Ok(ExplanationDrift {
        spearman: spearman(&a.patch_scores, &b.patch_scores),
        top_patch_a,
        top_patch_b,
        top_patch_agrees: top_patch_a == top_patch_b,
        score_difference: (f64::from(a.score) - f64::from(b.score)).abs(),
        max_probability_difference,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn explanation(patch_scores: &[f32], score: f32, probs: Option<&[f32]>) -> Explanation {
        let mut value = serde_json::json!({
            "method": "chefer", "backend": "cpu",
            "model": { "name": "m", "architecture": "CLIPModel", "dtype": "float16" },
            "options": { "steps": 32, "seed": 0, "head_fusion": "mean", "discard_ratio": 0.0 },
            "texts": ["a", "b"], "target": 0, "score": score, "logits": [score, 0.0],
            "input_size": [4, 4], "patch_grid": [2, 2],
            "crop": { "x": 0.0, "y": 0.0, "width": 4.0, "height": 4.0 },
            "patch_scores": patch_scores, "text_tokens": [], "warnings": [], "timings_ms": {}
        });
        if let Some(probs) = probs {
            value["probs"] = serde_json::json!(probs);
        }
        serde_json::from_value(value).expect("a valid explanation")
    }

    #[test]
    fn identical_maps_agree_completely() {
        let a = explanation(&[0.1, 0.4, 0.2, 0.3], 5.0, Some(&[0.7, 0.3]));
        let drift = explanation_drift(&a, &a.clone()).unwrap();
        assert_eq!(drift.spearman, Some(1.0));
        assert_eq!((drift.top_patch_a, drift.top_patch_b, drift.top_patch_agrees), (Some(1), Some(1), true));
        assert_eq!(drift.score_difference, 0.0);
        assert_eq!(drift.max_probability_difference, Some(0.0));
    }

    #[test]
    fn reversed_maps_with_ties_use_average_ranks() {
        // Ranks a: 1, 2.5, 2.5, 4; ranks b: 4, 2.5, 2.5, 1; Pearson of the ranks is −1.
        let a = explanation(&[0.0, 1.0, 1.0, 2.0], 5.0, Some(&[0.7, 0.3]));
        let b = explanation(&[2.0, 1.0, 1.0, 0.0], 4.5, Some(&[0.6, 0.4]));
        let drift = explanation_drift(&a, &b).unwrap();
        assert!((drift.spearman.unwrap() + 1.0).abs() < 1e-12);
        assert_eq!((drift.top_patch_a, drift.top_patch_b, drift.top_patch_agrees), (Some(3), Some(0), false));
        assert!((drift.score_difference - 0.5).abs() < 1e-9);
        assert!((drift.max_probability_difference.unwrap() - 0.1).abs() < 1e-6);
    }

    #[test]
    fn a_constant_map_has_no_spearman_and_one_text_no_probabilities() {
        let a = explanation(&[1.0, 1.0, 1.0, 1.0], 5.0, None);
        let b = explanation(&[0.0, 1.0, 2.0, 3.0], 5.0, None);
        let drift = explanation_drift(&a, &b).unwrap();
        assert_eq!(drift.spearman, None);
        assert_eq!(drift.max_probability_difference, None);
    }

    #[test]
    fn different_requests_or_grids_are_refused() {
        let a = explanation(&[0.0, 1.0, 2.0, 3.0], 5.0, None);
        let mut other_target = a.clone();
        other_target.target = 1;
        assert!(explanation_drift(&a, &other_target).is_err());
        let mut other_grid = a.clone();
        other_grid.patch_grid = [1, 4];
        assert!(explanation_drift(&a, &other_grid).is_err());
    }
}
