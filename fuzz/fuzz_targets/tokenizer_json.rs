//! tokenizer.json through the tokenizers crate, then one text tokenized with it.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| sightline::fuzzing::tokenizer_json(data));
