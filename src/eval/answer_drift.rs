//! How far one generative model's answers and their explanations drift from another's (a
//! quantized copy from its full-precision original), on the benchmark's held-out scenes: whether
//! B answers each question as A does, and, for every method, how B's maps of A's answer words
//! compare with A's own (Spearman ρ, top patch). Both models explain the same tokens, so a
//! different answer never hides or inflates a map's drift.

use super::drift::top_patch;
use super::metrics::spearman;
use super::scenes::eval_scenes;
use super::settings::EvalSettings;
use super::tally::Mean;
use crate::backend::Backend;
use crate::error::{Error, Result};
use crate::explain::{GenerateRequest, Generation, GenerativeExplainer, ImageInput, Method};
use crate::generate::SamplingOptions;
use crate::scene::Scene;
use serde::Serialize;
use std::fmt::Write;
use web_time::Instant;

/// Enough for "a red circle and a blue square and …" on the benchmark's scenes.
pub const DRIFT_ANSWER_TOKENS: usize = 12;

#[derive(Clone, Debug, Serialize)]
pub struct AnswerDriftRow {
    pub method: Method,
    /// Over every answer token of every question, where ρ is defined.
    pub mean_spearman: f64,
    pub min_spearman: f64,
    pub undefined_spearman: usize,
    pub top_patch_agreement: f64,
}

#[derive(Clone, Debug, Serialize)]
pub struct AnswerDriftReport {
    pub model_a: String,
    pub dtype_a: String,
    pub model_b: String,
    pub dtype_b: String,
    pub seed: u64,
    pub scenes: usize,
    pub questions: usize,
    /// Share of questions B answers with exactly A's tokens (greedy, both).
    pub answer_agreement: f64,
    /// Share of questions whose first answer token agrees.
    pub first_token_agreement: f64,
    /// Answer tokens explained per method.
    pub explained_tokens: usize,
    pub steps: usize,
    pub rows: Vec<AnswerDriftRow>,
    pub total_ms: f64,
}

#[derive(Default)]
struct Tally {
    spearman: Mean,
    min_spearman: Option<f64>,
    undefined_spearman: usize,
    top_patch_agreement: Mean,
}

/// The questions asked of one scene: what is in it, and the colour of its first object whose
/// shape is unique there.
pub fn drift_questions(scene: &Scene) -> Vec<String> {
    let mut questions = vec!["What is in the image?".to_string()];
    let unique = scene.objects.iter().find(|o| scene.objects.iter().filter(|p| p.shape == o.shape).count() == 1);
    if let Some(object) = unique {
        questions.push(format!("What colour is the {}?", object.shape.name()));
    }
    questions
}

