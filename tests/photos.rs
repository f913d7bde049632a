//! Real photographs saved the ways cameras and editors save them (EXIF orientations 1–8, CMYK and
//! YCCK, progressive, 16-bit, palettes, transparency, WebP, a large JPEG), against transformers'
//! `load_image` + CLIPImageProcessorPil and clip-random-a's maps in float64, written by
//! tools/make_photo_fixtures.py.

mod common;

use common::{assert_close, assert_close_to_largest, fixture, floats, read_json};
use sightline::backend::cpu::CpuBackend;
use sightline::explain::{Explainer, ImageInput, Method, MethodOptions, Request};
use sightline::loader::ModelFiles;
use sightline::preprocess::{decode_image, ImageLimits, Preprocessor, PreprocessorConfig, CLIP_MEAN, CLIP_STD};

/// Maps of lossless files: the parity contract with transformers.
const PARITY_TOLERANCE: f32 = 2e-3;
/// The JPEG decoder (zune-jpeg) is not libjpeg-turbo: IDCT and chroma upsampling are not specified
/// bit-exactly, and with 4:2:0 chroma zune-jpeg rounds its two upsampling passes apart where
/// libjpeg-turbo rounds once. Measured over these files after the resize: at most 3 levels off,
/// 0.34 on average with 4:2:0 chroma, 0.02 without. (Lossy WebP needs no such bound: VP8 decoding
/// is bit-exact by its specification, and image-webp converts to RGB as libwebp does.)
const JPEG_MAX_LEVELS: u8 = 4;
const JPEG_MEAN_LEVELS: f64 = 0.5;
/// What those levels do to a random model's maps (measured: at most 1.9e-2 of the largest value;
/// lossless files and WebP: 2e-6).
const JPEG_MAP_TOLERANCE: f32 = 2.5e-2;

struct Case {
    file: String,
    jpeg: bool,
    displayed: (u32, u32),
    crop: [f32; 4],
    levels: Vec<u8>,
    attention: Vec<f32>,
    grad_x_input: Vec<f32>,
}

fn cases() -> (serde_json::Value, Vec<Case>) {
    let expected = read_json(&fixture("photos/expected.json"));
    let cases = expected["cases"]
        .as_array()
        .unwrap()
        .iter()
        .map(|case| {
            let crop = &case["crop"];
            Case {
                file: case["file"].as_str().unwrap().to_string(),
                jpeg: case["jpeg"].as_bool().unwrap(),
                displayed: (
                    case["displayed_wh"][0].as_u64().unwrap() as u32,
                    case["displayed_wh"][1].as_u64().unwrap() as u32,
                ),
                crop: ["x", "y", "width", "height"].map(|k| crop[k].as_f64().unwrap() as f32),
                levels: base64(case["levels"].as_str().unwrap()),
                attention: floats(&case["attention"]),
                grad_x_input: floats(&case["grad_x_input"]),
            }
        })
        .collect();
    (expected, cases)
}

fn base64(text: &str) -> Vec<u8> {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let sextets: Vec<u32> = text
        .bytes()
        .filter(|c| *c != b'=')
        .map(|c| ALPHABET.iter().position(|a| *a == c).expect("base64") as u32)
        .collect();
    sextets
        .chunks(4)
        .flat_map(|group| {
            let bits = group.iter().enumerate().fold(0u32, |acc, (i, v)| acc | v << (18 - 6 * i));
            bits.to_be_bytes()[1..group.len()].to_vec()
        })
        .collect()
}

fn read(file: &str) -> Vec<u8> {
    std::fs::read(fixture("photos").join(file)).unwrap_or_else(|e| panic!("{file}: {e}"))
}

/// The 8-bit values the normalized pixels came from: (level / 255 − mean) / std, inverted.
fn levels_of(pixels: &[f32], side: usize) -> Vec<u8> {
    pixels
        .iter()
        .enumerate()
        .map(|(i, v)| {
            let channel = i / (side * side);
            let level = (*v as f64 * CLIP_STD[channel] as f64 + CLIP_MEAN[channel] as f64) * 255.0;
            level.round().clamp(0.0, 255.0) as u8
        })
        .collect()
}

