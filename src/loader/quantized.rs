//! A weight matrix kept in one of ggml's block formats (q8_0, q4_0, q4_k, ...) in memory: never
//! expanded to f32 as a whole except by a backend that chooses to. Rows are the outer dimensions,
//! the blocks run along each row.

use super::gguf::type_name;
use super::HostTensor;
use crate::error::{Error, Result};
use candle_core::quantized::{GgmlDType, QuantizedType};
use std::borrow::Cow;
use std::sync::Arc;

/// Rows dequantized at once by [`QuantizedMatrix::for_each_row_chunk`]: about 1 MiB of f32 for
/// rows of 512, so a backward pass holds only a sliver of any weight in f32.
const CHUNK_VALUES: usize = 1 << 18;

/// The blocks are held as candle's plain block vectors, not as a `QTensor`: a `QTensor` product
/// on x86 with AVX-512 caches a second, expanded ("repacked") copy of every q8_0 and q4_k weight
/// it multiplies, which doubles to triples the memory of a quantized model.
#[derive(Clone)]
pub struct QuantizedMatrix {
    /// (rows, cols) in blocks along each row; shared by every clone.
    blocks: Arc<dyn QuantizedType>,
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
        let expected = cols
            .is_multiple_of(block)
            .then(|| rows.checked_mul(cols / block)?.checked_mul(dtype.type_size()))
            .flatten();
        if expected != Some(bytes.len()) {
            return Err(Error::Weights(format!(
                "tensor `{name}`: {} bytes do not hold a {rows} × {cols} {} matrix",
                bytes.len(),
                type_name(dtype)
            )));
        }
        // candle copies the blocks out of `bytes` reading them in place as structs of f16s and
        // bytes, and panics on a misaligned address: a file buffer from the allocator is always
        // 8-byte aligned and tensor data sits at multiples of 32 in it, anything else gets an
        // aligned copy first.
        let blocks = if (bytes.as_ptr() as usize).is_multiple_of(std::mem::align_of::<u64>()) {
            dtype.from_data(Cow::Borrowed(bytes))
        } else {
            let mut aligned = vec![0u64; bytes.len().div_ceil(8)];
            bytemuck::cast_slice_mut::<u64, u8>(&mut aligned)[..bytes.len()].copy_from_slice(bytes);
            dtype.from_data(Cow::Borrowed(&bytemuck::cast_slice::<u64, u8>(&aligned)[..bytes.len()]))
        };
        Ok(QuantizedMatrix { blocks: Arc::from(blocks), rows, cols })
    }

    /// Quantizes f32 values (rows, cols) with candle's quantizer; `cols` must be whole blocks.
    pub fn quantize(values: &[f32], rows: usize, cols: usize, dtype: GgmlDType) -> Result<Self> {
        if !cols.is_multiple_of(dtype.block_size()) || values.len() != rows * cols {
            return Err(Error::Weights(format!(
                "cannot quantize {} values as a {rows} × {cols} {} matrix",
                values.len(),
                type_name(dtype)
            )));
        }
        let mut blocks = dtype.cpu_zeros(rows * cols);
        blocks.from_float(values);
        Ok(QuantizedMatrix { blocks: Arc::from(blocks), rows, cols })
    }

    pub fn dtype(&self) -> GgmlDType {
        self.blocks.dtype()
    }

    /// (rows, cols)
    pub fn shape(&self) -> (usize, usize) {
        (self.rows, self.cols)
    }

    /// The blocks as stored, e.g. to upload to a GPU or write to a file.
    pub fn block_bytes(&self) -> &[u8] {
        // SAFETY: `as_ptr` is the start of candle's block vector, which holds exactly
        // `storage_size_in_bytes` initialized bytes and lives as long as `self` (candle's own
        // `QTensor::data` reads it the same way).
        unsafe { std::slice::from_raw_parts(self.blocks.as_ptr(), self.blocks.storage_size_in_bytes()) }
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
            return Err(Error::Internal(format!("rows {start}..{end} of a matrix of {} rows", self.rows)));
        }
        let row_bytes = self.cols / self.dtype().block_size() * self.dtype().type_size();
        let blocks = self.dtype().from_data(Cow::Borrowed(&self.block_bytes()[start * row_bytes..end * row_bytes]));
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
