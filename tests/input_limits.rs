//! Every size an outside input declares is bounded, with an error naming the limit, before
//! anything is allocated for it: config sizes, text length, the resize target, image and JSON
//! files, scenes. A long, thin image costs its crop, not its resized size.

mod common;

use common::fixture;
use image::RgbImage;
use sightline::backend::cpu::CpuBackend;
use sightline::config::ClipConfig;
use sightline::explain::Explainer;
use sightline::loader::ModelFiles;
use sightline::preprocess::{read_image_file, Preprocessor, PreprocessorConfig, MAX_TEXT_BYTES};
use sightline::scene::{Scene, SceneSpec};
use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::path::PathBuf;
use std::process::Command;

/// Counts the bytes this thread holds and their peak, so a test can bound what one call
/// allocates while other tests run in parallel.
struct CountingAllocator;

thread_local! {
    static HELD: Cell<isize> = const { Cell::new(0) };
    static PEAK: Cell<isize> = const { Cell::new(0) };
}

unsafe impl GlobalAlloc for CountingAllocator {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let _ = HELD.try_with(|held| {
            held.set(held.get() + layout.size() as isize);
            let _ = PEAK.try_with(|peak| peak.set(peak.get().max(held.get())));
        });
        System.alloc(layout)
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        let _ = HELD.try_with(|held| held.set(held.get() - layout.size() as isize));
        System.dealloc(ptr, layout)
    }
}

#[global_allocator]
static ALLOCATOR: CountingAllocator = CountingAllocator;

/// The peak bytes `f` allocates on this thread beyond what was held before.
fn peak_allocation<T>(f: impl FnOnce() -> T) -> (T, isize) {
    let start = HELD.with(Cell::get);
    PEAK.with(|peak| peak.set(start));
    let result = f();
    (result, PEAK.with(Cell::get) - start)
}

fn config_error(edit: impl FnOnce(&mut serde_json::Value)) -> String {
    let text = std::fs::read_to_string(fixture("clip-random-a/config.json")).unwrap();
    let mut config: serde_json::Value = serde_json::from_str(&text).unwrap();
    edit(&mut config);
    match ClipConfig::from_json(&config.to_string()) {
        Ok(_) => panic!("the config was accepted"),
        Err(e) => e.to_string(),
    }
}

#[test]
fn config_sizes_beyond_the_limits_are_refused() {
    let error = config_error(|c| c["text_config"]["hidden_size"] = (1u64 << 40).into());
    assert!(error.contains("text_config.hidden_size is 1099511627776; at most 65536"), "{error}");
    let error = config_error(|c| c["vision_config"]["image_size"] = 100_000.into());
    assert!(error.contains("vision_config.image_size is 100000; at most 4096"), "{error}");
    let error = config_error(|c| {
        c["vision_config"]["image_size"] = 4096.into();
        c["vision_config"]["patch_size"] = 4.into();
    });
    assert!(error.contains("makes 1048576 patches") && error.contains("at most 65536"), "{error}");
    let error = config_error(|c| c["text_config"]["num_hidden_layers"] = 5000.into());
    assert!(error.contains("num_hidden_layers is 5000; at most 1024"), "{error}");
    let error = config_error(|c| c["vision_config"]["layer_norm_eps"] = (-1.0).into());
    assert!(error.contains("layer_norm_eps is -1; it must be finite and not negative"), "{error}");
}

#[test]
fn texts_longer_than_the_limit_are_refused_before_tokenizing() {
    let explainer = Explainer::load(CpuBackend, &ModelFiles::from_path(&fixture("clip-random-a")).unwrap()).unwrap();
    let long = "a red circle ".repeat(MAX_TEXT_BYTES / 13 + 1);
    let error = explainer.tokenize(&long).unwrap_err().to_string();
    assert!(error.contains(&format!("is {} bytes long; at most {MAX_TEXT_BYTES}", long.len())), "{error}");
    let within = &long[..MAX_TEXT_BYTES];
    let tokenized = explainer.tokenize(within).unwrap();
    assert!(tokenized.warning.unwrap().contains("truncated to the model's limit of 16"));
}

#[test]
fn resize_targets_beyond_the_limit_are_refused() {
    let error = PreprocessorConfig::from_json(r#"{"size": 20000, "crop_size": 96}"#, 96).unwrap_err().to_string();
    assert!(error.contains("size 20000 is larger than the limit of 16384"), "{error}");
}

#[test]
fn a_long_thin_image_costs_its_crop_not_its_resized_size() {
    // Resized to 96 wide, this image would be 1.5 million pixels tall (450 MB); the crop keeps
    // 96 × 96 of it.
    let tall = RgbImage::from_fn(1, 16_384, |_, y| image::Rgb([(y % 256) as u8, 40, 200]));
    let preprocessor = Preprocessor::new(PreprocessorConfig::clip_default(96));
    let (prepared, peak) = peak_allocation(|| preprocessor.prepare(&tall));
    assert!(peak < 8 << 20, "preparing a 1 × 16384 image allocated {peak} bytes");
    assert_eq!(prepared.pixels.shape, [3, 96, 96]);
    // The crop's rows come from the middle of the stretched image: their source rows vary.
    let first_column: Vec<f32> = (0..96).map(|y| prepared.pixels.data[y * 96]).collect();
    assert!(first_column.windows(2).any(|w| w[0] != w[1]), "the crop should follow the image's gradient");
}

fn temp_dir(test: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("sightline-limits-{}-{test}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

#[test]
fn image_files_that_are_not_regular_or_too_large_are_refused() {
    let dir = temp_dir("image-files");
    let error = read_image_file(&dir).unwrap_err().to_string();
    assert!(error.contains("is not a regular file"), "{error}");
    // Sparse: the size is declared, nothing is written.
    let huge = dir.join("huge.png");
    std::fs::File::create(&huge).unwrap().set_len(257 << 20).unwrap();
    let error = read_image_file(&huge).unwrap_err().to_string();
    assert!(error.contains("image files over 256 MiB are refused"), "{error}");
    let output = Command::new(env!("CARGO_BIN_EXE_sightline"))
        .args(["explain", "--image", "/dev/zero", "--text", "x", "--method", "rollout"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success() && stderr.contains("/dev/zero: is not a regular file"), "{stderr}");
}

#[test]
fn json_files_over_the_limit_are_refused_before_reading() {
    let dir = temp_dir("json-files");
    for file in ["model.safetensors", "tokenizer.json"] {
        std::fs::copy(fixture("clip-random-a").join(file), dir.join(file)).unwrap();
    }
    std::fs::File::create(dir.join("config.json")).unwrap().set_len(65 << 20).unwrap();
    let error = ModelFiles::from_path(&dir).err().expect("the folder was accepted").to_string();
    assert!(error.contains("config.json: is 68157440 bytes; JSON files over 64 MiB are refused"), "{error}");
}

#[test]
fn scenes_beyond_the_size_limit_are_refused() {
    let error = Scene::generate(0, 100_000, &SceneSpec::default()).err().expect("a scene was drawn").to_string();
    assert!(error.contains("image size 100000 is outside 24..=4096"), "{error}");
}
