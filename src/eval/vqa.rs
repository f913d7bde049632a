//! `sightline eval --task vqa`: a generative model asked about held-out synthetic scenes. Per
//! question kind, how often its answer is exactly right; per method, how well the map of the
//! answer word (the colour, shape or position word, "yes" for a present object) finds the object
//! the question is about (pointing game, relevance mass and rank accuracy against the exact
//! mask), and whether asking about another object moves the map to it (text dependence). Random
//! and centre maps are the baselines.

use super::baselines::Baseline;
use super::metrics::{pointing_game, relevance_mass_accuracy, relevance_rank_accuracy, PatchOverlap};
use super::scenes::{eval_scenes, mask_at_model_input};
use super::settings::EvalSettings;
use super::tally::Mean;
use super::vqa_questions::{answer_is_right, scene_questions, QuestionKind, SceneQuestion};
use crate::backend::Backend;
use crate::error::Result;
use crate::explain::{GenerateRequest, Generation, GenerativeExplainer, ImageInput, Method};
use crate::generate::SamplingOptions;
use crate::scene::Scene;
use serde::Serialize;
use std::collections::BTreeMap;
use std::fmt::Write;
use web_time::Instant;

/// Answer lengths: a listing of four objects is about 16 words; every other answer is one word.
const LISTING_TOKENS: usize = 32;
const WORD_TOKENS: usize = 6;

#[derive(Clone, Debug, Serialize)]
pub struct VqaAccuracy {
    pub kind: QuestionKind,
    pub questions: usize,
    pub accuracy: f64,
}

#[derive(Clone, Debug, Serialize)]
pub struct VqaMapRow {
    /// A method's name, or a baseline's in italics.
    pub source: String,
    pub pointing_game: f64,
    pub mass_accuracy: f64,
    pub rank_accuracy: f64,
    pub text_dependence: f64,
    /// Answer words scored (right answers about one object).
    pub words: usize,
}

#[derive(Clone, Debug, Serialize)]
pub struct VqaReport {
    pub model: String,
    pub dtype: String,
    pub seed: u64,
    pub scenes: usize,
    pub steps: usize,
    pub accuracy: Vec<VqaAccuracy>,
    pub maps: Vec<VqaMapRow>,
    pub total_ms: f64,
}

#[derive(Default)]
struct MapTally {
    pointing_game: Mean,
    mass_accuracy: Mean,
    rank_accuracy: Mean,
    text_dependence: Mean,
    words: usize,
}

/// A map source: a method, or a baseline that reads nothing.
#[derive(Clone, Copy)]
enum Source {
    Method(Method),
    Baseline(Baseline),
}

struct Asked {
    generation: Generation,
    right: bool,
}

