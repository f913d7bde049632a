//! Quantized weights on the GPU. ggml's blocks are 18, 34 or 144 bytes, which WGSL cannot address
//! (it reads 4-byte words), so each matrix is repacked once on upload into word-aligned codes and
//! one (scale, minimum) pair per group of 32 values — see matmul_quantized.wgsl for the form. The
//! repacking decodes the blocks exactly as candle's dequantizer does, so the kernel multiplies by
//! the same values the CPU backend uses.

use super::device::Gpu;
use super::pool::GpuTensor;
use crate::error::{Error, Result};
use crate::loader::QuantizedMatrix;
use candle_core::quantized::GgmlDType;
use half::f16;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

/// Values per (scale, minimum) pair.
const GROUP: usize = 32;

/// A weight as matmul_quantized.wgsl reads it.
pub(crate) struct PackedMatrix {
    /// The codes, `32 / bits` per u32 word, lowest bits first.
    pub codes: GpuTensor,
    /// (groups, 2) f32: scale and minimum of each group of 32 values along a row.
    pub scales: GpuTensor,
    pub bits: u32,
    /// The code standing for 0.
    pub zero: u32,
}

/// The repacked form on the host, before upload.
#[derive(Debug, PartialEq)]
pub(crate) struct HostPacked {
    pub codes: Vec<u32>,
    pub scales: Vec<f32>,
    pub bits: u32,
    pub zero: u32,
}

impl HostPacked {
    /// Value `index` (row-major) as the kernel computes it; for tests.
    #[cfg(test)]
    fn value(&self, index: usize) -> f32 {
        let per_word = 32 / self.bits as usize;
        let code = (self.codes[index / per_word] >> ((index % per_word) as u32 * self.bits)) & ((1 << self.bits) - 1);
        let g = index / GROUP;
        self.scales[2 * g] * (code as i32 - self.zero as i32) as f32 - self.scales[2 * g + 1]
    }
}

/// Collects codes of `bits` bits into words.
struct CodeWriter {
    words: Vec<u32>,
    bits: u32,
    count: usize,
}

impl CodeWriter {
    fn new(bits: u32, values: usize) -> Self {
        CodeWriter { words: Vec::with_capacity(values.div_ceil(32 / bits as usize)), bits, count: 0 }
    }

    fn push(&mut self, code: u32) {
        let per_word = 32 / self.bits as usize;
        if self.count.is_multiple_of(per_word) {
            self.words.push(0);
        }
        let shift = (self.count % per_word) as u32 * self.bits;
        *self.words.last_mut().expect("a word was pushed above") |= code << shift;
        self.count += 1;
    }
}

fn half_at(bytes: &[u8], offset: usize) -> f32 {
    f16::from_le_bytes([bytes[offset], bytes[offset + 1]]).to_f32()
}

/// q4_k's 6-bit scale and minimum of sub-block `j` (0..8), from its 12 packed bytes.
fn q4k_scale_min(j: usize, packed: &[u8]) -> (u8, u8) {
    if j < 4 {
        (packed[j] & 63, packed[j + 4] & 63)
    } else {
        ((packed[j + 4] & 0xF) | ((packed[j - 4] >> 6) << 4), (packed[j + 4] >> 4) | ((packed[j] >> 6) << 4))
    }
}

