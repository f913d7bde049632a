//! Reading model files: a Hugging Face folder (config.json, model.safetensors, tokenizer.json,
//! preprocessor_config.json) from disk or from bytes, with every tensor checked by name and shape.

mod files;
mod safetensors;

pub use files::ModelFiles;
pub use safetensors::Weights;

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
}