/// Asks both models the same questions about the same scenes and compares answers and maps.
pub fn answer_drift<B: Backend>(
    a: &GenerativeExplainer<B>,
    b: &GenerativeExplainer<B>,
    settings: &EvalSettings,
    mut progress: impl FnMut(usize, usize),
) -> Result<AnswerDriftReport> {
    let started = Instant::now();
    settings.validate()?;
    let (ga, gb) = (a.geometry(), b.geometry());
    if (ga.image_size, ga.patches()) != (gb.image_size, gb.patches()) {
        return Err(Error::InvalidOption(format!(
            "the models see different inputs ({} px, {} patches vs {} px, {} patches): drift compares two versions of one model",
            ga.image_size,
            ga.patches(),
            gb.image_size,
            gb.patches()
        )));
    }
    let scene_size = settings.scene_size.unwrap_or(ga.image_size as u32);
    let scenes = eval_scenes(settings.seed, settings.scenes, scene_size)?.multi_object;
    let options = settings.method_options();
    let mut tallies: Vec<Tally> = settings.methods.iter().map(|_| Tally::default()).collect();
    let (mut answers_agree, mut first_agree, mut questions, mut explained_tokens) =
        (Mean::default(), Mean::default(), 0, 0);
    for (done, scene) in scenes.iter().enumerate() {
        for question in drift_questions(scene) {
            let ask = |model: &GenerativeExplainer<B>, method, answer| -> Result<Generation> {
                // A checkpoint without a chat template takes the prompt as written.
                let prompt = if model.processor().has_chat_template() {
                    question.clone()
                } else {
                    format!("<image>\n{question}")
                };
                let request = GenerateRequest {
                    image: ImageInput::Decoded(&scene.image),
                    prompt: &prompt,
                    max_tokens: DRIFT_ANSWER_TOKENS,
                    sampling: SamplingOptions::default(),
                    method,
                    options,
                    token: None,
                    contrast: None,
                    answer,
                };
                model.generate(&request, &mut |_| true)
            };
            let ids = |g: &Generation| g.tokens.iter().map(|t| t.token.id).collect::<Vec<_>>();
            let answer_a = ids(&ask(a, None, None)?);
            let answer_b = ids(&ask(b, None, None)?);
            answers_agree.add(f64::from(u8::from(answer_a == answer_b)));
            first_agree.add(f64::from(u8::from(answer_a.first() == answer_b.first())));
            questions += 1;
            explained_tokens += answer_a.len();
            for (&method, tally) in settings.methods.iter().zip(&mut tallies) {
                let (maps_a, maps_b) = (ask(a, Some(method), Some(&answer_a))?, ask(b, Some(method), Some(&answer_a))?);
                for (ta, tb) in maps_a.tokens.iter().zip(&maps_b.tokens) {
                    let (Some(map_a), Some(map_b)) = (&ta.patch_scores, &tb.patch_scores) else {
                        return Err(Error::Internal(format!("{method} gave no map for an answer token")));
                    };
                    match spearman(map_a, map_b) {
                        Some(rho) => {
                            tally.spearman.add(rho);
                            tally.min_spearman = Some(tally.min_spearman.map_or(rho, |m: f64| m.min(rho)));
                        }
                        None => tally.undefined_spearman += 1,
                    }
                    tally.top_patch_agreement.add(f64::from(u8::from(top_patch(map_a) == top_patch(map_b))));
                }
            }
        }
        progress(done + 1, scenes.len());
    }
    let rows = settings
        .methods
        .iter()
        .zip(tallies)
        .map(|(&method, tally)| AnswerDriftRow {
            method,
            mean_spearman: tally.spearman.value().unwrap_or(f64::NAN),
            min_spearman: tally.min_spearman.unwrap_or(f64::NAN),
            undefined_spearman: tally.undefined_spearman,
            top_patch_agreement: tally.top_patch_agreement.value().unwrap_or(0.0),
        })
        .collect();
    Ok(AnswerDriftReport {
        model_a: a.info.name.clone(),
        dtype_a: a.info.dtype.clone(),
        model_b: b.info.name.clone(),
        dtype_b: b.info.dtype.clone(),
        seed: settings.seed,
        scenes: settings.scenes,
        questions,
        answer_agreement: answers_agree.value().unwrap_or(0.0),
        first_token_agreement: first_agree.value().unwrap_or(0.0),
        explained_tokens,
        steps: settings.steps,
        rows,
        total_ms: started.elapsed().as_secs_f64() * 1e3,
    })
}

impl AnswerDriftReport {
    pub fn to_markdown(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(
            out,
            "**A:** {} ({}) · **B:** {} ({}) · seed {} · {} scenes · {} questions · {} answer tokens · {} steps\n",
            self.model_a,
            self.dtype_a,
            self.model_b,
            self.dtype_b,
            self.seed,
            self.scenes,
            self.questions,
            self.explained_tokens,
            self.steps
        );
        let _ = writeln!(
            out,
            "Answers: B gives A's answer to {:.1} % of the questions (first token: {:.1} %).\n",
            100.0 * self.answer_agreement,
            100.0 * self.first_token_agreement
        );
        out.push_str("| method | mean Spearman ρ of A's answer tokens | min ρ | top-patch agreement |\n");
        out.push_str("|---|---:|---:|---:|\n");
        for row in &self.rows {
            let undefined = match row.undefined_spearman {
                0 => String::new(),
                n => format!(" ({n} undefined)"),
            };
            let _ = writeln!(
                out,
                "| {} | {:.4}{undefined} | {:.4} | {:.3} |",
                row.method, row.mean_spearman, row.min_spearman, row.top_patch_agreement
            );
        }
        out
    }
}
