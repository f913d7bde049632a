//! The batched methods' inputs, sums and scores as WGSL kernels: made and summed on the device,
//! so nothing is read back between batches.

use super::kernels;
use super::{GpuTensor, WebGpuBackend};
use crate::backend::{batch_element_size, BatchOps, ScoreOps};
use crate::error::Result;

impl BatchOps for WebGpuBackend {
    fn batch_element(&self, x: &GpuTensor, index: usize) -> Result<GpuTensor> {
        let size = batch_element_size(x.shape(), index)?;
        let shape = [&[1], &x.shape()[1..]].concat();
        self.gpu.copy_range(x, 4 * (index * size) as u64, shape)
    }

    fn scaled_copies(&self, x: &GpuTensor, factors: &[f32]) -> Result<GpuTensor> {
        kernels::scaled_copies(&self.gpu, x, factors)
    }

    fn occluded_copies(&self, x: &GpuTensor, first: usize, count: usize, patch: usize) -> Result<GpuTensor> {
        kernels::occluded_copies(&self.gpu, x, first, count, patch)
    }

    fn sum_batch(&self, x: &GpuTensor, absolute: bool, total: Option<&GpuTensor>) -> Result<GpuTensor> {
        kernels::sum_batch(&self.gpu, x, absolute, total)
    }
}

impl ScoreOps for WebGpuBackend {
    fn scaled_cosine_with_gradients(
        &self,
        image: &GpuTensor,
        text: &GpuTensor,
        multiplier: f32,
    ) -> Result<(GpuTensor, GpuTensor)> {
        kernels::scaled_cosine_with_gradients(&self.gpu, image, text, multiplier)
    }
}
