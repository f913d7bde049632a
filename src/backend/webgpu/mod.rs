//! The WebGPU backend: the op vocabulary as WGSL compute kernels on wgpu (Vulkan natively, on any
//! Vulkan driver including Mesa's llvmpipe; the browser's WebGPU on wasm). Every op records its dispatches into one pending
//! command encoder; nothing is submitted until a tensor is read back, so a forward and backward
//! pass is a single command buffer and the host never waits in the middle of it.
//!
//! Layout: `device.rs` (adapter, limits, recording, errors), `pipelines.rs` (compiled once per
//! device), `pool.rs` (tensors and the buffer pool), `readback.rs` (the one place that waits),
//! `kernels/` (one launcher beside each `.wgsl`); the trait impls by part of the vocabulary in
//! `ops.rs`, `vision.rs`, `batch.rs` and `relevance.rs`.

mod batch;
mod device;
mod kernels;
mod ops;
mod pipelines;
mod pool;
mod quantized;
mod readback;
mod relevance;
mod vision;

pub use pool::GpuTensor;

use super::shapes::check_reshape;
use super::TensorStore;
use crate::error::{Error, Result};
use crate::loader::HostTensor;
use device::Gpu;
use kernels::matmul::{matmul, Layout, Operand};
use quantized::PackedCache;
use std::sync::Arc;

#[derive(Clone)]
pub struct WebGpuBackend {
    gpu: Arc<Gpu>,
    packed: Arc<PackedCache>,
}

impl WebGpuBackend {
    /// Opens the first high-performance adapter with its own limits. Fails with
    /// `Error::Device` when the system has no WebGPU adapter.
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
    pub(super) fn linear_product(
        &self,
        x: &GpuTensor,
        weight: Operand,
        (outputs, inputs): (usize, usize),
        b: Option<&GpuTensor>,
    ) -> Result<GpuTensor> {
        if x.shape().last() != Some(&inputs) || b.is_some_and(|b| b.elements() != outputs) {
            return Err(Error::Internal(format!(
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
    pub(super) fn linear_backward_product(
        &self,
        dy: &GpuTensor,
        weight: Operand,
        (outputs, inputs): (usize, usize),
    ) -> Result<GpuTensor> {
        if dy.shape().last() != Some(&outputs) {
            return Err(Error::Internal(format!(
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

impl TensorStore for WebGpuBackend {
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

    fn submit(&self) -> Result<()> {
        self.gpu.submit()
    }

    fn dims<'t>(&self, tensor: &'t GpuTensor) -> &'t [usize] {
        tensor.shape()
    }

    fn reshape(&self, tensor: &GpuTensor, dims: &[usize]) -> Result<GpuTensor> {
        check_reshape(tensor.shape(), dims)?;
        Ok(tensor.with_shape(dims.to_vec()))
    }

    fn upload(&self, tensor: &HostTensor) -> Result<GpuTensor> {
        if tensor.data.len() != tensor.shape.iter().product::<usize>() {
            return Err(Error::Internal(format!("upload: {} values for shape {:?}", tensor.data.len(), tensor.shape)));
        }
        self.gpu.upload(bytemuck::cast_slice(&tensor.data), tensor.shape.clone())
    }

    fn download(&self, tensor: &GpuTensor) -> Result<HostTensor> {
        Ok(HostTensor::new(self.gpu.download(tensor)?, tensor.shape().to_vec()))
    }

    async fn download_async(&self, tensor: &GpuTensor) -> Result<HostTensor> {
        Ok(HostTensor::new(self.gpu.download_async(tensor).await?, tensor.shape().to_vec()))
    }
}
