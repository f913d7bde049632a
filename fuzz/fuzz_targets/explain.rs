//! The whole explanation of the embedded model: options JSON, 0xFF, image bytes.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| sightline::fuzzing::explain(data));
