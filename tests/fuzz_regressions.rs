//! Replays every input the fuzz targets keep (fuzz/seeds/<target>/: valid files of each kind;
//! fuzz/corpus/<target>/: what the fuzzer found that reaches new code) and every input that once
//! made one fail (tests/fuzz_regressions/<target>/) through the entry functions the targets call
//! (`sightline::fuzzing`), so `cargo test` re-checks them on stable in seconds, without nightly.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};

fn inputs(folder: &Path) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(folder) else { return Vec::new() };
    let mut files: Vec<PathBuf> = entries.map(|e| e.unwrap().path()).filter(|p| p.is_file()).collect();
    files.sort();
    files
}

/// Runs every saved input of `target` through `entry`; fails naming each input that panics.
fn replay(target: &str, entry: fn(&[u8])) {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let seeds = inputs(&root.join("fuzz/seeds").join(target));
    assert!(!seeds.is_empty(), "fuzz/seeds/{target} has no inputs");
    let found = inputs(&root.join("fuzz/corpus").join(target));
    let regressions = inputs(&root.join("tests/fuzz_regressions").join(target));
    let failures: Vec<String> = seeds
        .iter()
        .chain(&found)
        .chain(&regressions)
        .filter(|path| {
            let data = std::fs::read(path).unwrap();
            catch_unwind(AssertUnwindSafe(|| entry(&data))).is_err()
        })
        .map(|path| path.display().to_string())
        .collect();
    assert!(failures.is_empty(), "{target}: these inputs panic:\n{}", failures.join("\n"));
}

macro_rules! replay_tests {
    ($($target:ident),* $(,)?) => {
        $(
            #[test]
            fn $target() {
                replay(stringify!($target), sightline::fuzzing::$target);
            }
        )*

        /// Every folder of saved inputs belongs to a target replayed above.
        #[test]
        fn every_input_folder_is_replayed() {
            let known = [$(stringify!($target)),*];
            let root = Path::new(env!("CARGO_MANIFEST_DIR"));
            for folder in ["fuzz/seeds", "fuzz/corpus", "tests/fuzz_regressions"] {
                let Ok(entries) = std::fs::read_dir(root.join(folder)) else { continue };
                for entry in entries {
                    let name = entry.unwrap().file_name().into_string().unwrap();
                    assert!(known.contains(&name.as_str()), "{folder}/{name} is not a fuzz target replayed here");
                }
            }
        }
    };
}

replay_tests!(
    safetensors,
    gguf,
    gguf_blocks,
    config_json,
    preprocessor_config,
    tokenizer_json,
    image,
    api_json,
    explain
);
