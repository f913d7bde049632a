//! GGUF files written by `sightline quantize`, against what ggml's own Python reader (the `gguf`
//! package from PyPI, run by tools/read_gguf_with_pypi.py) saw in the files the same command
//! wrote: the same metadata, tensor names, types, shapes and dequantized values. Our writer and
//! reader agreeing with each other proves nothing about the format; this does.

mod common;

use common::{fixture, read_json};
use sightline::loader::gguf::{type_name, GgufFile, MetadataValue};
use sightline::loader::Weights;
use std::path::{Path, PathBuf};
use std::process::Command;

const REGENERATE: &str = "regenerate the fixture with `python3 tools/read_gguf_with_pypi.py`";

fn fnv1a64(bytes: &[u8]) -> String {
    let hash = bytes.iter().fold(0xCBF2_9CE4_8422_2325u64, |h, &b| (h ^ u64::from(b)).wrapping_mul(0x100_0000_01B3));
    format!("{hash:016x}")
}

fn default_model_folder() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("assets/default-model")
}

fn quantize_with_the_cli(format: &str) -> Vec<u8> {
    let out = std::env::temp_dir().join(format!("sightline-pypi-{}-{format}.gguf", std::process::id()));
    let output = Command::new(env!("CARGO_BIN_EXE_sightline"))
        .args(["quantize", "--model"])
        .arg(default_model_folder())
        .args(["--to", format, "--out"])
        .arg(&out)
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let bytes = std::fs::read(&out).unwrap();
    std::fs::remove_file(&out).unwrap();
    bytes
}

fn check_metadata(format: &str, file: &GgufFile, expected: &serde_json::Map<String, serde_json::Value>) {
    let ours: Vec<&str> = file.metadata_keys().collect();
    let mut theirs: Vec<&str> = expected.keys().map(String::as_str).collect();
    theirs.sort_unstable();
    assert_eq!(ours, theirs, "{format}: metadata keys");
    for (key, want) in expected {
        let what = format!("{format} metadata `{key}`");
        match (file.metadata(key).unwrap(), want["type"].as_str().unwrap()) {
            (MetadataValue::Unsigned(value), "UINT32") => assert_eq!(Some(*value), want["value"].as_u64(), "{what}"),
            (MetadataValue::String(text), "STRING") => match want.get("value") {
                Some(value) => assert_eq!(Some(*text), value.as_str(), "{what}"),
                None => {
                    assert_eq!(Some(text.len() as u64), want["length"].as_u64(), "{what}: length");
                    assert_eq!(fnv1a64(text.as_bytes()), want["fnv1a64"].as_str().unwrap(), "{what}: hash");
                }
            },
            (ours, theirs) => panic!("{what}: we read {ours:?}, ggml's reader a {theirs}"),
        }
    }
}

fn check_tensors(format: &str, bytes: &[u8], expected: &[serde_json::Value]) {
    let file = GgufFile::parse(bytes).unwrap();
    let weights = Weights::from_bytes(bytes).unwrap();
    let names: Vec<&str> = file.tensors().iter().map(|t| t.name).collect();
    let theirs: Vec<&str> = expected.iter().map(|t| t["name"].as_str().unwrap()).collect();
    assert_eq!(names, theirs, "{format}: tensor names");
    for want in expected {
        let name = want["name"].as_str().unwrap();
        let what = format!("{format} `{name}`");
        let tensor = file.tensor(name).unwrap();
        assert_eq!(type_name(tensor.dtype).to_uppercase(), want["type"].as_str().unwrap(), "{what}: type");
        let shape: Vec<usize> =
            want["shape"].as_array().unwrap().iter().map(|d| d.as_u64().unwrap() as usize).collect();
        assert_eq!(tensor.shape(), shape, "{what}: shape");
        let values = weights.get(name, &shape).unwrap().data;
        for sample in want["samples"].as_array().unwrap() {
            let (index, value) = (sample[0].as_u64().unwrap() as usize, sample[1].as_f64().unwrap() as f32);
            assert_eq!(values[index].to_bits(), value.to_bits(), "{what}[{index}]: {} vs {value}", values[index]);
        }
        let sum: f64 = values.iter().map(|&v| f64::from(v)).sum();
        let sum_abs: f64 = values.iter().map(|&v| f64::from(v.abs())).sum();
        let (want_sum, want_abs) = (want["sum"].as_f64().unwrap(), want["sum_abs"].as_f64().unwrap());
        // Only the order of the f64 additions differs (numpy sums pairwise).
        let bound = 1e-9 * want_abs.max(f64::MIN_POSITIVE);
        assert!((sum - want_sum).abs() <= bound, "{what}: Σ values {sum} vs {want_sum}");
        assert!((sum_abs - want_abs).abs() <= bound, "{what}: Σ |values| {sum_abs} vs {want_abs}");
    }
}

#[test]
fn every_format_reads_as_ggml_s_own_reader_reads_it() {
    let expected = read_json(&fixture("gguf-pypi/default-model.json"));
    let weights = std::fs::read(default_model_folder().join("model.safetensors")).unwrap();
    assert_eq!(
        fnv1a64(&weights),
        expected["weights_fnv1a64"].as_str().unwrap(),
        "the default model changed since the fixture was written: {REGENERATE}"
    );
    let formats = expected["formats"].as_object().unwrap();
    assert_eq!(formats.keys().collect::<Vec<_>>(), ["f16", "q4_0", "q4_k", "q8_0"], "{REGENERATE}");
    for (format, want) in formats {
        let bytes = quantize_with_the_cli(format);
        check_metadata(format, &GgufFile::parse(&bytes).unwrap(), want["metadata"].as_object().unwrap());
        check_tensors(format, &bytes, want["tensors"].as_array().unwrap());
    }
}
