//! The ggml block dequantizers and the quantizer on raw bytes.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| sightline::fuzzing::gguf_blocks(data));
