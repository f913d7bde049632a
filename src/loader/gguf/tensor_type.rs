//! The ggml tensor types a GGUF file may hold, by their numeric ids in the file
//! (<https://github.com/ggml-org/ggml/blob/master/docs/gguf.md>), and their block layouts.

use crate::error::{Error, Result};
use candle_core::quantized::GgmlDType;

/// The ggml type id of `dtype`, as written in a tensor info.
pub fn type_id(dtype: GgmlDType) -> u32 {
    match dtype {
        GgmlDType::F32 => 0,
        GgmlDType::F16 => 1,
        GgmlDType::Q4_0 => 2,
        GgmlDType::Q4_1 => 3,
        GgmlDType::Q5_0 => 6,
        GgmlDType::Q5_1 => 7,
        GgmlDType::Q8_0 => 8,
        GgmlDType::Q8_1 => 9,
        GgmlDType::Q2K => 10,
        GgmlDType::Q3K => 11,
        GgmlDType::Q4K => 12,
        GgmlDType::Q5K => 13,
        GgmlDType::Q6K => 14,
        GgmlDType::Q8K => 15,
        GgmlDType::BF16 => 30,
    }
}

/// The storage types a tensor of a model file may have. Q8_1 and Q8K are only the intermediate
/// types of ggml's dot products, never stored weights, so they are refused like unknown ids.
pub fn from_type_id(id: u32, tensor: &str) -> Result<GgmlDType> {
    let dtype = match id {
        0 => GgmlDType::F32,
        1 => GgmlDType::F16,
        2 => GgmlDType::Q4_0,
        3 => GgmlDType::Q4_1,
        6 => GgmlDType::Q5_0,
        7 => GgmlDType::Q5_1,
        8 => GgmlDType::Q8_0,
        10 => GgmlDType::Q2K,
        11 => GgmlDType::Q3K,
        12 => GgmlDType::Q4K,
        13 => GgmlDType::Q5K,
        14 => GgmlDType::Q6K,
        30 => GgmlDType::BF16,
        other => {
            return Err(Error::Gguf(format!(
                "tensor `{tensor}` has unknown or unsupported ggml type {other} \
                 (supported: f32, f16, bf16, q4_0, q4_1, q5_0, q5_1, q8_0, q2_k … q6_k)"
            )))
        }
    };
    Ok(dtype)
}

/// The name users know a type by: "q4_0", "q4_k", "f16", ...
pub fn type_name(dtype: GgmlDType) -> &'static str {
    match dtype {
        GgmlDType::F32 => "f32",
        GgmlDType::F16 => "f16",
        GgmlDType::BF16 => "bf16",
        GgmlDType::Q4_0 => "q4_0",
        GgmlDType::Q4_1 => "q4_1",
        GgmlDType::Q5_0 => "q5_0",
        GgmlDType::Q5_1 => "q5_1",
        GgmlDType::Q8_0 => "q8_0",
        GgmlDType::Q8_1 => "q8_1",
        GgmlDType::Q2K => "q2_k",
        GgmlDType::Q3K => "q3_k",
        GgmlDType::Q4K => "q4_k",
        GgmlDType::Q5K => "q5_k",
        GgmlDType::Q6K => "q6_k",
        GgmlDType::Q8K => "q8_k",
    }
}

/// Whether values are stored one by one (f32, f16, bf16) rather than in quantized blocks.
pub fn is_dense(dtype: GgmlDType) -> bool {
    matches!(dtype, GgmlDType::F32 | GgmlDType::F16 | GgmlDType::BF16)
}

/// The bytes of a tensor of `elements` values whose innermost dimension is `row`: the row must
/// hold whole blocks.
pub fn byte_size(dtype: GgmlDType, row: usize, elements: usize, tensor: &str) -> Result<usize> {
    let block = dtype.block_size();
    if !row.is_multiple_of(block) {
        return Err(Error::Gguf(format!(
            "tensor `{tensor}` is {} but its rows of {row} values are not whole blocks of {block}",
            type_name(dtype)
        )));
    }
    (elements / block)
        .checked_mul(dtype.type_size())
        .ok_or_else(|| Error::Gguf(format!("tensor `{tensor}` is larger than this machine can address")))
}
