//! The relevance rows on the device: only the final row of T values crosses back.

use super::kernels;
use super::{GpuTensor, WebGpuBackend};
use crate::backend::{HeadFusion, RelevanceOps};
use crate::error::Result;

impl RelevanceOps for WebGpuBackend {
    fn attention_row(&self, probs: &GpuTensor, row: usize) -> Result<Option<GpuTensor>> {
        kernels::attention_row(&self.gpu, probs, row).map(Some)
    }

    fn rollout_row(
        &self,
        probs: &[&GpuTensor],
        row: usize,
        fusion: HeadFusion,
        discard: usize,
    ) -> Result<Option<GpuTensor>> {
        kernels::rollout_row(&self.gpu, probs, row, fusion, discard).map(Some)
    }

    fn chefer_row(&self, probs: &[&GpuTensor], grads: &[&GpuTensor], row: usize) -> Result<Option<GpuTensor>> {
        kernels::chefer_row(&self.gpu, probs, grads, row).map(Some)
    }

    fn token_gradcam(
        &self,
        hidden: &GpuTensor,
        gradient: &GpuTensor,
        weighted: std::ops::Range<usize>,
    ) -> Result<Option<GpuTensor>> {
        kernels::token_gradcam(&self.gpu, hidden, gradient, weighted).map(Some)
    }
}
