//! Every kind of bad input ends in a clear error naming the problem, through the library and
//! through the CLI (non-zero exit, message on stderr, never a panic).

mod common;

use common::fixture;
use safetensors::tensor::TensorView;
use safetensors::SafeTensors;
use sightline::backend::cpu::CpuBackend;
use sightline::explain::{Explainer, ImageInput, Method, MethodOptions, Request};
use sightline::loader::ModelFiles;
use sightline::preprocess::{decode_image, ImageLimits};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

/// A fresh copy of the random-a fixture model that a test may damage.
fn model_copy(test: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("sightline-bad-input-{}-{test}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    for file in ["config.json", "model.safetensors", "tokenizer.json"] {
        std::fs::copy(fixture("clip-random-a").join(file), dir.join(file)).unwrap();
    }
    dir
}

fn load_error(dir: &Path) -> String {
    match ModelFiles::from_path(dir).and_then(|files| Explainer::load(CpuBackend, &files)) {
        Ok(_) => panic!("{} loaded but should not", dir.display()),
        Err(e) => e.to_string(),
    }
}

fn edit_config(dir: &Path, edit: impl FnOnce(&mut serde_json::Value)) {
    let path = dir.join("config.json");
    let mut config: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    edit(&mut config);
    std::fs::write(path, config.to_string()).unwrap();
}

/// Rewrites the weights, letting `edit` drop or replace tensors by name.
fn edit_weights(dir: &Path, edit: impl Fn(&str, &[usize]) -> Option<Vec<usize>>) {
    let path = dir.join("model.safetensors");
    let bytes = std::fs::read(&path).unwrap();
    let file = SafeTensors::deserialize(&bytes).unwrap();
    let mut kept: Vec<(String, Vec<usize>, Vec<u8>)> = Vec::new();
    for (name, view) in file.tensors() {
        if let Some(shape) = edit(&name, view.shape()) {
            let count: usize = shape.iter().product();
            kept.push((name.clone(), shape, vec![0u8; count * view.dtype().bitsize() / 8]));
        }
    }
    let file_dtype = file.tensors()[0].1.dtype();
    let views: Vec<(String, TensorView)> =
        kept.iter().map(|(n, s, d)| (n.clone(), TensorView::new(file_dtype, s.clone(), d).unwrap())).collect();
    std::fs::write(path, safetensors::serialize(views, None).unwrap()).unwrap();
}

#[test]
fn missing_config_is_named() {
    let dir = model_copy("missing-config");
    std::fs::remove_file(dir.join("config.json")).unwrap();
    let error = load_error(&dir);
    assert!(error.contains("config.json"), "{error}");
}

#[test]
fn malformed_config_is_reported() {
    let dir = model_copy("malformed-config");
    std::fs::write(dir.join("config.json"), "{ not json").unwrap();
    let error = load_error(&dir);
    assert!(error.contains("config.json is not valid JSON"), "{error}");
}

#[test]
fn inconsistent_config_is_reported() {
    let dir = model_copy("inconsistent-config");
    edit_config(&dir, |c| c["vision_config"]["num_attention_heads"] = 5.into());
    let error = load_error(&dir);
    assert!(error.contains("vision_config.hidden_size (32) is not divisible by num_attention_heads (5)"), "{error}");

    let dir = model_copy("vocab-mismatch");
    edit_config(&dir, |c| c["text_config"]["vocab_size"] = 100.into());
    let error = load_error(&dir);
    assert!(error.contains("vocab_size"), "{error}");

    let dir = model_copy("bad-activation");
    edit_config(&dir, |c| c["vision_config"]["hidden_act"] = "mish".into());
    let error = load_error(&dir);
    assert!(error.contains("hidden_act `mish` is not supported"), "{error}");
}

#[test]
fn unsupported_architecture_is_named() {
    let dir = model_copy("architecture");
    edit_config(&dir, |c| {
        c["architectures"] = serde_json::json!(["SiglipModel"]);
        c["model_type"] = "siglip".into();
    });
    let error = load_error(&dir);
    assert!(error.contains("unsupported architecture: SiglipModel"), "{error}");
}

#[test]
fn missing_tensor_is_named() {
    let dir = model_copy("missing-tensor");
    edit_weights(&dir, |name, shape| (name != "vision_model.post_layernorm.weight").then(|| shape.to_vec()));
    let error = load_error(&dir);
    assert!(error.contains("missing tensor `vision_model.post_layernorm.weight`"), "{error}");
}

#[test]
fn wrong_shape_is_named() {
    let dir = model_copy("wrong-shape");
    let target = "text_model.encoder.layers.1.mlp.fc1.weight";
    edit_weights(&dir, |name, shape| Some(if name == target { vec![shape[0] + 1, shape[1]] } else { shape.to_vec() }));
    let error = load_error(&dir);
    assert!(error.contains(target) && error.contains("[65, 32]") && error.contains("[64, 32]"), "{error}");
}

