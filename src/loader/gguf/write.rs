//! Writes a GGUF version 3 file: metadata (strings and u32s are all a model file needs), tensor
//! infos, then each tensor's bytes at an offset aligned to [`DEFAULT_ALIGNMENT`].

use super::parse::{ALIGNMENT_KEY, DEFAULT_ALIGNMENT, MAGIC};
use super::tensor_type::{byte_size, type_id};
use crate::error::{Error, Result};
use candle_core::quantized::GgmlDType;

const VERSION: u32 = 3;

pub enum MetadataToWrite<'a> {
    String(&'a str),
    U32(u32),
}

pub struct TensorToWrite<'a> {
    pub name: &'a str,
    /// Outermost first, as PyTorch and the parser report it.
    pub shape: &'a [usize],
    pub dtype: GgmlDType,
    pub data: &'a [u8],
}

/// The whole file in memory. `general.alignment` is written by this function.
pub fn write_gguf(metadata: &[(&str, MetadataToWrite)], tensors: &[TensorToWrite]) -> Result<Vec<u8>> {
    let mut out = Vec::new();
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(&VERSION.to_le_bytes());
    out.extend_from_slice(&(tensors.len() as u64).to_le_bytes());
    out.extend_from_slice(&(metadata.len() as u64 + 1).to_le_bytes());
    let alignment = [(ALIGNMENT_KEY, MetadataToWrite::U32(DEFAULT_ALIGNMENT as u32))];
    for (key, value) in alignment.iter().chain(metadata) {
        write_string(&mut out, key);
        match value {
            MetadataToWrite::U32(number) => {
                out.extend_from_slice(&4u32.to_le_bytes());
                out.extend_from_slice(&number.to_le_bytes());
            }
            MetadataToWrite::String(text) => {
                out.extend_from_slice(&8u32.to_le_bytes());
                write_string(&mut out, text);
            }
        }
    }
    let mut offset = 0usize;
    for tensor in tensors {
        let (row, elements) = (tensor.shape.last().copied().unwrap_or(1), tensor.shape.iter().product());
        if tensor.shape.is_empty() || byte_size(tensor.dtype, row, elements, tensor.name)? != tensor.data.len() {
            return Err(Error::Gguf(format!(
                "tensor `{}` of shape {:?} does not hold {} bytes",
                tensor.name,
                tensor.shape,
                tensor.data.len()
            )));
        }
        write_string(&mut out, tensor.name);
        out.extend_from_slice(&(tensor.shape.len() as u32).to_le_bytes());
        for dim in tensor.shape.iter().rev() {
            out.extend_from_slice(&(*dim as u64).to_le_bytes());
        }
        out.extend_from_slice(&type_id(tensor.dtype).to_le_bytes());
        out.extend_from_slice(&(offset as u64).to_le_bytes());
        offset = (offset + tensor.data.len()).next_multiple_of(DEFAULT_ALIGNMENT);
    }
    for tensor in tensors {
        out.resize(out.len().next_multiple_of(DEFAULT_ALIGNMENT), 0);
        out.extend_from_slice(tensor.data);
    }
    Ok(out)
}

fn write_string(out: &mut Vec<u8>, text: &str) {
    out.extend_from_slice(&(text.len() as u64).to_le_bytes());
    out.extend_from_slice(text.as_bytes());
}
