//! The ViT-B/32-size reference of tools/make_vit_b32_reference.py: openai/clip-vit-base-patch32's
//! config with random weights drawn from a seed (151 M values, never committed), its real
//! tokenizer, and transformers' float64 explanations of one image.

use super::{fixture, read_json};
use safetensors::tensor::{Dtype, TensorView};
use sightline::explain::noise::SplitMix64;
use sightline::explain::MethodOptions;
use sightline::loader::ModelFiles;

pub struct Reference {
    pub files: ModelFiles,
    pub expected: serde_json::Value,
    pub image: Vec<u8>,
    pub texts: Vec<String>,
    pub target: usize,
    pub options: MethodOptions,
}

/// The values of tensor `index` of the fixture's list: SplitMix64 from state `seed + index`,
/// each output's top 53 bits a uniform u in [0, 1), the weight center + half_width · (2u − 1) in
/// float64 rounded to float32, exactly as the tool draws them with numpy.
fn draw(seed: u64, index: usize, count: usize, center: f64, half_width: f64) -> Vec<u8> {
    let mut rng = SplitMix64::new(seed.wrapping_add(index as u64));
    (0..count).flat_map(|_| ((center + half_width * (2.0 * rng.next_f64() - 1.0)) as f32).to_le_bytes()).collect()
}

/// model.safetensors of the reference, drawn from the list in `weights`.
fn safetensors_bytes(weights: &serde_json::Value) -> Vec<u8> {
    let seed = weights["seed"].as_u64().unwrap();
    let tensors: Vec<(String, Vec<usize>, Vec<u8>)> = weights["tensors"]
        .as_array()
        .unwrap()
        .iter()
        .enumerate()
        .map(|(index, entry)| {
            let name = entry[0].as_str().unwrap().to_string();
            let shape: Vec<usize> = entry[1].as_array().unwrap().iter().map(|d| d.as_u64().unwrap() as usize).collect();
            let (center, half_width) = (entry[2].as_f64().unwrap(), entry[3].as_f64().unwrap());
            let data = draw(seed, index, shape.iter().product(), center, half_width);
            (name, shape, data)
        })
        .collect();
    let views: Vec<(String, TensorView)> =
        tensors.iter().map(|(n, s, d)| (n.clone(), TensorView::new(Dtype::F32, s.clone(), d).unwrap())).collect();
    safetensors::serialize(views, None).unwrap()
}

pub fn load() -> Reference {
    let folder = fixture("clip-vit-b32-random");
    let expected = read_json(&folder.join("expected.json"));
    let files = ModelFiles {
        name: "clip-vit-b32-random".into(),
        config_json: std::fs::read_to_string(folder.join("config.json")).unwrap(),
        weights: safetensors_bytes(&expected["weights"]).into(),
        tokenizer_json: std::fs::read(fixture("tokenizer/clip/tokenizer.json")).unwrap(),
        preprocessor_json: None,
        generative: Default::default(),
    };
    Reference {
        files,
        image: std::fs::read(folder.join("image.png")).unwrap(),
        texts: expected["texts"].as_array().unwrap().iter().map(|t| t.as_str().unwrap().to_string()).collect(),
        target: expected["target"].as_u64().unwrap() as usize,
        options: MethodOptions {
            steps: expected["options"]["steps"].as_u64().unwrap() as usize,
            ..MethodOptions::default()
        },
        expected,
    }
}

/// The pixels of a (side × side) pixel map that the fixture stores: rows and columns
/// offset + stride · i for i < count.
pub fn sampled_pixels(expected: &serde_json::Value, pixel_map: &[f32], side: usize) -> Vec<f32> {
    let sample = &expected["pixel_sample"];
    let at = |key: &str| sample[key].as_u64().unwrap() as usize;
    let lines: Vec<usize> = (0..at("count")).map(|i| at("offset") + at("stride") * i).collect();
    lines.iter().flat_map(|&row| lines.iter().map(move |&col| pixel_map[row * side + col])).collect()
}