#[test]
fn every_file_decodes_upright_to_transformers_pixels() {
    let (expected, cases) = cases();
    let side = expected["input_size"].as_u64().unwrap() as usize;
    let preprocessor = Preprocessor::new(PreprocessorConfig::clip_default(side));
    let mut jpeg_report = Vec::new();
    let mut failures = Vec::new();
    for case in &cases {
        let image =
            decode_image(&read(&case.file), ImageLimits::default()).unwrap_or_else(|e| panic!("{}: {e}", case.file));
        assert_eq!(image.dimensions(), case.displayed, "{}: size as displayed", case.file);
        let prepared = preprocessor.prepare(&image);
        let crop = prepared.crop;
        assert_close(&format!("{} crop", case.file), &[crop.x, crop.y, crop.width, crop.height], &case.crop, 1e-5);
        let ours = levels_of(&prepared.pixels.data, side);
        assert_eq!(ours.len(), case.levels.len(), "{}: levels", case.file);
        let differences: Vec<u8> = ours.iter().zip(&case.levels).map(|(a, b)| a.abs_diff(*b)).collect();
        let worst = differences.iter().copied().max().unwrap_or(0);
        let mean = differences.iter().map(|d| *d as f64).sum::<f64>() / differences.len() as f64;
        if case.jpeg {
            jpeg_report.push(format!("{} {worst}/{mean:.3}", case.file));
            if worst > JPEG_MAX_LEVELS || mean > JPEG_MEAN_LEVELS {
                failures.push(format!("{}: {worst} levels at worst, {mean:.3} on average", case.file));
            }
        } else if let Some(first) = differences.iter().position(|d| *d != 0) {
            failures.push(format!(
                "{}: value {first} is level {} but transformers has {} ({} values differ)",
                case.file,
                ours[first],
                case.levels[first],
                differences.iter().filter(|d| **d != 0).count()
            ));
        }
    }
    println!("JPEG files, worst/mean levels from transformers: {}", jpeg_report.join(", "));
    assert!(failures.is_empty(), "pixels unlike transformers':\n{}", failures.join("\n"));
}

#[test]
fn every_file_gives_transformers_maps() {
    let (expected, cases) = cases();
    let files = ModelFiles::from_path(&fixture(expected["model"].as_str().unwrap())).unwrap();
    let explainer = Explainer::load(CpuBackend, &files).unwrap();
    let texts = [expected["text"].as_str().unwrap().to_string()];
    for case in &cases {
        let bytes = read(&case.file);
        for (method, want) in [(Method::Attention, &case.attention), (Method::GradXInput, &case.grad_x_input)] {
            let request = Request {
                image: ImageInput::Encoded(&bytes),
                texts: &texts,
                target: 0,
                method,
                options: MethodOptions::default(),
            };
            let explanation = explainer.explain(&request).unwrap_or_else(|e| panic!("{}: {e}", case.file));
            let crop = explanation.crop;
            assert_close(&format!("{} crop", case.file), &[crop.x, crop.y, crop.width, crop.height], &case.crop, 1e-5);
            let what = format!("{} {}", case.file, method.name());
            if case.jpeg {
                assert_close_to_largest(&what, &explanation.patch_scores, want, JPEG_MAP_TOLERANCE);
            } else {
                assert_close(&what, &explanation.patch_scores, want, PARITY_TOLERANCE);
            }
        }
    }
}

/// The eight lossless orientation files store one picture eight ways; each must come out as the
/// same pixels, whatever transformers says.
#[test]
fn the_eight_orientations_show_one_picture() {
    let upright = decode_image(&read("orientation-1.png"), ImageLimits::default()).unwrap();
    for orientation in 2..=8 {
        let file = format!("orientation-{orientation}.png");
        let image = decode_image(&read(&file), ImageLimits::default()).unwrap();
        assert!(image == upright, "{file} is not shown as orientation-1.png is");
    }
}