#[test]
fn truncated_weights_are_reported() {
    let dir = model_copy("truncated-weights");
    let bytes = std::fs::read(dir.join("model.safetensors")).unwrap();
    std::fs::write(dir.join("model.safetensors"), &bytes[..bytes.len() / 2]).unwrap();
    let error = load_error(&dir);
    assert!(error.contains("not a valid safetensors file"), "{error}");
    std::fs::write(dir.join("model.safetensors"), b"\xff\xff\xff\xff\xff\xff\xff\xff{}").unwrap();
    let error = load_error(&dir);
    assert!(error.contains("not a valid safetensors file"), "{error}");
}

fn explainer() -> Explainer<CpuBackend> {
    Explainer::load(CpuBackend, &ModelFiles::from_path(&fixture("clip-random-a")).unwrap()).unwrap()
}

fn explain_error(image: &[u8], texts: &[&str], target: usize) -> String {
    let texts: Vec<String> = texts.iter().map(|t| t.to_string()).collect();
    let request = Request {
        image: ImageInput::Encoded(image),
        texts: &texts,
        target,
        method: Method::Gradient,
        options: MethodOptions::default(),
    };
    match explainer().explain(&request) {
        Ok(_) => panic!("explained but should not"),
        Err(e) => e.to_string(),
    }
}

fn good_image() -> Vec<u8> {
    std::fs::read(fixture("clip-random-a/image.png")).unwrap()
}

/// A PNG whose header claims `width` × `height`, with valid CRCs and a tiny body.
fn png_claiming(width: u32, height: u32) -> Vec<u8> {
    fn chunk(out: &mut Vec<u8>, kind: &[u8; 4], data: &[u8]) {
        out.extend((data.len() as u32).to_be_bytes());
        let mut body = kind.to_vec();
        body.extend(data);
        out.extend(&body);
        out.extend(crc32(&body).to_be_bytes());
    }
    let mut png = b"\x89PNG\r\n\x1a\n".to_vec();
    let mut header = Vec::new();
    header.extend(width.to_be_bytes());
    header.extend(height.to_be_bytes());
    header.extend([8, 2, 0, 0, 0]);
    chunk(&mut png, b"IHDR", &header);
    chunk(&mut png, b"IDAT", &[0x78, 0x9c, 0x03, 0x00, 0x00, 0x00, 0x00, 0x01]);
    chunk(&mut png, b"IEND", &[]);
    png
}

fn crc32(bytes: &[u8]) -> u32 {
    let mut crc = 0xFFFF_FFFFu32;
    for byte in bytes {
        crc ^= *byte as u32;
        for _ in 0..8 {
            crc = if crc & 1 != 0 { (crc >> 1) ^ 0xEDB8_8320 } else { crc >> 1 };
        }
    }
    !crc
}

#[test]
fn decompression_bomb_is_rejected_from_the_header() {
    let start = Instant::now();
    let error = explain_error(&png_claiming(100_000, 100_000), &["a red circle"], 0);
    assert!(error.contains("too large"), "{error}");
    assert!(start.elapsed().as_secs_f32() < 5.0, "rejection should not decode anything");
}

/// A real photo whose JPEG frame header claims `width` × `height`.
fn jpeg_claiming(width: u16, height: u16) -> Vec<u8> {
    let mut jpeg = std::fs::read(fixture("photos/orientation-1.jpg")).unwrap();
    let mut at = 2;
    // Segment by segment (marker, length) to the baseline frame header.
    while jpeg[at + 1] != 0xC0 {
        at += 2 + u16::from_be_bytes([jpeg[at + 2], jpeg[at + 3]]) as usize;
    }
    // FF C0, length (2), precision (1), height (2), width (2).
    jpeg[at + 5..at + 7].copy_from_slice(&height.to_be_bytes());
    jpeg[at + 7..at + 9].copy_from_slice(&width.to_be_bytes());
    jpeg
}

#[test]
fn oversized_jpegs_are_rejected_from_the_header() {
    // Past the 16k side limit; then within it, but 768 MB decoded, past the 512 MiB limit.
    for (width, height) in [(60_000, 60_000), (16_000, 16_000)] {
        let start = Instant::now();
        let error = explain_error(&jpeg_claiming(width, height), &["a red circle"], 0);
        assert!(error.contains("too large"), "{width} × {height}: {error}");
        assert!(start.elapsed().as_secs_f32() < 5.0, "rejection should not decode anything");
    }
}

