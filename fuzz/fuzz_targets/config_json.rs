//! config.json: parsing, validation and the model built under it.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| sightline::fuzzing::config_json(data));
