//! The faithfulness benchmark: how well each explanation method's patch map finds the object a
//! caption names, on held-out synthetic scenes whose object masks are exact.
//!
//! On every multi-object scene (2–4 objects, seeds from [`MIN_EVAL_SEED`] up, never used for
//! training) one object drawn from the scene seed (or, with [`Prompts::EveryObject`], each object
//! in turn) is prompted with its single caption ("a red circle") among all 12 single captions as
//! zero-shot labels, and each map is scored by:
//! - the pointing game (Zhang et al. 2016, <https://arxiv.org/abs/1608.00507>), lenient (the top
//!   patch touches the object) and strict (the top patch is mostly object);
//! - relevance mass and rank accuracy (Arras, Osman, Samek 2022, CLEVR-XAI,
//!   <https://doi.org/10.1016/j.inffus.2021.11.008>), on positive relevance at pixel level: the
//!   pixel map where the method defines one (gradient, grad×input, integrated gradients,
//!   SmoothGrad), else the patch map spread evenly over each patch;
//! - RISE-style deletion and insertion AUC (after Petsiuk, Das, Saenko 2018, RISE,
//!   <https://arxiv.org/abs/1806.07421>; how they differ: [`report::RISE_STYLE_NOTE`]), on the
//!   prompted caption's zero-shot probability;
//! - the model-randomization check (Adebayo et al. 2018, Sanity Checks for Saliency Maps,
//!   <https://arxiv.org/abs/1810.03292>), cascading: Spearman ρ, of the maps and of their
//!   absolute values, between the trained model's maps and those with its weights randomized
//!   from the top down, stage by stage, to the fully random model.
//!
//! [`drift`] compares two versions of one model (a quantized one and its original) on the same
//! scenes: how far each method's maps move; [`explanation_drift`] does it for one explanation.
//!
//! Two-object scenes measure text dependence: whether prompting each object points at it, at two
//! different patches.
//! A `random` and a `centre` baseline go through the same metrics, as the floor to beat.

mod answer_drift;
pub mod baselines;
pub mod curves;
mod drift;
mod explanation_drift;
pub mod metrics;
pub mod randomization;
pub mod report;
mod runner;
pub mod scenes;
mod settings;
mod tally;
mod vqa;
pub mod vqa_questions;

pub use answer_drift::{answer_drift, drift_questions, AnswerDriftReport, AnswerDriftRow, DRIFT_ANSWER_TOKENS};
pub use baselines::Baseline;
pub use drift::{drift, DriftReport, DriftRow};
pub use explanation_drift::{explanation_drift, ExplanationDrift};
pub use randomization::Cascade;
pub use report::{EvalReport, MethodRow, RandomizationStage, RowKind};
pub use runner::{evaluate, evaluate_model, evaluate_model_with_progress, TEXT_INDEPENDENT_NOTE};
pub use scenes::{Prompts, MIN_EVAL_SEED};
pub use settings::{EvalSettings, DEFAULT_SCENES, DEFAULT_STEPS};
pub use vqa::{evaluate_vqa, VqaAccuracy, VqaMapRow, VqaReport};
