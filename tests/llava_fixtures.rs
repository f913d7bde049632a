//! Self-consistency of the LLaVA reference folders written by tools/make_llava_fixtures.py: the
//! checkpoint layouts each folder stands for, the prompt and generation records, and every map's
//! length and invariants. The parity tests trust these files; this test guards the files.

mod common;

use common::{fixture, read_json};
use safetensors::{Dtype, SafeTensors};
use serde_json::Value;

const FOLDERS: [&str; 3] = ["llava-random-a", "llava-random-b", "llava-random-c"];
/// Methods every generated token has in every folder.
const PER_TOKEN: [&str; 7] =
    ["attention", "rollout", "chefer", "chefer_vision", "gradient", "grad_x_input", "token_activation"];
/// Methods read off a row over sequence positions (the CLS image token included).
const ROW_METHODS: [&str; 4] = ["attention", "rollout", "chefer", "token_activation"];
/// Methods folder a has for every token and b and c for one.
const PIXEL_PASSES: [&str; 3] = ["integrated_gradients", "smoothgrad", "occlusion"];

fn ints(value: &Value) -> Vec<i64> {
    value.as_array().expect("an array").iter().map(|v| v.as_i64().expect("an integer")).collect()
}

fn numbers(value: &Value) -> Vec<f64> {
    value.as_array().expect("an array").iter().map(|v| v.as_f64().expect("a number")).collect()
}

/// Sizes every record in one expected.json must agree with.
struct Layout {
    grid: usize,
    patch: usize,
    input_len: usize,
    image_positions: Vec<usize>,
    cls_is_image_token: bool,
}

impl Layout {
    fn of(expected: &Value) -> Layout {
        Layout {
            grid: expected["patch_grid"][0].as_u64().unwrap() as usize,
            patch: expected["patch_size"].as_u64().unwrap() as usize,
            input_len: expected["input_ids"].as_array().unwrap().len(),
            image_positions: ints(&expected["image_positions"]).into_iter().map(|p| p as usize).collect(),
            cls_is_image_token: expected["vision_feature_select_strategy"] == "full",
        }
    }

    fn side(&self) -> usize {
        self.grid * self.patch
    }

    /// Non-image positions 0..=q in order.
    fn text_positions(&self, q: usize) -> Vec<usize> {
        (0..=q).filter(|p| !self.image_positions.contains(p)).collect()
    }

    /// Per-patch mean (or sum) of a side × side pixel map, row-major over the grid.
    fn reduce(&self, pixels: &[f64], mean: bool) -> Vec<f64> {
        let (side, p) = (self.side(), self.patch);
        let mut out = vec![0.0; self.grid * self.grid];
        for (i, v) in pixels.iter().enumerate() {
            out[(i / side / p) * self.grid + (i % side) / p] += v;
        }
        let count = (p * p) as f64;
        out.iter().map(|v| if mean { v / count } else { *v }).collect()
    }
}

fn assert_near(what: &str, actual: &[f64], expected: &[f64]) {
    assert_eq!(actual.len(), expected.len(), "{what}: length");
    let scale = expected.iter().fold(1e-300f64, |m, v| m.max(v.abs()));
    for (i, (a, e)) in actual.iter().zip(expected).enumerate() {
        assert!((a - e).abs() <= 1e-9 * scale, "{what}[{i}]: {a} vs {e}");
    }
}

