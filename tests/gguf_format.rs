//! Crafted GGUF files, built byte by byte: each kind of damage is rejected with an error naming
//! it, and parsing never allocates more than the file's size (plus a little for the message),
//! however large the counts the file claims.

use sightline::loader::gguf::GgufFile;
use sightline::loader::ModelFiles;
use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::process::Command;

/// Counts the bytes this thread holds and their peak, so a test can bound what one call
/// allocates while other tests run in parallel.
struct CountingAllocator;

thread_local! {
    static HELD: Cell<isize> = const { Cell::new(0) };
    static PEAK: Cell<isize> = const { Cell::new(0) };
}

unsafe impl GlobalAlloc for CountingAllocator {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let _ = HELD.try_with(|held| {
            held.set(held.get() + layout.size() as isize);
            let _ = PEAK.try_with(|peak| peak.set(peak.get().max(held.get())));
        });
        System.alloc(layout)
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        let _ = HELD.try_with(|held| held.set(held.get() - layout.size() as isize));
        System.dealloc(ptr, layout)
    }
}

#[global_allocator]
static ALLOCATOR: CountingAllocator = CountingAllocator;

/// Room for the error message and its formatting.
const MESSAGE_SLACK: isize = 4096;

/// Parses `bytes`, returning the error text and the peak bytes allocated while parsing.
fn parse_error(bytes: &[u8]) -> (String, isize) {
    let start = HELD.with(Cell::get);
    PEAK.with(|peak| peak.set(start));
    let message = match GgufFile::parse(bytes) {
        Ok(_) => panic!("a damaged file parsed"),
        Err(e) => e.to_string(),
    };
    (message, PEAK.with(Cell::get) - start)
}

fn assert_rejected(bytes: &[u8], expected: &str) {
    let (message, allocated) = parse_error(bytes);
    assert!(message.contains(expected), "expected an error containing `{expected}`, got `{message}`");
    assert!(message.starts_with("GGUF file: "), "the error should name the format: `{message}`");
    assert!(
        allocated <= bytes.len() as isize + MESSAGE_SLACK,
        "parsing a {}-byte file allocated {allocated} bytes",
        bytes.len()
    );
}

/// A GGUF file assembled field by field.
#[derive(Clone)]
struct Builder {
    bytes: Vec<u8>,
}

impl Builder {
    /// Magic, version 3 and the two counts.
    fn header(tensors: u64, metadata: u64) -> Self {
        let mut b = Builder { bytes: b"GGUF".to_vec() };
        b.u32(3).u64(tensors).u64(metadata);
        b
    }

    fn u32(&mut self, v: u32) -> &mut Self {
        self.bytes.extend_from_slice(&v.to_le_bytes());
        self
    }

    fn u64(&mut self, v: u64) -> &mut Self {
        self.bytes.extend_from_slice(&v.to_le_bytes());
        self
    }

    fn string(&mut self, s: &str) -> &mut Self {
        self.u64(s.len() as u64);
        self.bytes.extend_from_slice(s.as_bytes());
        self
    }

    fn string_metadata(&mut self, key: &str, value: &str) -> &mut Self {
        self.string(key).u32(8).string(value)
    }

    /// A tensor info; `ggml_dims` innermost first, as the file stores them.
    fn tensor(&mut self, name: &str, ggml_dims: &[u64], type_id: u32, offset: u64) -> &mut Self {
        self.string(name).u32(ggml_dims.len() as u32);
        for &d in ggml_dims {
            self.u64(d);
        }
        self.u32(type_id).u64(offset)
    }

    /// Pads to the 32-byte data section and appends `data`.
    fn data(&mut self, data: &[u8]) -> Vec<u8> {
        self.bytes.resize(self.bytes.len().next_multiple_of(32), 0);
        self.bytes.extend_from_slice(data);
        self.bytes.clone()
    }
}

const F32: u32 = 0;
const Q8_0: u32 = 8;

/// A valid file: one metadata string and a 2 × 4 f32 tensor.
fn valid_file() -> Vec<u8> {
    Builder::header(1, 1).string_metadata("general.name", "tiny").tensor("w", &[4, 2], F32, 0).data(&[0u8; 32])
}

#[test]
fn the_valid_file_parses() {
    let bytes = valid_file();
    let file = GgufFile::parse(&bytes).unwrap();
    assert_eq!(file.tensor("w").unwrap().shape(), [2, 4]);
    assert_eq!(file.metadata_string("general.name").unwrap(), Some("tiny"));
}

#[test]
fn bad_magic_is_rejected() {
    let mut bytes = valid_file();
    bytes[3] = b'X';
    assert_rejected(&bytes, "not a GGUF file");
}

#[test]
fn unsupported_version_is_rejected() {
    let mut bytes = valid_file();
    bytes[4..8].copy_from_slice(&1u32.to_le_bytes());
    assert_rejected(&bytes, "version 1 is not supported");
}

#[test]
fn truncated_headers_are_rejected_at_every_length() {
    let bytes = valid_file();
    let header_end = bytes.len() - 32;
    for length in 0..header_end {
        let (message, allocated) = parse_error(&bytes[..length]);
        let named = ["ends inside", "not a GGUF file", "bytes are left in the file", "lies outside"];
        assert!(named.iter().any(|n| message.contains(n)), "{length}: {message}");
        assert!(allocated <= length as isize + MESSAGE_SLACK);
    }
}

#[test]
fn truncated_tensor_data_is_rejected() {
    let bytes = valid_file();
    assert_rejected(&bytes[..bytes.len() - 1], "lies outside the");
}

