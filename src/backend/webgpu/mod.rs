//! The WebGPU backend: the op vocabulary as WGSL compute kernels on wgpu (Vulkan, Metal or DX12
//! natively; the browser's WebGPU on wasm). Every op records its dispatches into one pending
//! command encoder; nothing is submitted until a tensor is read back, so a forward and backward
//! pass is a single command buffer and the host never waits in the middle of it.
//!
//! Layout: `device.rs` (adapter, limits, recording, errors), `pipelines.rs` (compiled once per
//! device), `pool.rs` (tensors and the buffer pool), `readback.rs` (the one place that waits),
//! `kernels/` (one launcher beside each `.wgsl`).

mod device;
mod kernels;
mod pipelines;
mod pool;
mod quantized;
mod readback;

pub use pool::GpuTensor;

use super::{AttentionGrads, Backend, HeadFusion};
use crate::config::Activation;
use crate::error::{Error, Result};
use crate::loader::{HostTensor, QuantizedMatrix};
use device::Gpu;
use kernels::matmul::{matmul, Layout, Operand};
use kernels::AttentionShape;
use quantized::PackedCache;
use std::sync::Arc;

#[derive(Clone)]
pub struct WebGpuBackend {
    gpu: Arc<Gpu>,
    packed: Arc<PackedCache>,
}

impl WebGpuBackend {
    /// Opens the first high-performance adapter with its own limits. Fails with
    /// `Error::Backend` when the system has no WebGPU adapter.
    pub async fn create() -> Result<Self> {
        Ok(WebGpuBackend { gpu: Arc::new(Gpu::create().await?), packed: Arc::default() })
    }

    /// `create`, blocking until the device is ready (native only: the browser must await).
    #[cfg(not(target_arch = "wasm32"))]
    pub fn new() -> Result<Self> {
        pollster::block_on(Self::create())
    }

    /// The adapter's name and driver, e.g. "llvmpipe (LLVM 19.1.7, 256 bits)".
    pub fn adapter_description(&self) -> String {
        let info = &self.gpu.adapter;
        format!("{} ({:?}, {})", info.name, info.backend, info.driver_info)
    }

    /// The largest tensor one kernel binding may hold on this adapter.
    pub fn max_tensor_bytes(&self) -> u64 {
        self.gpu.max_tensor_bytes()
    }

    /// How many distinct kernels have been compiled on this device so far.
    pub fn compiled_pipelines(&self) -> usize {
        self.gpu.compiled_pipelines()
    }

    /// How many quantized weights this device holds as codes, read by the dequantizing matmul.
    pub fn packed_quantized_weights(&self) -> usize {
        self.packed.len()
    }

    /// Returns the buffers kept for reuse to the driver: the pool holds on to the peak of the
    /// last pass, which after a large batch may be far more than the next pass needs.
    pub fn free_pooled_buffers(&self) {
        self.gpu.free_pooled_buffers();
    }

    /// x (.., in) · Wᵀ + b for the (out, in) weight that `weight` reads, dense or quantized.
    fn linear_product(
        &self,
        x: &GpuTensor,
        weight: Operand,
        (outputs, inputs): (usize, usize),
        b: Option<&GpuTensor>,
    ) -> Result<GpuTensor> {
        if x.shape().last() != Some(&inputs) || b.is_some_and(|b| b.elements() != outputs) {
            return Err(Error::Backend(format!(
                "linear: input {:?} does not fit weight [{outputs}, {inputs}]",
                x.shape()
            )));
        }
        let mut shape = x.shape().to_vec();
        *shape.last_mut().expect("checked non-empty above") = outputs;
        let dims = (x.elements() / inputs.max(1), inputs, outputs);
        matmul(&self.gpu, x, weight, b, dims, Layout::Transposed, shape)
    }

