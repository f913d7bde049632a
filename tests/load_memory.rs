//! Loading a model holds the model, not the model and its file: the peak resident memory of
//! `ModelFiles::from_path` + `Explainer::load` stays within 1.3 × the file's size, for f32
//! safetensors and for a GGUF file, beside the CPU backend's transposed copies of the dense
//! linear weights (a speed choice made with AVX-512, counted separately). Linux only: it reads
//! the resident size from /proc. One test, since resident memory is the whole process's.

use sightline::backend::cpu::CpuBackend;
use sightline::bench::{benchmark_tokenizer_json, random_clip_safetensors};
use sightline::config::ClipConfig;
use sightline::explain::Explainer;
use sightline::loader::ModelFiles;
use sightline::memory::{peak_rss_mb, reset_peak, resident_mb};
use sightline::quantize::{quantize_model, QuantFormat, QuantizeOptions};
use std::path::{Path, PathBuf};

/// A CLIP of ViT-B/32's proportions with fewer layers and a smaller vocabulary: 150 MB in f32,
/// 40 MB in q8_0, big enough that the process's own memory is a small share.
fn config() -> ClipConfig {
    ClipConfig::from_json(
        &serde_json::json!({
            "architectures": ["CLIPModel"],
            "text_config": { "vocab_size": 8192, "num_hidden_layers": 2, "eos_token_id": 2 },
            "vision_config": { "num_hidden_layers": 4 },
        })
        .to_string(),
    )
    .unwrap()
}

/// Bytes of the transposed copies the CPU backend keeps of the dense linear weights.
fn forward_copy_bytes(config: &ClipConfig) -> usize {
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("avx512f") {
        let tower = |d: usize, i: usize, layers: usize| layers * (4 * d * d + 2 * d * i) + config.projection_dim * d;
        let (text, vision) = (&config.text_config, &config.vision_config);
        return 4
            * (tower(text.hidden_size, text.intermediate_size, text.num_hidden_layers)
                + tower(vision.hidden_size, vision.intermediate_size, vision.num_hidden_layers));
    }
    0
}

/// The peak resident memory (MiB) that loading `path` adds, with the loaded model kept until the
/// peak is read. A first load, not measured, faults in the code that loading runs, which the
/// process keeps resident whatever it loads next.
fn load_peak_mb(path: &Path) -> f64 {
    drop(Explainer::load(CpuBackend, &ModelFiles::from_path(path).unwrap()).unwrap());
    reset_peak();
    let before = resident_mb().expect("resident size from /proc");
    let files = ModelFiles::from_path(path).unwrap();
    let explainer = Explainer::load(CpuBackend, &files).unwrap();
    let peak = peak_rss_mb().unwrap();
    drop((explainer, files));
    peak - before
}

fn megabytes(bytes: usize) -> f64 {
    bytes as f64 / f64::from(1 << 20)
}

#[test]
fn loading_holds_at_most_1_3_times_the_file() {
    let dir: PathBuf = std::env::temp_dir().join(format!("sightline-load-memory-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let config = config();
    std::fs::write(dir.join("config.json"), serde_json::to_string(&config).unwrap()).unwrap();
    std::fs::write(dir.join("tokenizer.json"), benchmark_tokenizer_json(&config)).unwrap();
    std::fs::write(dir.join("model.safetensors"), random_clip_safetensors(&config, 3).unwrap()).unwrap();
    let gguf = quantize_model(
        &ModelFiles::from_path(&dir).unwrap(),
        &QuantizeOptions { format: QuantFormat::Q8_0, quantize_embeddings: false },
    )
    .unwrap();
    std::fs::write(dir.join("model.gguf"), &gguf.bytes).unwrap();
    drop(gguf);

    let copies = megabytes(forward_copy_bytes(&config));
    for (what, path, file) in [
        ("f32 safetensors", dir.clone(), dir.join("model.safetensors")),
        ("q8_0 GGUF", dir.join("model.gguf"), dir.join("model.gguf")),
    ] {
        let file_mb = megabytes(std::fs::metadata(&file).unwrap().len() as usize);
        let peak = load_peak_mb(&path);
        // Quantized linears have no transposed copy.
        let model_copies = if what.contains("GGUF") { 0.0 } else { copies };
        let ratio = (peak - model_copies) / file_mb;
        eprintln!(
            "{what}: file {file_mb:.1} MiB, peak while loading {peak:.1} MiB ({:.2} × the file), \
             {:.2} × without the {model_copies:.1} MiB of transposed copies",
            peak / file_mb,
            ratio
        );
        assert!(ratio <= 1.3, "{what}: loading peaked at {ratio:.2} × the file's size besides the copies");
    }
    std::fs::remove_dir_all(&dir).unwrap();
}