#[test]
fn absurd_tensor_count_is_rejected_before_allocating() {
    let bytes = Builder::header(u64::MAX, 0).data(&[]);
    assert_rejected(&bytes, "the tensor count claims 18446744073709551615 items");
    let bytes = Builder::header(1 << 40, 0).data(&[0; 64]);
    assert_rejected(&bytes, "the tensor count claims");
}

#[test]
fn absurd_metadata_count_is_rejected_before_allocating() {
    let bytes = Builder::header(0, u64::MAX / 2).data(&[]);
    assert_rejected(&bytes, "the metadata count claims");
}

#[test]
fn absurd_string_and_array_lengths_are_rejected() {
    let bytes = Builder::header(0, 1).u64(u64::MAX).data(&[0; 64]);
    assert_rejected(&bytes, "a metadata key claims");
    let bytes = Builder::header(0, 1).string("big").u32(9).u32(0).u64(1 << 50).data(&[]);
    assert_rejected(&bytes, "metadata `big` claims 1125899906842624 items");
}

#[test]
fn deeply_nested_arrays_are_rejected() {
    let mut b = Builder::header(0, 1);
    // The value type, then per level an element type (array) and a count of one.
    b.string("nest").u32(9);
    for _ in 0..20 {
        b.u32(9).u64(1);
    }
    let bytes = b.data(&[]);
    assert_rejected(&bytes, "nests arrays deeper than");
}

#[test]
fn unknown_metadata_type_is_rejected() {
    let bytes = Builder::header(0, 1).string("odd").u32(77).data(&[0; 8]);
    assert_rejected(&bytes, "metadata `odd` has unknown value type 77");
}

#[test]
fn overflowing_dimension_product_is_rejected() {
    let bytes = Builder::header(1, 0).tensor("huge", &[1 << 40, 1 << 40], F32, 0).data(&[0; 32]);
    assert_rejected(&bytes, "tensor `huge` has dimensions [1099511627776, 1099511627776] whose product overflows");
}

#[test]
fn zero_and_too_many_dimensions_are_rejected() {
    let bytes = Builder::header(1, 0).tensor("empty", &[0, 4], F32, 0).data(&[0; 32]);
    assert_rejected(&bytes, "tensor `empty` has a dimension of 0");
    let bytes = Builder::header(1, 0).tensor("deep", &[1, 1, 1, 1, 1], F32, 0).data(&[0; 32]);
    assert_rejected(&bytes, "tensor `deep` has 5 dimensions");
}

#[test]
fn offsets_outside_the_file_are_rejected() {
    let bytes = Builder::header(1, 0).tensor("far", &[4, 2], F32, 1 << 40).data(&[0; 32]);
    assert_rejected(&bytes, "tensor `far` (32 bytes at data offset 1099511627776) lies outside the");
    let bytes = Builder::header(1, 0).tensor("wrap", &[4, 2], F32, u64::MAX - 31).data(&[0; 32]);
    assert_rejected(&bytes, "tensor `wrap`");
}

#[test]
fn misaligned_offsets_are_rejected() {
    let bytes = Builder::header(1, 0).tensor("w", &[4, 2], F32, 4).data(&[0; 64]);
    assert_rejected(&bytes, "tensor `w` starts at data offset 4 which is not a multiple of the alignment 32");
}

#[test]
fn bad_alignment_metadata_is_rejected() {
    let bytes = Builder::header(0, 1).string("general.alignment").u32(4).u32(24).data(&[]);
    assert_rejected(&bytes, "general.alignment must be a power of two");
}

#[test]
fn unknown_tensor_types_are_rejected() {
    let bytes = Builder::header(1, 0).tensor("w", &[4, 2], 99, 0).data(&[0; 32]);
    assert_rejected(&bytes, "tensor `w` has unknown or unsupported ggml type 99");
}

#[test]
fn rows_that_are_not_whole_blocks_are_rejected() {
    let bytes = Builder::header(1, 0).tensor("w", &[31, 2], Q8_0, 0).data(&[0; 96]);
    assert_rejected(&bytes, "tensor `w` is q8_0 but its rows of 31 values are not whole blocks of 32");
}

#[test]
fn duplicate_names_are_rejected() {
    let bytes = Builder::header(2, 0).tensor("w", &[4, 2], F32, 0).tensor("w", &[4, 2], F32, 32).data(&[0; 64]);
    assert_rejected(&bytes, "tensor `w` appears twice");
    let bytes =
        Builder::header(0, 2).string_metadata("general.name", "a").string_metadata("general.name", "b").data(&[]);
    assert_rejected(&bytes, "metadata key `general.name` appears twice");
}

#[test]
fn a_gguf_without_model_metadata_is_named_through_the_library_and_the_cli() {
    let path = std::env::temp_dir().join(format!("sightline-gguf-format-{}.gguf", std::process::id()));
    std::fs::write(&path, valid_file()).unwrap();
    let error = ModelFiles::from_path(&path).err().expect("a file without config.json loaded").to_string();
    assert!(error.contains("no config.json in the metadata"), "{error}");

    let mut damaged = valid_file();
    damaged[8] = 0xff;
    std::fs::write(&path, &damaged).unwrap();
    let output = Command::new(env!("CARGO_BIN_EXE_sightline"))
        .args(["explain", "--model"])
        .arg(&path)
        .args(["--image", "unused.png", "--text", "a cat", "--method", "chefer"])
        .output()
        .unwrap();
    let _ = std::fs::remove_file(&path);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success());
    assert!(stderr.contains("error: GGUF file: ") && !stderr.contains("panicked"), "{stderr}");
}
