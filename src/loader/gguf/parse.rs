//! The GGUF container (<https://github.com/ggml-org/ggml/blob/master/docs/gguf.md>), read from a
//! byte slice. Its header is attacker-controlled, so every count and length is checked against
//! the bytes left before anything is allocated for it, every dimension product is checked for
//! overflow, and every tensor's data must be aligned and lie inside the file. Nothing is copied:
//! strings and tensor data borrow from the slice.

use super::cursor::Cursor;
use super::tensor_type::{byte_size, from_type_id};
use crate::error::{Error, Result};
use candle_core::quantized::GgmlDType;

pub const MAGIC: &[u8; 4] = b"GGUF";
/// Tensor data offsets are multiples of this unless `general.alignment` says otherwise.
pub const DEFAULT_ALIGNMENT: usize = 32;
pub const ALIGNMENT_KEY: &str = "general.alignment";
/// ggml's own limit on tensor rank.
pub const MAX_DIMS: usize = 4;
/// Arrays of arrays deeper than this are refused, so a crafted file cannot exhaust the stack.
const MAX_ARRAY_NESTING: usize = 8;

/// The smallest encodings, which bound how many items a count may claim: a key-value pair is a
/// key length, a value type and a one-byte value; a tensor info is a name length, a one-byte
/// name, a rank, one dimension, a type and an offset.
const MIN_METADATA_BYTES: usize = 8 + 4 + 1;
const MIN_TENSOR_INFO_BYTES: usize = 8 + 1 + 4 + 8 + 4 + 8;

/// One metadata value. Arrays are checked and skipped, not kept: nothing a model needs is an
/// array, and keeping one would allocate more than the file holds.
#[derive(Clone, Debug, PartialEq)]
pub enum MetadataValue<'a> {
    Unsigned(u64),
    Signed(i64),
    Float(f64),
    Bool(bool),
    String(&'a str),
    Array { element_type: u32, len: usize },
}

#[derive(Clone, Debug)]
pub struct TensorInfo<'a> {
    pub name: &'a str,
    /// Outermost first (PyTorch's order); the file stores the innermost dimension first.
    dims: [usize; MAX_DIMS],
    rank: usize,
    pub dtype: GgmlDType,
    /// Exactly the tensor's bytes.
    pub data: &'a [u8],
}

impl TensorInfo<'_> {
    pub fn shape(&self) -> &[usize] {
        &self.dims[..self.rank]
    }
}

pub struct GgufFile<'a> {
    pub version: u32,
    pub alignment: usize,
    /// Sorted by key, keys unique.
    metadata: Vec<(&'a str, MetadataValue<'a>)>,
    /// Sorted by name, names unique.
    tensors: Vec<TensorInfo<'a>>,
}

impl<'a> GgufFile<'a> {
    pub fn parse(bytes: &'a [u8]) -> Result<Self> {
        let mut cursor = Cursor::new(bytes);
        if cursor.take(4, "the magic number")? != MAGIC {
            return Err(Error::Gguf("not a GGUF file (the first four bytes are not `GGUF`)".into()));
        }
        let version = cursor.u32("the version")?;
        if !(2..=3).contains(&version) {
            return Err(Error::Gguf(format!("GGUF version {version} is not supported (only versions 2 and 3)")));
        }
        let tensor_count = cursor.u64("the tensor count")?;
        let metadata_count = cursor.u64("the metadata count")?;
        let metadata_count = cursor.bounded_count(metadata_count, MIN_METADATA_BYTES, "the metadata count")?;
        let mut metadata = Vec::new();
        for _ in 0..metadata_count {
            let key = cursor.string("a metadata key")?;
            let value_type = cursor.u32("a metadata value type")?;
            metadata.push((key, read_value(&mut cursor, value_type, key, 0)?));
        }
        metadata.sort_by(|a, b| a.0.cmp(b.0));
        if let Some(pair) = metadata.windows(2).find(|pair| pair[0].0 == pair[1].0) {
            return Err(Error::Gguf(format!("metadata key `{}` appears twice", pair[0].0)));
        }
        let alignment = alignment(&metadata)?;

        let tensor_count = cursor.bounded_count(tensor_count, MIN_TENSOR_INFO_BYTES, "the tensor count")?;
        let mut headers = Vec::new();
        for _ in 0..tensor_count {
            headers.push(read_tensor_header(&mut cursor)?);
        }
        let data_start = cursor
            .position()
            .checked_next_multiple_of(alignment)
            .ok_or_else(|| Error::Gguf("the tensor data would start beyond the addressable range".into()))?;
        let mut tensors = headers
            .into_iter()
            .map(|header| header.locate(bytes, data_start, alignment))
            .collect::<Result<Vec<_>>>()?;
        tensors.sort_by(|a, b| a.name.cmp(b.name));
        if let Some(pair) = tensors.windows(2).find(|pair| pair[0].name == pair[1].name) {
            return Err(Error::Gguf(format!("tensor `{}` appears twice", pair[0].name)));
        }
        Ok(GgufFile { version, alignment, metadata, tensors })
    }

