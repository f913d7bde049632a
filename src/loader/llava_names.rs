//! Where a LLaVA checkpoint keeps each part. Published checkpoints name them in two generations,
//! and transformers 5 itself reads and writes a mix (its `save_pretrained` writes the decoder under
//! transformers 4's prefix and the CLIP tower without `vision_model.`), so each part is found on
//! its own:
//!
//! | part | transformers 5 | llava-hf / transformers 4 |
//! |---|---|---|
//! | decoder | `model.language_model.*` | `language_model.model.*` |
//! | output head | `lm_head.*` | `language_model.lm_head.*` |
//! | vision tower | `model.vision_tower[.vision_model].*` | `vision_tower[.vision_model].*` |
//! | projector | `model.multi_modal_projector.*` | `multi_modal_projector.*` |
//!
//! Then the parts the config asks for are checked to be there (projector, every decoder layer,
//! the vision layers that feed the features), so a broken checkpoint is named for what it lacks
//! before any weight is read. The individual tensors of each part are checked by name and shape
//! when the model loads them.

use crate::config::LlavaConfig;
use crate::error::{Error, Result};
use std::collections::BTreeSet;

/// The naming of the decoder, which tells the two generations of published checkpoints apart.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NamingGeneration {
    Transformers5,
    /// llava-hf's checkpoints as published, saved by transformers 4.
    Transformers4,
}

/// The name prefix of each part (without the trailing dot), for `WeightLoader::pp`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LlavaTensorNames {
    pub generation: NamingGeneration,
    /// The Llama decoder: `embed_tokens`, `layers.{l}.*`, `norm`.
    pub decoder: String,
    /// The output projection's module (its `weight` is (vocab, hidden)); for a tied head the
    /// decoder's `embed_tokens`.
    pub lm_head: String,
    /// The CLIP vision transformer: `embeddings.*`, `pre_layrnorm`, `encoder.layers.{l}.*`,
    /// `post_layernorm` (with or without `vision_model.` as the checkpoint has it).
    pub vision_tower: String,
    /// `linear_1` and `linear_2`.
    pub projector: String,
}

const DECODERS: [(&str, NamingGeneration); 2] = [
    ("model.language_model", NamingGeneration::Transformers5),
    ("language_model.model", NamingGeneration::Transformers4),
];
const HEADS: [&str; 2] = ["lm_head", "language_model.lm_head"];
const VISION_TOWERS: [&str; 4] =
    ["model.vision_tower.vision_model", "model.vision_tower", "vision_tower.vision_model", "vision_tower"];
const PROJECTORS: [&str; 2] = ["model.multi_modal_projector", "multi_modal_projector"];