#[test]
fn prompt_image_tokens_and_generation_records_agree() {
    for name in FOLDERS {
        let expected = read_json(&fixture(name).join("expected.json"));
        let config = read_json(&fixture(name).join("config.json"));
        let layout = Layout::of(&expected);
        let image_id = expected["image_token_id"].as_i64().unwrap();
        assert_eq!(config["image_token_index"].as_i64(), Some(image_id), "{name}");
        assert_eq!(config["vision_config"]["image_size"].as_u64(), Some(layout.side() as u64), "{name}");
        assert_eq!(config["vision_config"]["patch_size"].as_u64(), Some(layout.patch as u64), "{name}");
        let ids = ints(&expected["input_ids"]);
        let found: Vec<usize> = (0..ids.len()).filter(|&i| ids[i] == image_id).collect();
        assert_eq!(found, layout.image_positions, "{name}: image positions");
        let image_tokens = layout.grid * layout.grid + usize::from(layout.cls_is_image_token);
        assert_eq!(found.len(), image_tokens, "{name}: expanded <image> count");
        assert_eq!(expected["formatted_prompt"].as_str().unwrap().matches("<image>").count(), 1, "{name}");
        let side = layout.side();
        assert_eq!(numbers(&expected["pixel_values"]).len(), 3 * side * side, "{name}: pixel values");
        assert_eq!(ints(&expected["pixel_values_shape"]), vec![3, side as i64, side as i64], "{name}");

        let generated = ints(&expected["generated_ids"]);
        let logits = numbers(&expected["generated_logits"]);
        let top = expected["generated_top"].as_array().unwrap();
        let eos = ints(&expected["eos_token_ids"]);
        assert!(generated.len() <= expected["max_new_tokens"].as_u64().unwrap() as usize, "{name}");
        assert!(generated.len() >= 4 && logits.len() == generated.len() && top.len() == generated.len(), "{name}");
        for (k, step) in top.iter().enumerate() {
            let step: Vec<(i64, f64)> =
                step.as_array().unwrap().iter().map(|p| (p[0].as_i64().unwrap(), p[1].as_f64().unwrap())).collect();
            assert_eq!(step[0], (generated[k], logits[k]), "{name}: step {k}'s greedy pick heads its top list");
            assert!(step.windows(2).all(|w| w[0].1 >= w[1].1), "{name}: step {k}'s top list is sorted");
        }
        let vocab = config["text_config"]["vocab_size"].as_f64().unwrap();
        for (k, p) in numbers(&expected["generated_probs"]).iter().enumerate() {
            assert!(*p <= 1.0 && p * vocab >= 1.0, "{name}: step {k}'s greedy pick has probability {p}");
        }
        let stops = generated.iter().position(|t| eos.contains(t));
        assert!(stops.is_none_or(|k| k + 1 == generated.len()), "{name}: nothing follows an EOS");
        let contrast = &expected["contrast"];
        let k = contrast["token"].as_u64().unwrap() as usize;
        assert_ne!(contrast["id"].as_i64().unwrap(), generated[k], "{name}: the contrast is another token");
    }
}

fn check_methods(name: &str, layout: &Layout, q: usize, methods: &Value, contrastive: bool) {
    let text_len = layout.text_positions(q).len();
    let patches = layout.grid * layout.grid;
    for (method, entry) in methods.as_object().unwrap() {
        let what = format!("{name} {method} at position {q}");
        let patch = numbers(&entry["patch_scores"]);
        assert_eq!(patch.len(), patches, "{what}: one score per patch");
        let cls_expected = layout.cls_is_image_token && ROW_METHODS.contains(&method.as_str());
        assert_eq!(entry.get("cls_score").is_some(), cls_expected, "{what}: a CLS score where CLS is an image token");
        if let Some(text) = entry.get("text_scores") {
            assert_eq!(numbers(text).len(), text_len, "{what}: one score per text position");
        }
        let all: Vec<f64> = entry
            .as_object()
            .unwrap()
            .iter()
            .filter(|(k, _)| k.ends_with("_scores"))
            .flat_map(|(_, v)| numbers(v))
            .collect();
        assert!(all.iter().all(|v| v.is_finite()), "{what}: finite");
        assert!(all.iter().any(|v| *v != all[0]), "{what}: not constant");
        if let Some(pixels) = entry.get("pixel_scores") {
            let pixels = numbers(pixels);
            assert_eq!(pixels.len(), layout.side() * layout.side(), "{what}: one score per pixel");
            let mean = matches!(method.as_str(), "gradient" | "smoothgrad");
            assert_near(&format!("{what}: patch aggregation"), &patch, &layout.reduce(&pixels, mean));
        }
    }
    let has = |m: &str| methods.get(m).is_some();
    if contrastive {
        assert!(["chefer", "chefer_vision", "gradient", "grad_x_input"].iter().all(|m| has(m)), "{name}: contrast");
        assert!(!has("token_activation") && !has("attention"), "{name}: no contrastive form of these");
        return;
    }
    assert!(PER_TOKEN.iter().all(|m| has(m)), "{name}: position {q} lacks a per-token method");
    assert_eq!(methods["chefer_vision"]["text_scores"], methods["chefer"]["text_scores"], "{name}");
    assert!(numbers(&methods["token_activation"]["patch_scores"]).iter().all(|v| *v >= 0.0), "{name}");
    for stochastic in ["attention", "rollout"] {
        // Both rows are probability rows over positions 0..=q: image part + CLS + text part = 1.
        let entry = &methods[stochastic];
        let total: f64 = numbers(&entry["patch_scores"]).iter().sum::<f64>()
            + entry.get("cls_score").map_or(0.0, |v| v.as_f64().unwrap())
            + numbers(&entry["text_scores"]).iter().sum::<f64>();
        assert!((total - 1.0).abs() < 1e-9, "{name} {stochastic} at {q}: the row sums to {total}");
    }
}