    pub fn metadata(&self, key: &str) -> Option<&MetadataValue<'a>> {
        let index = self.metadata.binary_search_by(|(k, _)| (*k).cmp(key)).ok()?;
        Some(&self.metadata[index].1)
    }

    /// Every metadata key, sorted (`general.alignment` included).
    pub fn metadata_keys(&self) -> impl Iterator<Item = &'a str> + '_ {
        self.metadata.iter().map(|(key, _)| *key)
    }

    /// The string under `key`, or `None` when absent; an error when it is not a string.
    pub fn metadata_string(&self, key: &str) -> Result<Option<&'a str>> {
        match self.metadata(key) {
            None => Ok(None),
            Some(MetadataValue::String(text)) => Ok(Some(text)),
            Some(other) => Err(Error::Gguf(format!("metadata `{key}` should be a string, found {other:?}"))),
        }
    }

    pub fn tensor(&self, name: &str) -> Option<&TensorInfo<'a>> {
        let index = self.tensors.binary_search_by(|t| t.name.cmp(name)).ok()?;
        Some(&self.tensors[index])
    }

    pub fn tensors(&self) -> &[TensorInfo<'a>] {
        &self.tensors
    }
}

fn alignment(metadata: &[(&str, MetadataValue)]) -> Result<usize> {
    let Ok(index) = metadata.binary_search_by(|(k, _)| (*k).cmp(ALIGNMENT_KEY)) else {
        return Ok(DEFAULT_ALIGNMENT);
    };
    match metadata[index].1 {
        MetadataValue::Unsigned(value) if value.is_power_of_two() && (8..=1 << 20).contains(&value) => {
            Ok(value as usize)
        }
        ref other => {
            Err(Error::Gguf(format!("{ALIGNMENT_KEY} must be a power of two from 8 to 1048576, found {other:?}")))
        }
    }
}

/// The size in bytes of a fixed-size value type, `None` for strings and arrays.
fn fixed_size(value_type: u32) -> Option<usize> {
    match value_type {
        0 | 1 | 7 => Some(1),
        2 | 3 => Some(2),
        4..=6 => Some(4),
        10..=12 => Some(8),
        _ => None,
    }
}

const STRING_TYPE: u32 = 8;
const ARRAY_TYPE: u32 = 9;

