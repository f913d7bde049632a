//! Which storage type each tensor of a CLIP checkpoint gets when quantizing, and why.
//!
//! Linear weights (attention projections, MLPs) hold nearly all the values and take the requested
//! format. The two output projections take it too, except that 4-bit files keep them in q8_0:
//! every embedding's direction, so every score and every gradient an explanation starts from,
//! passes through them, and at 4 bits they moved the default model's Chefer maps more than any
//! other tensors (docs/QUANTIZATION.md). They are 0.4 % of ViT-B/32's values; llama.cpp keeps
//! `output.weight` above its q4 mixtures for the same reason. Everything an explanation reads
//! directly stays in higher precision: norms, biases, the class embedding and the logit scale in
//! f32 (a few thousand values), the patch projection and position embeddings in f16 (gradient
//! methods differentiate with respect to pixels through the patch projection), and the token
//! embedding table in q8_0 (for ViT-B/32 it is 49408 × 512 values: f32 would exceed the memory
//! budget, q4 would coarsen the text side of every score). `--quantize-embeddings` gives the embeddings
//! and the output projections the requested format too, to measure what those choices are worth
//! (docs/QUANTIZATION.md).

use crate::error::{Error, Result};
use crate::loader::gguf::type_name;
use candle_core::quantized::GgmlDType;
use serde::Serialize;

/// The formats `sightline quantize --to` offers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum QuantFormat {
    Q8_0,
    Q4_0,
    Q4K,
    F16,
}

impl QuantFormat {
    pub const ALL: [QuantFormat; 4] = [QuantFormat::Q8_0, QuantFormat::Q4_0, QuantFormat::Q4K, QuantFormat::F16];

    pub fn dtype(self) -> GgmlDType {
        match self {
            QuantFormat::Q8_0 => GgmlDType::Q8_0,
            QuantFormat::Q4_0 => GgmlDType::Q4_0,
            QuantFormat::Q4K => GgmlDType::Q4K,
            QuantFormat::F16 => GgmlDType::F16,
        }
    }

    pub fn name(self) -> &'static str {
        type_name(self.dtype())
    }
}

impl std::str::FromStr for QuantFormat {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        QuantFormat::ALL.into_iter().find(|f| f.name() == s.to_ascii_lowercase()).ok_or_else(|| {
            let known: Vec<&str> = QuantFormat::ALL.iter().map(|f| f.name()).collect();
            Error::InvalidOption(format!("unknown format `{s}` (known: {})", known.join(", ")))
        })
    }
}

/// What a tensor is to the model, which decides its precision.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum TensorRole {
    /// Weights of linear layers: the requested format.
    Linear,
    /// `visual_projection` and `text_projection`: the requested format, q8_0 in place of 4 bits.
    OutputProjection,
    TokenEmbedding,
    /// Patch projection and position embeddings.
    Embedding,
    /// Norms, biases, the class embedding, the logit scale.
    Small,
}

impl TensorRole {
    pub fn of(name: &str, shape: &[usize]) -> TensorRole {
        // CLIP's text tower names its token table token_embedding, Llama decoders embed_tokens.
        if name.ends_with("token_embedding.weight") || name.ends_with("embed_tokens.weight") {
            TensorRole::TokenEmbedding
        } else if name.ends_with("patch_embedding.weight") || name.ends_with("position_embedding.weight") {
            TensorRole::Embedding
        } else if name.ends_with("visual_projection.weight")
            || name.ends_with("text_projection.weight")
            || name.ends_with("lm_head.weight")
        {
            TensorRole::OutputProjection
        } else if shape.len() == 2 && name.ends_with(".weight") && !name.contains("norm") {
            TensorRole::Linear
        } else {
            TensorRole::Small
        }
    }
}

#[derive(Clone, Copy, Debug)]
pub struct QuantizeOptions {
    pub format: QuantFormat,
    /// Also give the patch projection, the token and position embeddings and the output
    /// projections the requested format.
    pub quantize_embeddings: bool,
}

/// The type a tensor is meant to have, before checking that its rows fit the block size.
fn preferred(role: TensorRole, options: &QuantizeOptions) -> GgmlDType {
    let target = options.format.dtype();
    match role {
        TensorRole::Small => GgmlDType::F32,
        TensorRole::Linear => target,
        _ if options.quantize_embeddings => target,
        TensorRole::OutputProjection if matches!(options.format, QuantFormat::Q4_0 | QuantFormat::Q4K) => {
            GgmlDType::Q8_0
        }
        TensorRole::OutputProjection => target,
        TensorRole::TokenEmbedding if options.format == QuantFormat::F16 => GgmlDType::F16,
        TensorRole::TokenEmbedding => GgmlDType::Q8_0,
        TensorRole::Embedding => GgmlDType::F16,
    }
}

/// The next format to try when a row is not whole blocks: q4_k's blocks are 256 values, q4_0's
/// and q8_0's 32, f16 fits any row.
fn fallback(dtype: GgmlDType) -> GgmlDType {
    match dtype {
        GgmlDType::Q4K => GgmlDType::Q4_0,
        _ => GgmlDType::F16,
    }
}

/// The type a tensor of `role` and `shape` gets, and the preferred one when that did not fit.
pub fn choose(role: TensorRole, shape: &[usize], options: &QuantizeOptions) -> (GgmlDType, Option<GgmlDType>) {
    let preferred = preferred(role, options);
    let row = shape.last().copied().unwrap_or(1);
    let mut dtype = preferred;
    while !row.is_multiple_of(dtype.block_size()) {
        dtype = fallback(dtype);
    }
    (dtype, (dtype != preferred).then_some(preferred))
}