impl LlavaTensorNames {
    /// The layout of the checkpoint whose tensors are `names`, checked against `config`.
    pub fn resolve<'n>(names: impl IntoIterator<Item = &'n str>, config: &LlavaConfig) -> Result<Self> {
        let names: BTreeSet<&str> = names.into_iter().collect();
        let has_prefix = |prefix: &str| {
            let dotted = format!("{prefix}.");
            names.range(dotted.as_str()..).next().is_some_and(|name| name.starts_with(&dotted))
        };
        // The one candidate with tensors under `{candidate}.{marker}` (marker "" = any tensor).
        let find = |what: &str, candidates: &[&'static str], marker: &str| -> Result<Option<&'static str>> {
            let with_marker = |c: &str| if marker.is_empty() { c.to_string() } else { format!("{c}.{marker}") };
            let found: Vec<&str> = candidates.iter().copied().filter(|c| has_prefix(&with_marker(c))).collect();
            match found.as_slice() {
                [] => Ok(None),
                [one] => Ok(Some(*one)),
                several => Err(Error::Weights(format!(
                    "the weights hold a {what} under both `{}.` and `{}.`; one checkpoint names it once",
                    several[0], several[1]
                ))),
            }
        };
        let expected =
            |candidates: &[&str]| candidates.iter().map(|c| format!("`{c}.`")).collect::<Vec<_>>().join(" or ");
        let missing = |what: &str, candidates: &[&str]| {
            Error::Weights(format!("the checkpoint has no {what}: no tensor under {}", expected(candidates)))
        };
        let decoder_names: Vec<&str> = DECODERS.iter().map(|(name, _)| *name).collect();
        let decoder = find("decoder", &decoder_names, "")?.ok_or_else(|| missing("LLaVA decoder", &decoder_names))?;
        let generation =
            DECODERS.iter().find(|(name, _)| *name == decoder).map_or(NamingGeneration::Transformers5, |d| d.1);
        let projector = find("multi-modal projector", &PROJECTORS, "")?
            .ok_or_else(|| missing("multi-modal projector", &PROJECTORS))?;
        let vision_tower = find("vision tower", &VISION_TOWERS, "embeddings")?
            .ok_or_else(|| missing("vision tower (its embeddings)", &VISION_TOWERS))?;
        let lm_head = if config.tie_word_embeddings {
            format!("{decoder}.embed_tokens")
        } else {
            find("output head", &HEADS, "")?
                .ok_or_else(|| missing("output head (lm_head; the config does not tie it to the embeddings)", &HEADS))?
                .to_string()
        };
        let layers = config.text_config.num_hidden_layers;
        check_layers(&has_prefix, &format!("{decoder}.layers"), "decoder", layers, Some(layers))?;
        // Layers past the feature layer never run; exports may leave them out.
        let vision_layers = format!("{vision_tower}.encoder.layers");
        check_layers(&has_prefix, &vision_layers, "vision", config.vision_layers_used()?, None)?;
        Ok(LlavaTensorNames {
            generation,
            decoder: decoder.to_string(),
            lm_head,
            vision_tower: vision_tower.to_string(),
            projector: projector.to_string(),
        })
    }
}

