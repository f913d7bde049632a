//! What the engine offers, described once for front ends: each explanation method with the options
//! it reads and the outputs it gives, the options' defaults and limits, the colormaps, and the
//! vocabulary of the synthetic scenes. The web app reads this (`engineFacts` in src/wasm.rs)
//! instead of keeping copies; tests/catalog.rs checks every method fact against what the explainer
//! does.

use crate::eval::scenes::multi_object_spec;
use crate::explain::{HeadFusion, Method, MethodOptions, MAX_STEPS, MAX_TEXTS};
use crate::heatmap::{Colormap, OUTSIDE_CROP_BRIGHTNESS};
use crate::scene::{all_single_captions, Colour, Shape};
use serde::Serialize;

/// An option of `MethodOptions`, by the name the web app gives it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum MethodOption {
    Steps,
    Seed,
    HeadFusion,
    DiscardRatio,
}

/// What one method reads and gives, for one model family.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct MethodFacts {
    pub id: Method,
    /// The options whose value changes the method's maps; the others are ignored.
    pub options: &'static [MethodOption],
    /// Runs many inputs (path points, noisy copies, occluded copies) in batches and reports
    /// progress after each; these are the slow ones.
    pub batched: bool,
    /// Whether the image map depends on the explained text. CLIP's attention and rollout read
    /// only the image tower, which never sees the text; a generative model's every map does.
    pub image_map_reads_text: bool,
    /// Whether it scores the explained text's tokens (`text_scores`).
    pub text_scores: bool,
    /// Whether it gives a map per input pixel (`pixel_scores`) beside the patch map.
    pub pixel_scores: bool,
}

impl MethodFacts {
    pub fn of(method: Method) -> MethodFacts {
        use MethodOption::*;
        let (options, batched, image_map_reads_text, text_scores, pixel_scores): (&[MethodOption], _, _, _, _) =
            match method {
                Method::Attention => (&[], false, false, true, false),
                Method::Rollout => (&[HeadFusion, DiscardRatio], false, false, true, false),
                Method::Gradient => (&[], false, true, true, true),
                Method::GradXInput => (&[], false, true, true, true),
                Method::IntegratedGradients => (&[Steps], true, true, false, true),
                Method::Smoothgrad => (&[Steps, Seed], true, true, false, true),
                Method::Gradcam => (&[], false, true, false, false),
                Method::Chefer => (&[], false, true, true, false),
                Method::Occlusion => (&[], true, true, false, false),
                Method::CheferVision => (&[], false, true, true, false),
                Method::TokenActivation => (&[], false, true, false, false),
            };
        MethodFacts { id: method, options, batched, image_map_reads_text, text_scores, pixel_scores }
    }

    /// The method on a generated token: its image map is read from the decoder's row of that
    /// token, after the question, so it depends on the text — but token activation's, which reads
    /// the token's logit at the image tokens, before the question in a causal decoder.
    pub fn of_generative(method: Method) -> MethodFacts {
        let text_scores = !matches!(
            method,
            Method::IntegratedGradients | Method::Smoothgrad | Method::Occlusion | Method::TokenActivation
        );
        let image_map_reads_text = method != Method::TokenActivation;
        MethodFacts { image_map_reads_text, text_scores, ..MethodFacts::of(method) }
    }
}

/// `MethodOptions::default()` under the web app's names.
#[derive(Clone, Copy, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct OptionDefaults {
    pub steps: usize,
    pub seed: u64,
    pub head_fusion: HeadFusion,
    pub discard_ratio: f32,
}

/// The limits `MethodOptions::validate` enforces, and the defaults.
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct OptionFacts {
    pub defaults: OptionDefaults,
    pub max_steps: usize,
    pub head_fusions: [HeadFusion; 3],
    /// Discard ratios lie in [0, this).
    pub discard_ratio_below: f32,
}

#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ColormapFacts {
    pub name: &'static str,
    pub diverging: bool,
}

/// The synthetic scenes the default model was trained on, as `sightline eval` draws them.
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SceneFacts {
    pub colours: Vec<&'static str>,
    pub shapes: Vec<&'static str>,
    /// One caption per (colour, shape), colour-major: what the default model was trained to name.
    pub captions: Vec<String>,
    pub min_objects: usize,
    pub max_objects: usize,
}

#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct EngineFacts {
    /// What explains a CLIP score.
    pub methods: Vec<MethodFacts>,
    /// What explains a generated token.
    pub generative_methods: Vec<MethodFacts>,
    pub options: OptionFacts,
    pub max_texts: usize,
    pub colormaps: Vec<ColormapFacts>,
    /// How bright the image stays outside the crop the model saw, in the CLI's overlays.
    pub outside_crop_brightness: f32,
    pub scenes: SceneFacts,
}

impl EngineFacts {
    pub fn get() -> EngineFacts {
        let spec = multi_object_spec();
        let MethodOptions { steps, seed, head_fusion, discard_ratio } = MethodOptions::default();
        EngineFacts {
            methods: Method::CLIP.into_iter().map(MethodFacts::of).collect(),
            generative_methods: Method::GENERATIVE.into_iter().map(MethodFacts::of_generative).collect(),
            options: OptionFacts {
                defaults: OptionDefaults { steps, seed, head_fusion, discard_ratio },
                max_steps: MAX_STEPS,
                head_fusions: [HeadFusion::Mean, HeadFusion::Max, HeadFusion::Min],
                discard_ratio_below: 1.0,
            },
            max_texts: MAX_TEXTS,
            colormaps: Colormap::ALL
                .into_iter()
                .map(|colormap| ColormapFacts { name: colormap.name(), diverging: colormap.is_diverging() })
                .collect(),
            outside_crop_brightness: OUTSIDE_CROP_BRIGHTNESS,
            scenes: SceneFacts {
                colours: Colour::ALL.map(Colour::name).to_vec(),
                shapes: Shape::ALL.map(Shape::name).to_vec(),
                captions: all_single_captions(),
                min_objects: spec.min_objects,
                max_objects: spec.max_objects,
            },
        }
    }
}
