//! The JSON the wasm API receives: explain options and explanations to draw or compare.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| sightline::fuzzing::api_json(data));