pub fn evaluate_vqa<B: Backend>(
    model: &GenerativeExplainer<B>,
    settings: &EvalSettings,
    mut progress: impl FnMut(usize, usize),
) -> Result<VqaReport> {
    let started = Instant::now();
    settings.validate()?;
    let geometry = model.geometry();
    let scene_size = settings.scene_size.unwrap_or(geometry.image_size as u32);
    let scenes = eval_scenes(settings.seed, settings.scenes, scene_size)?.multi_object;
    let options = settings.method_options();
    let sources: Vec<Source> = settings
        .methods
        .iter()
        .map(|&m| Source::Method(m))
        .chain([Source::Baseline(Baseline::Random), Source::Baseline(Baseline::Centre)])
        .collect();
    let mut accuracy: BTreeMap<QuestionKind, Mean> = BTreeMap::new();
    let mut tallies: Vec<MapTally> = sources.iter().map(|_| MapTally::default()).collect();
    let ask = |scene: &Scene, question: &SceneQuestion, method: Option<Method>, answer: Option<&[u32]>| {
        let prompt = if model.processor().has_chat_template() {
            question.text.clone()
        } else {
            format!("<image>\n{}", question.text)
        };
        let max_tokens = if question.kind == QuestionKind::Listing { LISTING_TOKENS } else { WORD_TOKENS };
        let request = GenerateRequest {
            image: ImageInput::Decoded(&scene.image),
            prompt: &prompt,
            max_tokens,
            sampling: SamplingOptions::default(),
            method,
            options,
            token: method.map(|_| 0),
            contrast: None,
            answer,
        };
        model.generate(&request, &mut |_| true)
    };
    for (done, scene) in scenes.iter().enumerate() {
        let crop = model.processor().prepare_decoded(&scene.image).crop;
        let overlap = |object: usize| -> Result<(PatchOverlap, PatchOverlap)> {
            let mask = mask_at_model_input(&scene.objects[object].mask, crop, geometry);
            Ok((PatchOverlap::from_mask(&mask, geometry)?, PatchOverlap::per_pixel(&mask)))
        };
        let questions = scene_questions(scene);
        let mut asked = Vec::with_capacity(questions.len());
        for question in &questions {
            let generation = ask(scene, question, None, None)?;
            let right = answer_is_right(question, &generation.answer);
            accuracy.entry(question.kind).or_default().add(f64::from(u8::from(right)));
            asked.push(Asked { generation, right });
        }
        // The answer word's map: right answers about one object, whose first token is the word.
        for (question, answer) in questions.iter().zip(&asked) {
            let Some(object) = question.object.filter(|_| answer.right) else { continue };
            let (patches, pixels) = overlap(object)?;
            if patches.mask_size() == 0 {
                continue;
            }
            let ids: Vec<u32> = answer.generation.tokens.iter().map(|t| t.token.id).collect();
            // Text dependence: the same kind of question about another object of the scene.
            let other = questions
                .iter()
                .zip(&asked)
                .find(|(q, a)| q.kind == question.kind && a.right && q.object.is_some_and(|o| o != object));
            for (&source, tally) in sources.iter().zip(&mut tallies) {
                let (map, pixel_map) = word_map(source, model, scene, question, &ids, &ask, geometry.grid_side)?;
                tally.pointing_game.add(pointing_game(&map, &patches)?);
                let (finest, finest_overlap) = match &pixel_map {
                    Some(p) => (p.as_slice(), &pixels),
                    None => (map.as_slice(), &patches),
                };
                tally.mass_accuracy.add(relevance_mass_accuracy(finest, finest_overlap)?);
                tally.rank_accuracy.add(relevance_rank_accuracy(finest, finest_overlap)?);
                tally.words += 1;
                if let Some((other_question, other_answer)) = other {
                    let other_object = other_question.object.unwrap_or(object);
                    let (other_patches, _) = overlap(other_object)?;
                    if other_patches.mask_size() > 0 {
                        let other_ids: Vec<u32> = other_answer.generation.tokens.iter().map(|t| t.token.id).collect();
                        let (other_map, _) =
                            word_map(source, model, scene, other_question, &other_ids, &ask, geometry.grid_side)?;
                        // The map moved when its top patch lands on the other object.
                        let moved = pointing_game(&other_map, &other_patches)? > 0.0;
                        tally.text_dependence.add(f64::from(u8::from(moved)));
                    }
                }
            }
        }
        progress(done + 1, scenes.len());
    }
    let accuracy = QuestionKind::ALL
        .iter()
        .filter_map(|kind| {
            let mean = accuracy.get(kind)?;
            Some(VqaAccuracy { kind: *kind, questions: mean.count(), accuracy: mean.value().unwrap_or(0.0) })
        })
        .collect();
    let maps = sources
        .iter()
        .zip(tallies)
        .map(|(source, tally)| VqaMapRow {
            source: match source {
                Source::Method(m) => m.name().to_string(),
                Source::Baseline(b) => format!("*{} (baseline)*", b.name()),
            },
            pointing_game: tally.pointing_game.value().unwrap_or(f64::NAN),
            mass_accuracy: tally.mass_accuracy.value().unwrap_or(f64::NAN),
            rank_accuracy: tally.rank_accuracy.value().unwrap_or(f64::NAN),
            text_dependence: tally.text_dependence.value().unwrap_or(f64::NAN),
            words: tally.words,
        })
        .collect();
    Ok(VqaReport {
        model: model.info.name.clone(),
        dtype: model.info.dtype.clone(),
        seed: settings.seed,
        scenes: settings.scenes,
        steps: settings.steps,
        accuracy,
        maps,
        total_ms: started.elapsed().as_secs_f64() * 1e3,
    })
}

/// The map of the answer's first token (its word) by `source`, with a pixel map where the method
/// defines one.
fn word_map<B: Backend>(
    source: Source,
    model: &GenerativeExplainer<B>,
    scene: &Scene,
    question: &SceneQuestion,
    ids: &[u32],
    ask: &impl Fn(&Scene, &SceneQuestion, Option<Method>, Option<&[u32]>) -> Result<Generation>,
    grid_side: usize,
) -> Result<(Vec<f32>, Option<Vec<f32>>)> {
    match source {
        Source::Method(method) => {
            let explained = ask(scene, question, Some(method), Some(ids))?;
            let token = explained.tokens.into_iter().next();
            let token =
                token.ok_or_else(|| crate::error::Error::Internal("an explained answer without tokens".into()))?;
            let geometry = model.geometry();
            let covered = geometry.grid_side * geometry.patch_size;
            let pixels = token.pixel_scores.map(|map| {
                map.chunks(geometry.image_size).take(covered).flat_map(|row| &row[..covered]).copied().collect()
            });
            Ok((token.patch_scores.unwrap_or_default(), pixels))
        }
        Source::Baseline(baseline) => Ok((baseline.patch_scores(grid_side, scene.seed), None)),
    }
}

impl VqaReport {
    pub fn to_markdown(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(
            out,
            "**{}** ({}) · seed {} · {} scenes of 2–4 objects · {} steps\n",
            self.model, self.dtype, self.seed, self.scenes, self.steps
        );
        out.push_str("| question | asked | answer right |\n|---|---:|---:|\n");
        for row in &self.accuracy {
            let _ = writeln!(out, "| {} | {} | {:.3} |", row.kind.name(), row.questions, row.accuracy);
        }
        out.push_str(
            "\nThe answer word's map against the asked object's mask (right answers about one object):\n\n\
             | method | words | pointing game | mass acc. | rank acc. | text dependence |\n\
             |---|---:|---:|---:|---:|---:|\n",
        );
        // No right answer about one object leaves nothing to score: a dash, not NaN.
        let cell = |value: f64| if value.is_nan() { "—".to_string() } else { format!("{value:.3}") };
        for row in &self.maps {
            let _ = writeln!(
                out,
                "| {} | {} | {} | {} | {} | {} |",
                row.source,
                row.words,
                cell(row.pointing_game),
                cell(row.mass_accuracy),
                cell(row.rank_accuracy),
                cell(row.text_dependence)
            );
        }
        out
    }
}
