//! Image files (PNG, JPEG, GIF, BMP, WebP) decoded under the limits and preprocessed.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| sightline::fuzzing::image(data));
