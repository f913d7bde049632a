//! A weight matrix kept in one of ggml's block formats (q8_0, q4_0, q4_k, ...) in memory: never
//! expanded to f32 as a whole except by a backend that chooses to. Rows are the outer dimensions,
//! the blocks run along each row.

use super::gguf::type_name;
use super::HostTensor;
use crate::error::{Error, Result};
use candle_core::quantized::{GgmlDType, QStorage, QTensor};
use candle_core::{Device, Tensor};
use std::borrow::Cow;
use std::sync::Arc;

/// Rows dequantized at once by [`QuantizedMatrix::for_each_row_chunk`]: about 1 MiB of f32 for
/// rows of 512, so a backward pass holds only a sliver of any weight in f32.
const CHUNK_VALUES: usize = 1 << 18;

#[derive(Clone)]
pub struct QuantizedMatrix {
    /// (rows, cols), cheap to clone: every linear that holds it shares the blocks.
    tensor: Arc<QTensor>,
    rows: usize,
    cols: usize,
}

impl std::fmt::Debug for QuantizedMatrix {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "QuantizedMatrix({} × {}, {})", self.rows, self.cols, type_name(self.dtype()))
    }
}

impl QuantizedMatrix {
    /// Blocks as a GGUF file stores them; `bytes` must be exactly (rows, cols) of `dtype`.
    pub fn from_blocks(dtype: GgmlDType, rows: usize, cols: usize, bytes: &[u8], name: &str) -> Result<Self> {
        let block = dtype.block_size();
        let expected =
            (cols % block == 0).then(|| rows.checked_mul(cols / block)?.checked_mul(dtype.type_size())).flatten();
        if expected != Some(bytes.len()) {
            return Err(Error::Weights(format!(
                "tensor `{name}`: {} bytes do not hold a {rows} × {cols} {} matrix",
                bytes.len(),
                type_name(dtype)
            )));
        }
        // candle reads the blocks in place as structs of f16 and bytes, which need 2-byte
        // alignment; a file buffer from the allocator always has it, a sub-slice of an odd
        // address gets an aligned copy.
        let storage = if bytes.as_ptr() as usize % std::mem::align_of::<u16>() == 0 {
            QStorage::from_data(Cow::Borrowed(bytes), &Device::Cpu, dtype)?
        } else {
            let mut aligned = vec![0u64; bytes.len().div_ceil(8)];
            bytemuck::cast_slice_mut::<u64, u8>(&mut aligned)[..bytes.len()].copy_from_slice(bytes);
            let aligned_bytes = &bytemuck::cast_slice::<u64, u8>(&aligned)[..bytes.len()];
            QStorage::from_data(Cow::Borrowed(aligned_bytes), &Device::Cpu, dtype)?
        };
        Ok(QuantizedMatrix { tensor: Arc::new(QTensor::new(storage, (rows, cols))?), rows, cols })
    }

    /// Quantizes f32 values (rows, cols); `cols` must be whole blocks of `dtype`.
    pub fn quantize(values: &[f32], rows: usize, cols: usize, dtype: GgmlDType) -> Result<Self> {
        let dense = Tensor::from_slice(values, (rows, cols), &Device::Cpu)?;
        Ok(QuantizedMatrix { tensor: Arc::new(QTensor::quantize(&dense, dtype)?), rows, cols })
    }

    pub fn dtype(&self) -> GgmlDType {
        self.tensor.dtype()
    }

    /// (rows, cols)
    pub fn shape(&self) -> (usize, usize) {
        (self.rows, self.cols)
    }

    /// The blocks as stored, e.g. to upload to a GPU or write to a file.
    pub fn block_bytes(&self) -> Result<Cow<'_, [u8]>> {
        Ok(self.tensor.data()?)
    }

    pub fn storage_bytes(&self) -> usize {
        self.tensor.storage_size_in_bytes()
    }

    /// The candle tensor, for candle's quantized matrix products.
    pub fn qtensor(&self) -> &QTensor {
        &self.tensor
    }

    /// The whole matrix in f32. Meant for small matrices and for tests: models call
    /// [`Self::for_each_row_chunk`] or [`Self::rows`] instead.
    pub fn dequantize(&self) -> Result<HostTensor> {
        let mut values = Vec::with_capacity(self.rows * self.cols);
        self.for_each_row_chunk(|_, chunk| {
            values.extend_from_slice(chunk);
            Ok(())
        })?;
        Ok(HostTensor::new(values, vec![self.rows, self.cols]))
    }

    /// Rows `start..end` in f32, row-major.
    pub fn row_range(&self, start: usize, end: usize) -> Result<Vec<f32>> {
        if start > end || end > self.rows {
            return Err(Error::Backend(format!("rows {start}..{end} of a matrix of {} rows", self.rows)));
        }
        let row_bytes = self.cols / self.dtype().block_size() * self.dtype().type_size();
        let data = self.tensor.data()?;
        let blocks = self.dtype().from_data(Cow::Borrowed(&data[start * row_bytes..end * row_bytes]));
        let dense = blocks.dequantize((end - start) * self.cols)?;
        Ok(dense.as_slice::<f32>()?.to_vec())
    }

    /// The rows at `ids` in f32, (ids.len(), cols): an embedding lookup that expands only the
    /// rows it reads.
    pub fn rows(&self, ids: &[u32]) -> Result<HostTensor> {
        let mut values = Vec::with_capacity(ids.len() * self.cols);
        for &id in ids {
            let row = id as usize;
            if row >= self.rows {
                return Err(Error::Text(format!("token id {id} is outside the vocabulary of {} tokens", self.rows)));
            }
            values.extend(self.row_range(row, row + 1)?);
        }
        Ok(HostTensor::new(values, vec![ids.len(), self.cols]))
    }

    /// Calls `f(first_row, values)` for consecutive chunks of rows in f32, each about
    /// [`CHUNK_VALUES`] values, so at most one chunk is expanded at a time.
    pub fn for_each_row_chunk(&self, mut f: impl FnMut(usize, &[f32]) -> Result<()>) -> Result<()> {
        let chunk_rows = (CHUNK_VALUES / self.cols.max(1)).max(1);
        let mut start = 0;
        while start < self.rows {
            let end = (start + chunk_rows).min(self.rows);
            f(start, &self.row_range(start, end)?)?;
            start = end;
        }
        Ok(())
    }
}
