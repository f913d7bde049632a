//! Image preprocessing and tokenization against transformers' CLIPImageProcessor (PIL) and
//! CLIPTokenizerFast, written by tools/make_fixtures.py and tools/build_clip_tokenizer.py.

mod common;

use common::{assert_close, fixture, floats, read_json};
use sightline::config::ClipTextConfig;
use sightline::preprocess::{decode_image, ImageLimits, Preprocessor, PreprocessorConfig, TextEncoder};

#[test]
fn pixels_match_clip_image_processor() {
    let expected = read_json(&fixture("preprocess/expected.json"));
    let preprocessor = Preprocessor::new(PreprocessorConfig::clip_default(32));
    for case in expected["cases"].as_array().unwrap() {
        let file = case["file"].as_str().unwrap();
        let bytes = std::fs::read(fixture("preprocess").join(file)).unwrap();
        let image = decode_image(&bytes, ImageLimits::default()).unwrap();
        let prepared = preprocessor.prepare(&image);
        assert_eq!(prepared.pixels.shape, vec![3, 32, 32], "{file}");
        let want = floats(&case["pixel_values"]);
        if file.ends_with(".jpg") {
            assert_jpeg_close(file, &prepared.pixels.data, &want);
        } else {
            // Bit-exact resampling leaves only float rounding: far below one 8-bit step (≈0.015).
            assert_close(file, &prepared.pixels.data, &want, 1e-5);
        }
    }
}

/// JPEG decoders may differ by one level in a few pixels (IDCT and chroma upsampling are not
/// specified bit-exactly); resampling and normalization must add nothing on top of that.
fn assert_jpeg_close(file: &str, actual: &[f32], expected: &[f32]) {
    let level = 1.0 / 255.0 / sightline::preprocess::CLIP_STD.iter().fold(1f32, |m, s| m.min(*s));
    let errors: Vec<f32> = actual.iter().zip(expected).map(|(a, e)| (a - e).abs() / level).collect();
    let worst = errors.iter().fold(0f32, |m, e| m.max(*e));
    let mean = errors.iter().sum::<f32>() / errors.len() as f32;
    assert!(worst <= 2.01 && mean < 0.25, "{file}: worst {worst:.2} levels, mean {mean:.3} levels");
}

fn clip_text_config(vocab_size: usize, max_positions: usize) -> ClipTextConfig {
    serde_json::from_value(serde_json::json!({
        "vocab_size": vocab_size, "max_position_embeddings": max_positions, "eos_token_id": 2
    }))
    .unwrap()
}

fn real_clip_tokenizer(max_positions: usize) -> TextEncoder {
    let json = std::fs::read(fixture("tokenizer/clip/tokenizer.json")).unwrap();
    TextEncoder::new(&json, &clip_text_config(49408, max_positions)).unwrap()
}

#[test]
fn real_clip_tokenizer_matches_transformers() {
    let cases = read_json(&fixture("tokenizer/cases.json"));
    let encoder = real_clip_tokenizer(10_000);
    for (text, ids) in cases["texts"].as_array().unwrap().iter().zip(cases["ids"].as_array().unwrap()) {
        let text = text.as_str().unwrap();
        let want: Vec<u32> = ids.as_array().unwrap().iter().map(|v| v.as_u64().unwrap() as u32).collect();
        if text.trim().is_empty() {
            assert!(encoder.encode(text).is_err(), "blank text `{text:?}` is rejected");
            continue;
        }
        let ours = encoder.encode(text).unwrap_or_else(|e| panic!("`{text}`: {e}"));
        assert_eq!(ours.ids, want, "ids of {text:?}");
    }
}

#[test]
fn overlong_text_is_truncated_with_a_warning() {
    let encoder = real_clip_tokenizer(77);
    let text = "a photo of a cat ".repeat(40);
    let tokenized = encoder.encode(&text).unwrap();
    assert_eq!(tokenized.ids.len(), 77);
    assert_eq!(*tokenized.ids.last().unwrap(), 49407, "the end-of-text token survives truncation");
    assert_eq!(tokenized.pooled_position, 76);
    let warning = tokenized.warning.expect("a truncation warning");
    assert!(warning.contains("truncated") && warning.contains("77"), "{warning}");
    assert!(encoder.encode("a photo of a cat").unwrap().warning.is_none());
}

#[test]
fn empty_text_is_rejected() {
    let encoder = real_clip_tokenizer(77);
    for text in ["", "   ", "\n\t"] {
        let error = encoder.encode(text).unwrap_err().to_string();
        assert!(error.contains("empty"), "{error}");
    }
}