/// Repacks `matrix`, or None for a block format the kernel does not read (the caller expands it).
pub(crate) fn pack(matrix: &QuantizedMatrix) -> Option<HostPacked> {
    let blocks = matrix.block_bytes();
    let (rows, cols) = matrix.shape();
    let values = rows * cols;
    let mut scales = Vec::with_capacity(2 * values / GROUP);
    let (bits, zero) = match matrix.dtype() {
        GgmlDType::Q8_0 => (8, 128),
        GgmlDType::Q4_0 => (4, 8),
        GgmlDType::Q4K => (4, 0),
        _ => return None,
    };
    let mut codes = CodeWriter::new(bits, values);
    match matrix.dtype() {
        // { d: f16, qs: [i8; 32] }: value = d · q
        GgmlDType::Q8_0 => {
            for block in blocks.chunks_exact(34) {
                scales.extend([half_at(block, 0), 0.0]);
                block[2..].iter().for_each(|&q| codes.push((q as i8 as i32 + 128) as u32));
            }
        }
        // { d: f16, qs: [u8; 16] }: value j is d · (low nibble of qs[j] − 8), value j + 16 the high one
        GgmlDType::Q4_0 => {
            for block in blocks.chunks_exact(18) {
                scales.extend([half_at(block, 0), 0.0]);
                block[2..].iter().for_each(|&q| codes.push((q & 0xF) as u32));
                block[2..].iter().for_each(|&q| codes.push((q >> 4) as u32));
            }
        }
        // { d: f16, dmin: f16, scales: [u8; 12], qs: [u8; 128] }: 8 sub-blocks of 32; each 32 bytes
        // of qs hold two sub-blocks, the first in the low nibbles; value = d·sc · q − dmin·m
        _ => {
            for block in blocks.chunks_exact(144) {
                let (d, dmin) = (half_at(block, 0), half_at(block, 2));
                let packed_scales = &block[4..16];
                for (pair, qs) in block[16..].chunks_exact(32).enumerate() {
                    for (half_index, shift) in [(0, 0), (1, 4)] {
                        let (sc, m) = q4k_scale_min(2 * pair + half_index, packed_scales);
                        scales.extend([d * sc as f32, dmin * m as f32]);
                        qs.iter().for_each(|&q| codes.push(((q >> shift) & 0xF) as u32));
                    }
                }
            }
        }
    }
    Some(HostPacked { codes: codes.words, scales, bits, zero })
}

/// The packed copies of the quantized weights this device has multiplied. Each entry holds a
/// clone of its matrix: the blocks then stay allocated, so their address (the key) cannot be
/// taken by another matrix while the entry exists.
#[derive(Default)]
pub(crate) struct PackedCache {
    entries: Mutex<HashMap<usize, (QuantizedMatrix, Option<Arc<PackedMatrix>>)>>,
}

impl PackedCache {
    /// The GPU copy of `matrix`, uploaded on first use; None when its format has no kernel.
    pub fn get(&self, gpu: &Gpu, matrix: &QuantizedMatrix) -> Result<Option<Arc<PackedMatrix>>> {
        let key = matrix.block_bytes().as_ptr() as usize;
        let mut entries =
            self.entries.lock().map_err(|_| Error::Internal("the quantized weight cache is poisoned".into()))?;
        if let Some((_, packed)) = entries.get(&key) {
            return Ok(packed.clone());
        }
        let packed = match pack(matrix) {
            Some(host) => Some(Arc::new(PackedMatrix {
                codes: gpu.upload(bytemuck::cast_slice(&host.codes), vec![host.codes.len()])?,
                scales: gpu.upload(bytemuck::cast_slice(&host.scales), vec![host.scales.len()])?,
                bits: host.bits,
                zero: host.zero,
            })),
            None => None,
        };
        entries.insert(key, (matrix.clone(), packed.clone()));
        Ok(packed)
    }

    /// How many weights are held in packed form.
    pub fn len(&self) -> usize {
        self.entries.lock().map(|e| e.values().filter(|(_, packed)| packed.is_some()).count()).unwrap_or(0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn matrix(dtype: GgmlDType, rows: usize, cols: usize) -> QuantizedMatrix {
        // Values with a spread of magnitudes and signs, so every scale and minimum matters.
        let values: Vec<f32> = (0..rows * cols)
            .map(|i| ((i as f32 * 0.37).sin() * (1.0 + (i % 7) as f32)) - 0.3 * (i % 3) as f32)
            .collect();
        QuantizedMatrix::quantize(&values, rows, cols, dtype).unwrap()
    }

    #[test]
    fn packed_values_are_exactly_candles_dequantized_values() {
        for dtype in [GgmlDType::Q8_0, GgmlDType::Q4_0, GgmlDType::Q4K] {
            let m = matrix(dtype, 3, 512);
            let packed = pack(&m).unwrap();
            let expected = m.dequantize().unwrap().data;
            for (i, e) in expected.iter().enumerate() {
                assert_eq!(packed.value(i).to_bits(), e.to_bits(), "{dtype:?} value {i}");
            }
        }
    }

    #[test]
    fn formats_without_a_kernel_are_left_to_the_caller() {
        assert!(pack(&matrix(GgmlDType::Q6K, 2, 256)).is_none());
    }
}
