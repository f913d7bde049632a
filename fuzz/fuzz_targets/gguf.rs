//! GGUF files: the parser, the dequantizers on parsed tensors and the whole load.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| sightline::fuzzing::gguf(data));
