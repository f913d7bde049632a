//! One way to read a checkpoint's tensors whatever the file: safetensors (dense, one file or
//! shards) or GGUF (dense or quantized). Every read is checked by name and shape with the same
//! errors for all. Read from mapped files, each tensor's pages are given back once it is built,
//! so a model is never held twice (once as file, once as tensors) while it loads.

use super::files::WeightFiles;
use super::floats::{bf16_values, f16_values, f32_values};
use super::gguf::{is_dense, is_gguf, type_name, GgufFile, TensorInfo, QUANTIZATION_KEY};
use super::quantized::QuantizedMatrix;
use super::safetensors::SafetensorsWeights;
use super::sharded::ShardedSafetensors;
use super::weight_bytes::WeightBytes;
use super::{check_shape, HostTensor};
use crate::error::{Error, Result};
use candle_core::quantized::GgmlDType;

pub struct Weights<'a> {
    format: Format<'a>,
    /// The file the tensors borrow from, when it can give back the bytes already read.
    file: Option<&'a WeightBytes>,
}

enum Format<'a> {
    Safetensors(SafetensorsWeights<'a>),
    Sharded(ShardedSafetensors<'a>),
    Gguf(GgufFile<'a>),
}

impl<'a> Format<'a> {
    fn parse(bytes: &'a [u8]) -> Result<Self> {
        if is_gguf(bytes) {
            Ok(Format::Gguf(GgufFile::parse(bytes)?))
        } else {
            Ok(Format::Safetensors(SafetensorsWeights::from_bytes(bytes)?))
        }
    }
}

impl Drop for Weights<'_> {
    /// Whatever of a mapped file was read besides the tensors (the header, the metadata) leaves
    /// memory with the tensors' reader.
    fn drop(&mut self) {
        if let Some(file) = self.file {
            file.release(file);
        }
        if let Format::Sharded(files) = &self.format {
            files.release_all();
        }
    }
}

/// A matrix as a model will hold it: expanded to f32, or kept in its quantized blocks.
pub enum MatrixSource {
    Dense(HostTensor),
    Quantized(QuantizedMatrix),
}

impl<'a> Weights<'a> {
    /// A checkpoint's weights: one file (see [`Self::from_file`]) or the shards of an index.
    pub fn from_files(files: &'a WeightFiles) -> Result<Self> {
        match files {
            WeightFiles::Single(bytes) => Self::from_file(bytes),
            WeightFiles::Sharded(shards) => {
                Ok(Weights { format: Format::Sharded(ShardedSafetensors::from_files(shards)?), file: None })
            }
        }
    }

    /// A GGUF file when `bytes` start with its magic number, safetensors otherwise.
    pub fn from_bytes(bytes: &'a [u8]) -> Result<Self> {
        Ok(Weights { format: Format::parse(bytes)?, file: None })
    }

    /// As [`Self::from_bytes`]; a mapped file's pages under each tensor leave memory once the
    /// tensor has been read (they are read again from disk if it is read again).
    pub fn from_file(file: &'a WeightBytes) -> Result<Self> {
        Ok(Weights { format: Format::parse(file)?, file: Some(file) })
    }

    /// The stored bytes of tensor `name`, handed back to a mapped file.
    fn release(&self, name: &str) {
        let stored = match &self.format {
            Format::Safetensors(file) => file.tensor_bytes(name),
            Format::Sharded(files) => {
                files.release(name);
                None
            }
            Format::Gguf(file) => file.tensor(name).map(|tensor| tensor.data),
        };
        if let (Some(file), Some(stored)) = (self.file, stored) {
            file.release(stored);
        }
    }

    /// The storage type as users know it: "float32", "float16", "bfloat16"; for GGUF the format
    /// `sightline quantize` was asked for ("q4_k", even where some rows fell back to q4_0), else
    /// the quantized format holding the most values, else the dense type.
    pub fn dtype_name(&self) -> String {
        match &self.format {
            Format::Safetensors(file) => file.dtype_name().to_string(),
            Format::Sharded(files) => files.dtype_name().to_string(),
            Format::Gguf(file) => {
                if let Ok(Some(requested)) = file.metadata_string(QUANTIZATION_KEY) {
                    return requested.to_string();
                }
                let mut totals: Vec<(GgmlDType, usize)> = Vec::new();
                for tensor in file.tensors() {
                    let values: usize = tensor.shape().iter().product();
                    match totals.iter_mut().find(|(dtype, _)| *dtype == tensor.dtype) {
                        Some((_, total)) => *total += values,
                        None => totals.push((tensor.dtype, values)),
                    }
                }
                let largest = |quantized: bool| {
                    totals
                        .iter()
                        .filter(|(dtype, _)| is_dense(*dtype) != quantized)
                        .max_by_key(|(_, total)| *total)
                        .map(|(dtype, _)| *dtype)
                };
                match largest(true).or_else(|| largest(false)) {
                    Some(GgmlDType::F32) => "float32",
                    Some(GgmlDType::F16) => "float16",
                    Some(GgmlDType::BF16) => "bfloat16",
                    Some(dtype) => type_name(dtype),
                    None => "unknown",
                }
                .to_string()
            }
        }
    }

    /// Every tensor's name and shape, in name order.
    pub fn tensor_shapes(&self) -> Vec<(String, Vec<usize>)> {
        match &self.format {
            Format::Safetensors(file) => file.tensor_shapes(),
            Format::Sharded(files) => files.tensor_shapes(),
            Format::Gguf(file) => file.tensors().iter().map(|t| (t.name.to_string(), t.shape().to_vec())).collect(),
        }
    }

    /// The tensor `name` in f32, which must have exactly `expected` shape; quantized tensors are
    /// expanded (for the small ones a model keeps dense: norms, biases, embeddings).
    pub fn get(&self, name: &str, expected: &[usize]) -> Result<HostTensor> {
        let tensor = self.read(name, expected);
        self.release(name);
        tensor
    }

    fn read(&self, name: &str, expected: &[usize]) -> Result<HostTensor> {
        match &self.format {
            Format::Safetensors(file) => file.get(name, expected),
            Format::Sharded(files) => files.get(name, expected),
            Format::Gguf(file) => {
                let tensor = gguf_tensor(file, name, expected)?;
                match dense_values(tensor) {
                    Some(values) => Ok(HostTensor::new(values, expected.to_vec())),
                    None => {
                        let mut matrix = quantized(tensor)?.dequantize()?;
                        matrix.shape = expected.to_vec();
                        Ok(matrix)
                    }
                }
            }
        }
    }

    /// The matrix `name` of `expected` shape (rows, cols), kept quantized when the file stores
    /// it quantized.
    pub fn get_matrix(&self, name: &str, expected: [usize; 2]) -> Result<MatrixSource> {
        if let Format::Gguf(file) = &self.format {
            let tensor = gguf_tensor(file, name, &expected)?;
            if !is_dense(tensor.dtype) {
                let matrix = quantized(tensor);
                self.release(name);
                return Ok(MatrixSource::Quantized(matrix?));
            }
        }
        Ok(MatrixSource::Dense(self.get(name, &expected)?))
    }
}

fn gguf_tensor<'f, 'a>(file: &'f GgufFile<'a>, name: &str, expected: &[usize]) -> Result<&'f TensorInfo<'a>> {
    let tensor = file.tensor(name).ok_or_else(|| Error::MissingTensor(name.to_string()))?;
    check_shape(name, tensor.shape(), expected)?;
    Ok(tensor)
}

fn dense_values(tensor: &TensorInfo) -> Option<Vec<f32>> {
    match tensor.dtype {
        GgmlDType::F32 => Some(f32_values(tensor.data)),
        GgmlDType::F16 => Some(f16_values(tensor.data)),
        GgmlDType::BF16 => Some(bf16_values(tensor.data)),
        _ => None,
    }
}

/// A quantized tensor as a matrix: its innermost dimension is the row, the others are rows.
fn quantized(tensor: &TensorInfo) -> Result<QuantizedMatrix> {
    let shape = tensor.shape();
    let cols = shape[shape.len() - 1];
    let rows = shape[..shape.len() - 1].iter().product();
    QuantizedMatrix::from_blocks(tensor.dtype, rows, cols, tensor.data, tensor.name)
}
