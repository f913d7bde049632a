//! safetensors weights, converted to f32 once at load time (f32, f16 and bf16 checkpoints).
//! The header is attacker-controlled: the `safetensors` crate bounds every offset by the buffer.

use super::files::WEIGHTS_FILE;
use super::floats::{bf16_values, f16_values, f32_values};
use super::{check_shape, HostTensor};
use crate::error::{Error, Result};
use ::safetensors::{Dtype, SafeTensors};

pub struct SafetensorsWeights<'a> {
    file: SafeTensors<'a>,
}

impl<'a> SafetensorsWeights<'a> {
    pub fn from_bytes(bytes: &'a [u8]) -> Result<Self> {
        Self::from_file_bytes(WEIGHTS_FILE, bytes)
    }

    /// The safetensors file `file_name` (for errors: a shard's name).
    pub fn from_file_bytes(file_name: &str, bytes: &'a [u8]) -> Result<Self> {
        let file = SafeTensors::deserialize(bytes)
            .map_err(|e| Error::Weights(format!("{file_name} is not a valid safetensors file: {e}")))?;
        Ok(SafetensorsWeights { file })
    }

    pub fn contains(&self, name: &str) -> bool {
        self.file.tensor(name).is_ok()
    }

    /// Every tensor's name, in the file's order.
    pub fn names(&self) -> Vec<&str> {
        self.file.names()
    }

    /// The storage type of the checkpoint, as users know it ("float32", "float16", "bfloat16"),
    /// taken from the first floating-point tensor.
    pub fn dtype_name(&self) -> &'static str {
        self.file
            .tensors()
            .iter()
            .find_map(|(_, view)| match view.dtype() {
                Dtype::F32 => Some("float32"),
                Dtype::F16 => Some("float16"),
                Dtype::BF16 => Some("bfloat16"),
                _ => None,
            })
            .unwrap_or("unknown")
    }

    /// The tensor `name`, which must have exactly `expected` shape.
    pub fn get(&self, name: &str, expected: &[usize]) -> Result<HostTensor> {
        let view = self.file.tensor(name).map_err(|_| Error::MissingTensor(name.to_string()))?;
        check_shape(name, view.shape(), expected)?;
        let data = to_f32(name, view.dtype(), view.data())?;
        Ok(HostTensor::new(data, expected.to_vec()))
    }
}

fn to_f32(name: &str, dtype: Dtype, bytes: &[u8]) -> Result<Vec<f32>> {
    let values = match dtype {
        Dtype::F32 => f32_values(bytes),
        Dtype::F16 => f16_values(bytes),
        Dtype::BF16 => bf16_values(bytes),
        other => {
            return Err(Error::Weights(format!(
                "tensor `{name}` has dtype {other:?}; only F32, F16 and BF16 are supported"
            )))
        }
    };
    Ok(values)
}

impl<'a> SafetensorsWeights<'a> {
    /// The stored bytes of tensor `name`.
    pub fn tensor_bytes(&self, name: &str) -> Option<&'a [u8]> {
        self.file.tensor(name).ok().map(|view| view.data())
    }

    /// Every tensor's name and shape, in name order.
    pub fn tensor_shapes(&self) -> Vec<(String, Vec<usize>)> {
        let mut shapes: Vec<_> =
            self.file.tensors().into_iter().map(|(name, view)| (name, view.shape().to_vec())).collect();
        shapes.sort();
        shapes
    }
}
