//! model.safetensors: header, tensors and the model built from them.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| sightline::fuzzing::safetensors(data));