#[test]
fn truncated_photos_of_every_format_are_reported() {
    for file in
        ["orientation-6.jpg", "progressive.jpg", "cmyk.jpg", "rgb16.png", "palette-transparent.gif", "lossy.webp"]
    {
        let bytes = std::fs::read(fixture("photos").join(file)).unwrap();
        // Into the pixel data; for a JPEG also just before its end-of-image marker.
        let jpeg_end = if file.ends_with(".jpg") { Some(bytes.len() - 2) } else { None };
        for cut in [bytes.len() / 2, bytes.len() * 3 / 4].into_iter().chain(jpeg_end) {
            match decode_image(&bytes[..cut], ImageLimits::default()) {
                Ok(_) => panic!("{file} cut at {cut} of {} bytes decoded", bytes.len()),
                Err(error) => {
                    let error = error.to_string();
                    assert!(error.starts_with("image: cannot decode the image"), "{file} cut at {cut}: {error}");
                }
            }
        }
    }
}

#[test]
fn unreadable_and_truncated_images_are_reported() {
    let error = explain_error(b"this is not an image at all", &["a red circle"], 0);
    assert!(error.contains("unrecognized image format"), "{error}");
    let image = good_image();
    let error = explain_error(&image[..image.len() / 2], &["a red circle"], 0);
    assert!(error.starts_with("image: cannot decode the image"), "{error}");
    let error = explain_error(&[], &["a red circle"], 0);
    assert!(error.contains("empty"), "{error}");
}

#[test]
fn bad_texts_and_targets_are_reported() {
    let image = good_image();
    assert!(explain_error(&image, &[""], 0).contains("the text is empty"));
    assert!(explain_error(&image, &[], 0).contains("no text given"));
    let error = explain_error(&image, &["a", "b"], 2);
    assert!(error.contains("target 2 is out of range: there are 2 texts"), "{error}");
}

fn cli(args: &[&str]) -> (bool, String, String) {
    let output = Command::new(env!("CARGO_BIN_EXE_sightline")).args(args).output().unwrap();
    (
        output.status.success(),
        String::from_utf8_lossy(&output.stdout).into(),
        String::from_utf8_lossy(&output.stderr).into(),
    )
}

#[test]
fn cli_reports_errors_with_nonzero_exit() {
    let model = fixture("clip-random-a");
    let image = fixture("clip-random-a/image.png");
    let (model, image) = (model.to_str().unwrap(), image.to_str().unwrap());
    let out = std::env::temp_dir().join("sightline-bad-format.gguf");
    let out = out.to_str().unwrap();
    let cases: [(&[&str], &str); 6] = [
        (
            &["explain", "--model", model, "--image", image, "--text", "x", "--method", "saliency"],
            "unknown method `saliency` (known: attention, rollout",
        ),
        (
            &["explain", "--model", model, "--image", "/nonexistent.png", "--text", "x", "--method", "gradient"],
            "/nonexistent.png",
        ),
        (
            &["explain", "--model", "/nonexistent-model", "--image", image, "--text", "x", "--method", "gradient"],
            "no such model folder",
        ),
        (&["explain", "--model", model, "--image", image, "--text", "", "--method", "gradient"], "the text is empty"),
        (
            &["explain", "--model", model, "--image", image, "--text", "x", "--method", "rollout", "--steps", "0"],
            "steps must be between 1 and",
        ),
        (
            &["quantize", "--model", "default", "--to", "q5_0", "--out", out],
            "unknown format `q5_0` (known: q8_0, q4_0, q4_k, f16)",
        ),
    ];
    for (args, message) in cases {
        let (ok, _, stderr) = cli(args);
        assert!(!ok, "{args:?} should fail");
        assert!(stderr.contains(message), "{args:?}: stderr was {stderr}");
        assert!(!stderr.contains("panicked"), "{args:?} panicked: {stderr}");
    }
}

#[test]
fn cli_truncates_overlong_text_with_a_warning() {
    let model = fixture("clip-random-a");
    let image = fixture("clip-random-a/image.png");
    let long = "a red circle ".repeat(20);
    let (ok, stdout, stderr) = cli(&[
        "explain",
        "--model",
        model.to_str().unwrap(),
        "--image",
        image.to_str().unwrap(),
        "--text",
        &long,
        "--method",
        "rollout",
    ]);
    assert!(ok, "{stderr}");
    assert!(stderr.contains("warning: text") && stderr.contains("truncated to the model's limit of 16"), "{stderr}");
    let json: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(json["text_tokens"].as_array().unwrap().len(), 16);
    assert_eq!(json["warnings"].as_array().unwrap().len(), 1);
}

#[test]
fn cli_without_model_reports_missing_default() {
    let image = fixture("clip-random-a/image.png");
    let (ok, _, stderr) = cli(&["explain", "--image", image.to_str().unwrap(), "--text", "x", "--method", "gradient"]);
    if !ok {
        assert!(stderr.contains("--model"), "{stderr}");
    }
}
