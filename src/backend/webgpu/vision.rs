//! The ViT embedding ops as WGSL kernels.

use super::kernels;
use super::{GpuTensor, WebGpuBackend};
use crate::backend::VisionOps;
use crate::error::Result;

impl VisionOps for WebGpuBackend {
    fn patch_embed(&self, pixels: &GpuTensor, w: &GpuTensor, patch: usize) -> Result<GpuTensor> {
        kernels::patch_embed(&self.gpu, pixels, w, patch)
    }

    fn patch_embed_backward(
        &self,
        d_patches: &GpuTensor,
        w: &GpuTensor,
        patch: usize,
        image_size: usize,
    ) -> Result<GpuTensor> {
        kernels::patch_embed_backward(&self.gpu, d_patches, w, patch, image_size)
    }

    fn prepend_class(&self, patches: &GpuTensor, class: &GpuTensor) -> Result<GpuTensor> {
        kernels::prepend_class(&self.gpu, patches, class)
    }

    fn add_positions(&self, x: &GpuTensor, positions: &GpuTensor) -> Result<GpuTensor> {
        kernels::add_positions(&self.gpu, x, positions)
    }

    fn drop_first_token(&self, x: &GpuTensor) -> Result<GpuTensor> {
        kernels::drop_first_token(&self.gpu, x)
    }
}