fn read_value<'a>(cursor: &mut Cursor<'a>, value_type: u32, key: &str, depth: usize) -> Result<MetadataValue<'a>> {
    let what = format!("metadata `{key}`");
    let value = match value_type {
        0 => MetadataValue::Unsigned(cursor.u8(&what)? as u64),
        1 => MetadataValue::Signed(cursor.u8(&what)? as i8 as i64),
        2 => MetadataValue::Unsigned(u16::from_le_bytes([cursor.u8(&what)?, cursor.u8(&what)?]) as u64),
        3 => MetadataValue::Signed(i16::from_le_bytes([cursor.u8(&what)?, cursor.u8(&what)?]) as i64),
        4 => MetadataValue::Unsigned(cursor.u32(&what)? as u64),
        5 => MetadataValue::Signed(cursor.u32(&what)? as i32 as i64),
        6 => MetadataValue::Float(f32::from_bits(cursor.u32(&what)?) as f64),
        7 => match cursor.u8(&what)? {
            0 => MetadataValue::Bool(false),
            1 => MetadataValue::Bool(true),
            other => return Err(Error::Gguf(format!("{what} is a bool holding {other}, not 0 or 1"))),
        },
        STRING_TYPE => MetadataValue::String(cursor.string(&what)?),
        ARRAY_TYPE => {
            if depth >= MAX_ARRAY_NESTING {
                return Err(Error::Gguf(format!("{what} nests arrays deeper than {MAX_ARRAY_NESTING}")));
            }
            let element_type = cursor.u32(&what)?;
            let count = cursor.u64(&what)?;
            match fixed_size(element_type) {
                Some(size) => {
                    let len = cursor.bounded_count(count, size, &what)?;
                    cursor.take(len * size, &what)?;
                    MetadataValue::Array { element_type, len }
                }
                None if element_type == STRING_TYPE || element_type == ARRAY_TYPE => {
                    let min_bytes = if element_type == STRING_TYPE { 8 } else { 12 };
                    let len = cursor.bounded_count(count, min_bytes, &what)?;
                    for _ in 0..len {
                        read_value(cursor, element_type, key, depth + 1)?;
                    }
                    MetadataValue::Array { element_type, len }
                }
                None => return Err(Error::Gguf(format!("{what} is an array of unknown value type {element_type}"))),
            }
        }
        10 => MetadataValue::Unsigned(cursor.u64(&what)?),
        11 => MetadataValue::Signed(cursor.u64(&what)? as i64),
        12 => MetadataValue::Float(f64::from_bits(cursor.u64(&what)?)),
        other => return Err(Error::Gguf(format!("{what} has unknown value type {other}"))),
    };
    Ok(value)
}

/// A tensor info as read, before its data is located.
struct TensorHeader<'a> {
    name: &'a str,
    dims: [usize; MAX_DIMS],
    rank: usize,
    dtype: GgmlDType,
    offset: u64,
}

fn read_tensor_header<'a>(cursor: &mut Cursor<'a>) -> Result<TensorHeader<'a>> {
    let name = cursor.string("a tensor name")?;
    if name.is_empty() {
        return Err(Error::Gguf("a tensor has an empty name".into()));
    }
    let what = format!("tensor `{name}`");
    let rank = cursor.u32(&what)? as usize;
    if !(1..=MAX_DIMS).contains(&rank) {
        return Err(Error::Gguf(format!("{what} has {rank} dimensions (1 to {MAX_DIMS} are allowed)")));
    }
    let mut dims = [1usize; MAX_DIMS];
    // The file lists the innermost dimension first; reversed here into PyTorch's order.
    for i in (0..rank).rev() {
        let dim = cursor.u64(&what)?;
        dims[i] = usize::try_from(dim)
            .ok()
            .filter(|&d| d > 0)
            .ok_or_else(|| Error::Gguf(format!("{what} has a dimension of {dim}")))?;
    }
    let dtype = from_type_id(cursor.u32(&what)?, name)?;
    let offset = cursor.u64(&what)?;
    Ok(TensorHeader { name, dims, rank, dtype, offset })
}

impl<'a> TensorHeader<'a> {
    fn locate(self, bytes: &'a [u8], data_start: usize, alignment: usize) -> Result<TensorInfo<'a>> {
        let name = self.name;
        let shape = &self.dims[..self.rank];
        let elements = shape
            .iter()
            .try_fold(1usize, |product, &dim| product.checked_mul(dim))
            .ok_or_else(|| Error::Gguf(format!("tensor `{name}` has dimensions {shape:?} whose product overflows")))?;
        let size = byte_size(self.dtype, shape[self.rank - 1], elements, name)?;
        if !self.offset.is_multiple_of(alignment as u64) {
            return Err(Error::Gguf(format!(
                "tensor `{name}` starts at data offset {} which is not a multiple of the alignment {alignment}",
                self.offset
            )));
        }
        let range = usize::try_from(self.offset)
            .ok()
            .and_then(|offset| data_start.checked_add(offset))
            .and_then(|start| Some(start..start.checked_add(size)?))
            .filter(|range| range.end <= bytes.len())
            .ok_or_else(|| {
                Error::Gguf(format!(
                    "tensor `{name}` ({size} bytes at data offset {}) lies outside the {}-byte file",
                    self.offset,
                    bytes.len()
                ))
            })?;
        Ok(TensorInfo { name, dims: self.dims, rank: self.rank, dtype: self.dtype, data: &bytes[range] })
    }
}