#[test]
fn every_map_has_its_length_and_invariants() {
    for name in FOLDERS {
        let expected = read_json(&fixture(name).join("expected.json"));
        let layout = Layout::of(&expected);
        let tokens = expected["tokens"].as_array().unwrap();
        let generated = ints(&expected["generated_ids"]);
        assert_eq!(tokens.len(), generated.len(), "{name}: one entry per generated token");
        let mut with_pixel_passes = 0;
        for (k, token) in tokens.iter().enumerate() {
            let q = layout.input_len + k - 1;
            assert_eq!(token["index"].as_u64(), Some(k as u64), "{name}");
            assert_eq!(token["id"].as_i64(), Some(generated[k]), "{name}");
            assert_eq!(token["position"].as_u64(), Some(q as u64), "{name}: q = len(input_ids) + k - 1");
            let listed: Vec<usize> = ints(&token["text_positions"]).into_iter().map(|p| p as usize).collect();
            assert_eq!(listed, layout.text_positions(q), "{name}: text positions of token {k}");
            check_methods(name, &layout, q, &token["methods"], false);
            let passes = PIXEL_PASSES.iter().filter(|m| token["methods"].get(**m).is_some()).count();
            assert!(passes == 0 || passes == PIXEL_PASSES.len(), "{name}: token {k} has some pixel passes");
            with_pixel_passes += usize::from(passes > 0);
        }
        let wanted = if name.ends_with('a') { tokens.len() } else { 1 };
        assert_eq!(with_pixel_passes, wanted, "{name}: tokens with integrated gradients, smoothgrad, occlusion");
        let contrast_position = layout.input_len + expected["contrast"]["token"].as_u64().unwrap() as usize - 1;
        check_methods(name, &layout, contrast_position, &expected["contrast_methods"], true);
    }
}

/// (tensor names, dtypes) of a folder's safetensors, over every shard of an index.
fn tensors(name: &str) -> (Vec<String>, Vec<Dtype>) {
    let folder = fixture(name);
    let files: Vec<String> = match std::fs::read_to_string(folder.join("model.safetensors.index.json")) {
        Ok(index) => {
            let index: Value = serde_json::from_str(&index).unwrap();
            let mut shards: Vec<String> =
                index["weight_map"].as_object().unwrap().values().map(|v| v.as_str().unwrap().to_string()).collect();
            shards.sort();
            shards.dedup();
            shards
        }
        Err(_) => vec!["model.safetensors".to_string()],
    };
    let (mut names, mut dtypes) = (Vec::new(), Vec::new());
    for file in &files {
        let bytes = std::fs::read(folder.join(file)).unwrap_or_else(|e| panic!("{name}/{file}: {e}"));
        let tensors = SafeTensors::deserialize(&bytes).unwrap();
        for (tensor, view) in tensors.tensors() {
            names.push(tensor);
            dtypes.push(view.dtype());
        }
    }
    (names, dtypes)
}

#[test]
fn checkpoints_are_laid_out_as_their_generation_publishes_them() {
    // (folder, the prefixes of its generation, a prefix it must not use, dtype, lm_head saved)
    let cases: [(&str, &[&str], &str, Dtype, bool); 3] = [
        (
            "llava-random-a",
            &["model.language_model.", "model.vision_tower.", "model.multi_modal_projector.", "lm_head."],
            "model.vision_tower.vision_model.",
            Dtype::F32,
            true,
        ),
        (
            "llava-random-b",
            &["language_model.model.", "vision_tower.vision_model.", "multi_modal_projector."],
            "model.",
            Dtype::F16,
            false,
        ),
        (
            "llava-random-c",
            &["language_model.model.", "vision_tower.", "multi_modal_projector."],
            "vision_tower.vision_model.",
            Dtype::BF16,
            false,
        ),
    ];
    for (name, prefixes, absent, dtype, has_head) in cases {
        let (names, dtypes) = tensors(name);
        assert!(!names.iter().any(|n| n.starts_with(absent)), "{name}: a tensor under {absent}");
        for prefix in prefixes {
            assert!(names.iter().any(|n| n.starts_with(prefix)), "{name}: no tensor under {prefix}");
        }
        assert!(names.iter().all(|n| prefixes.iter().any(|p| n.starts_with(p))), "{name}: a foreign tensor name");
        assert!(dtypes.iter().all(|d| *d == dtype), "{name}: every tensor is {dtype:?}");
        assert_eq!(names.iter().any(|n| n.ends_with("lm_head.weight")), has_head, "{name}: lm_head tensor");
        let config = read_json(&fixture(name).join("config.json"));
        let tied = config["tie_word_embeddings"].as_bool().unwrap_or(false)
            || config["text_config"]["tie_word_embeddings"].as_bool().unwrap_or(false);
        assert_eq!(tied, !has_head, "{name}: a tied head is never saved");
    }
    let index = read_json(&fixture("llava-random-c/model.safetensors.index.json"));
    let shards: std::collections::BTreeSet<&str> =
        index["weight_map"].as_object().unwrap().values().map(|v| v.as_str().unwrap()).collect();
    assert_eq!(shards.len(), 2, "folder c is sharded in two");
}
