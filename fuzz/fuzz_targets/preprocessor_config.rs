//! preprocessor_config.json and the pixel pipeline it describes.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| sightline::fuzzing::preprocessor_config(data));