    /// dy (.., out) · W → (.., in) for the (out, in) weight that `weight` reads.
    fn linear_backward_product(
        &self,
        dy: &GpuTensor,
        weight: Operand,
        (outputs, inputs): (usize, usize),
    ) -> Result<GpuTensor> {
        if dy.shape().last() != Some(&outputs) {
            return Err(Error::Backend(format!(
                "linear backward: {:?} does not fit weight [{outputs}, {inputs}]",
                dy.shape()
            )));
        }
        let mut shape = dy.shape().to_vec();
        *shape.last_mut().expect("checked non-empty above") = inputs;
        let dims = (dy.elements() / outputs.max(1), outputs, inputs);
        matmul(&self.gpu, dy, weight, None, dims, Layout::Plain, shape)
    }

    /// Destroys the device as a driver reset would: every later op fails with an error naming the
    /// loss. For the native parity tests (integration tests cannot see `#[cfg(test)]` items); the
    /// wasm API does not expose it, and the browser tests destroy the device from JavaScript.
    #[doc(hidden)]
    pub fn simulate_device_loss(&self) {
        self.gpu.destroy();
    }
}

impl Backend for WebGpuBackend {
    type Tensor = GpuTensor;

    fn name(&self) -> &'static str {
        "webgpu"
    }

    fn max_tensor_bytes(&self) -> usize {
        usize::try_from(self.gpu.max_tensor_bytes()).unwrap_or(usize::MAX)
    }

    fn finish(&self) -> Result<()> {
        self.gpu.finish()
    }

    async fn finish_async(&self) -> Result<()> {
        self.gpu.finish_async().await
    }

    fn upload(&self, tensor: &HostTensor) -> Result<GpuTensor> {
        if tensor.data.len() != tensor.shape.iter().product::<usize>() {
            return Err(Error::Backend(format!("upload: {} values for shape {:?}", tensor.data.len(), tensor.shape)));
        }
        self.gpu.upload(bytemuck::cast_slice(&tensor.data), tensor.shape.clone())
    }

    fn download(&self, tensor: &GpuTensor) -> Result<HostTensor> {
        Ok(HostTensor::new(self.gpu.download(tensor)?, tensor.shape().to_vec()))
    }

    async fn download_async(&self, tensor: &GpuTensor) -> Result<HostTensor> {
        Ok(HostTensor::new(self.gpu.download_async(tensor).await?, tensor.shape().to_vec()))
    }

    fn linear(&self, x: &GpuTensor, w: &GpuTensor, b: Option<&GpuTensor>) -> Result<GpuTensor> {
        let &[outputs, inputs] = w.shape() else {
            return Err(Error::Backend(format!("linear: weight shape {:?} is not (out, in)", w.shape())));
        };
        self.linear_product(x, Operand::Dense(w), (outputs, inputs), b)
    }

    fn linear_backward(&self, dy: &GpuTensor, w: &GpuTensor) -> Result<GpuTensor> {
        let &[outputs, inputs] = w.shape() else {
            return Err(Error::Backend(format!("linear backward: weight shape {:?} is not (out, in)", w.shape())));
        };
        self.linear_backward_product(dy, Operand::Dense(w), (outputs, inputs))
    }

    fn quantized_linear(&self, x: &GpuTensor, w: &QuantizedMatrix, b: Option<&GpuTensor>) -> Result<GpuTensor> {
        match self.packed.get(&self.gpu, w)? {
            Some(packed) => self.linear_product(x, Operand::Quantized(&packed), w.shape(), b),
            None => self.linear(x, &self.upload(&w.dequantize()?)?, b),
        }
    }

    fn quantized_linear_backward(&self, dy: &GpuTensor, w: &QuantizedMatrix) -> Result<GpuTensor> {
        match self.packed.get(&self.gpu, w)? {
            Some(packed) => self.linear_backward_product(dy, Operand::Quantized(&packed), w.shape()),
            None => self.linear_backward(dy, &self.upload(&w.dequantize()?)?),
        }
    }

    fn layer_norm(&self, x: &GpuTensor, gamma: &GpuTensor, beta: &GpuTensor, eps: f64) -> Result<GpuTensor> {
        kernels::layer_norm(&self.gpu, x, gamma, beta, eps)
    }

    fn layer_norm_backward(&self, x: &GpuTensor, gamma: &GpuTensor, dy: &GpuTensor, eps: f64) -> Result<GpuTensor> {
        kernels::layer_norm_backward(&self.gpu, x, gamma, dy, eps)
    }

    fn activation(&self, x: &GpuTensor, act: Activation) -> Result<GpuTensor> {
        Ok(kernels::activation(&self.gpu, x, act, false)?.0)
    }

    fn activation_with_derivative(&self, x: &GpuTensor, act: Activation) -> Result<(GpuTensor, GpuTensor)> {
        match kernels::activation(&self.gpu, x, act, true)? {
            (y, Some(derivative)) => Ok((y, derivative)),
            (_, None) => Err(Error::Backend("the activation kernel did not produce its derivative".into())),
        }
    }

    fn multiply(&self, a: &GpuTensor, b: &GpuTensor) -> Result<GpuTensor> {
        kernels::multiply(&self.gpu, a, b)
    }

    fn add(&self, a: &GpuTensor, b: &GpuTensor) -> Result<GpuTensor> {
        kernels::add(&self.gpu, a, b)
    }

    fn attention(
        &self,
        q: &GpuTensor,
        k: &GpuTensor,
        v: &GpuTensor,
        heads: usize,
        causal: bool,
    ) -> Result<(GpuTensor, GpuTensor)> {
        let shape = AttentionShape::of(q, &[k, v], heads)?;
        kernels::attention(&self.gpu, q, k, v, shape, causal)
    }

    fn attention_backward(
        &self,
        q: &GpuTensor,
        k: &GpuTensor,
        v: &GpuTensor,
        probs: &GpuTensor,
        d_out: &GpuTensor,
        heads: usize,
    ) -> Result<AttentionGrads<GpuTensor>> {
        let shape = AttentionShape::of(q, &[k, v, d_out], heads)?;
        let expected = shape.batch * shape.heads * shape.tokens * shape.tokens;
        if probs.elements() != expected {
            return Err(Error::Backend(format!("attention backward: probabilities {:?}", probs.shape())));
        }
        kernels::attention_backward(&self.gpu, (q, k, v), probs, d_out, shape)
    }

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

    fn gather_rows(&self, table: &GpuTensor, ids: &[u32]) -> Result<GpuTensor> {
        kernels::gather_rows(&self.gpu, table, ids)
    }

    fn select_token(&self, x: &GpuTensor, position: usize) -> Result<GpuTensor> {
        kernels::select_token(&self.gpu, x, position)
    }

    fn select_token_backward(&self, dy: &GpuTensor, position: usize, tokens: usize) -> Result<GpuTensor> {
        kernels::select_token_backward(&self.gpu, dy, position, tokens)
    }

    fn drop_first_token(&self, x: &GpuTensor) -> Result<GpuTensor> {
        kernels::drop_first_token(&self.gpu, x)
    }

    fn scaled_copies(&self, x: &GpuTensor, factors: &[f32]) -> Result<GpuTensor> {
        kernels::scaled_copies(&self.gpu, x, factors)
    }

    fn occluded_copies(&self, x: &GpuTensor, first: usize, count: usize, patch: usize) -> Result<GpuTensor> {
        kernels::occluded_copies(&self.gpu, x, first, count, patch)
    }

    fn scaled_cosine_with_gradients(
        &self,
        image: &GpuTensor,
        text: &GpuTensor,
        multiplier: f32,
    ) -> Result<(GpuTensor, GpuTensor)> {
        kernels::scaled_cosine_with_gradients(&self.gpu, image, text, multiplier)
    }

    fn sum_batch(&self, x: &GpuTensor, absolute: bool, total: Option<&GpuTensor>) -> Result<GpuTensor> {
        kernels::sum_batch(&self.gpu, x, absolute, total)
    }

    fn submit(&self) -> Result<()> {
        self.gpu.submit()
    }

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
