//! Reading model files: a Hugging Face folder (config.json, model.safetensors or its shards,
//! tokenizer.json, processor and generation files) or one GGUF file carrying the same, from disk
//! or from bytes, with every tensor checked by name and shape.

mod files;
mod floats;
pub mod gguf;
mod llava_names;
mod named_files;
mod quantized;
mod safetensors;
mod sharded;
mod weight_bytes;
mod weights;

pub use files::*;
pub use llava_names::{LlavaTensorNames, NamingGeneration};
pub use quantized::QuantizedMatrix;
pub use safetensors::SafetensorsWeights;
pub use sharded::{ShardIndex, ShardedFiles, ShardedSafetensors};
pub use weight_bytes::WeightBytes;
pub use weights::{MatrixSource, Weights};

/// Errors unless the stored tensor `name` has the `expected` shape. A 0-d scalar (logit_scale)
/// may be stored as [1]: some Hugging Face exports do, and ggml tensors have at least one dimension.
fn check_shape(name: &str, actual: &[usize], expected: &[usize]) -> crate::error::Result<()> {
    if actual == expected || (expected.is_empty() && actual == [1]) {
        return Ok(());
    }
    Err(crate::error::Error::TensorShape {
        name: name.to_string(),
        actual: actual.to_vec(),
        expected: expected.to_vec(),
    })
}

/// A dense f32 tensor in host memory, row-major.
#[derive(Clone, Debug, PartialEq)]
pub struct HostTensor {
    pub data: Vec<f32>,
    pub shape: Vec<usize>,
}

impl HostTensor {
    pub fn new(data: Vec<f32>, shape: Vec<usize>) -> Self {
        debug_assert_eq!(data.len(), shape.iter().product::<usize>());
        HostTensor { data, shape }
    }

    pub fn view(&self) -> HostView<'_> {
        HostView { data: &self.data, shape: &self.shape }
    }
}

/// A dense f32 tensor in host memory, row-major, borrowed: a [`HostTensor`], or a CPU backend's
/// tensor read in place.
#[derive(Clone, Copy, Debug)]
pub struct HostView<'a> {
    pub data: &'a [f32],
    pub shape: &'a [usize],
}