/// Every layer 0..`needed` has tensors under `prefix.{l}.`; with `declared`, none beyond it does.
fn check_layers(
    has_prefix: &impl Fn(&str) -> bool,
    prefix: &str,
    what: &str,
    needed: usize,
    declared: Option<usize>,
) -> Result<()> {
    if let Some(layer) = (0..needed).find(|l| !has_prefix(&format!("{prefix}.{l}"))) {
        return Err(Error::Weights(format!(
            "{what} layer {layer} of {needed} is missing from the weights (no tensor under `{prefix}.{layer}.`)"
        )));
    }
    if let Some(declared) = declared.filter(|d| has_prefix(&format!("{prefix}.{d}"))) {
        return Err(Error::Weights(format!(
            "the weights have {what} layer {declared} (`{prefix}.{declared}.`) but the config declares {declared} layers"
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn config(tied: bool) -> LlavaConfig {
        LlavaConfig::from_json(
            &json!({
                "model_type": "llava",
                "vision_config": {"hidden_size": 8, "intermediate_size": 8, "num_hidden_layers": 3,
                                  "num_attention_heads": 2, "image_size": 8, "patch_size": 4},
                "text_config": {"vocab_size": 20, "hidden_size": 8, "intermediate_size": 8,
                                "num_hidden_layers": 2, "num_attention_heads": 2},
                "image_token_index": 19, "vision_feature_layer": -2, "tie_word_embeddings": tied
            })
            .to_string(),
        )
        .unwrap()
    }

    /// A checkpoint's tensor names under the given prefixes, one tensor per module is enough.
    fn names(decoder: &str, head: Option<&str>, vision: &str, projector: &str) -> Vec<String> {
        let mut names = vec![format!("{decoder}.embed_tokens.weight"), format!("{decoder}.norm.weight")];
        names.extend((0..2).map(|l| format!("{decoder}.layers.{l}.mlp.up_proj.weight")));
        names.extend((0..3).map(|l| format!("{vision}.encoder.layers.{l}.mlp.fc1.weight")));
        names.push(format!("{vision}.embeddings.class_embedding"));
        names.push(format!("{projector}.linear_1.weight"));
        names.extend(head.map(|h| format!("{h}.weight")));
        names
    }

    fn resolve(names: &[String], tied: bool) -> Result<LlavaTensorNames> {
        LlavaTensorNames::resolve(names.iter().map(String::as_str), &config(tied))
    }

    #[test]
    fn both_generations_and_transformers_5_saves_resolve() {
        let v5 = names("model.language_model", Some("lm_head"), "model.vision_tower", "model.multi_modal_projector");
        let found = resolve(&v5, false).unwrap();
        assert_eq!(found.generation, NamingGeneration::Transformers5);
        assert_eq!((found.decoder.as_str(), found.lm_head.as_str()), ("model.language_model", "lm_head"));
        assert_eq!(
            (found.vision_tower.as_str(), found.projector.as_str()),
            ("model.vision_tower", "model.multi_modal_projector")
        );
        let llava_hf = names(
            "language_model.model",
            Some("language_model.lm_head"),
            "vision_tower.vision_model",
            "multi_modal_projector",
        );
        let found = resolve(&llava_hf, false).unwrap();
        assert_eq!(found.generation, NamingGeneration::Transformers4);
        assert_eq!(
            (found.decoder.as_str(), found.lm_head.as_str()),
            ("language_model.model", "language_model.lm_head")
        );
        assert_eq!(
            (found.vision_tower.as_str(), found.projector.as_str()),
            ("vision_tower.vision_model", "multi_modal_projector")
        );
        // transformers 5.25's save_pretrained: the old decoder prefix, the flat CLIP tower, a top-level head.
        let saved = names("language_model.model", Some("lm_head"), "vision_tower", "multi_modal_projector");
        let found = resolve(&saved, false).unwrap();
        assert_eq!((found.vision_tower.as_str(), found.lm_head.as_str()), ("vision_tower", "lm_head"));
    }

    #[test]
    fn a_tied_head_is_the_token_table() {
        let tied = names("language_model.model", None, "vision_tower.vision_model", "multi_modal_projector");
        assert_eq!(resolve(&tied, true).unwrap().lm_head, "language_model.model.embed_tokens");
        let error = resolve(&tied, false).unwrap_err().to_string();
        assert!(error.contains("no output head") && error.contains("`language_model.lm_head.`"), "{error}");
    }

    #[test]
    fn missing_parts_are_named() {
        let full = names("model.language_model", Some("lm_head"), "model.vision_tower", "model.multi_modal_projector");
        let without = |part: &str| -> Vec<String> { full.iter().filter(|n| !n.contains(part)).cloned().collect() };
        let error = |names: Vec<String>| resolve(&names, false).unwrap_err().to_string();
        let projector = error(without("multi_modal_projector"));
        assert!(
            projector.contains(
                "no multi-modal projector: no tensor under `model.multi_modal_projector.` or `multi_modal_projector.`"
            ),
            "{projector}"
        );
        assert!(error(without("vision_tower")).contains("no vision tower"));
        let layer = error(without("language_model.layers.1."));
        assert!(layer.contains("decoder layer 1 of 2 is missing"), "{layer}");
        // The feature layer is -2 of 3: layers 0 and 1 run, layer 2 may be absent but not layer 1.
        assert!(resolve(&without("encoder.layers.2."), false).is_ok());
        assert!(error(without("encoder.layers.1.")).contains("vision layer 1 of 2 is missing"));
        let mut extra = full.clone();
        extra.push("model.language_model.layers.2.mlp.up_proj.weight".into());
        assert!(error(extra).contains("decoder layer 2 (`model.language_model.layers.2.`) but the config declares 2"));
        assert!(error(vec!["vision_model.x".into()]).contains("no LLaVA decoder"));
        let mut both = full.clone();
        both.push("language_model.model.norm.weight".into());
        assert!(error(both).contains("decoder under both"));
    }
}
