//! Tensors on the GPU and the pool their buffers come from. A forward pass allocates the same
//! shapes layer after layer, so a buffer released by one layer is taken by the next instead of
//! asking the driver for fresh memory: buffers are kept by exact byte size.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

/// Every tensor buffer can be bound to a kernel, filled by a copy and copied out for reading.
const TENSOR_USAGE: wgpu::BufferUsages =
    wgpu::BufferUsages::STORAGE.union(wgpu::BufferUsages::COPY_SRC).union(wgpu::BufferUsages::COPY_DST);

/// Buffers are never empty (a binding of size 0 is invalid), so an empty tensor still owns 4 bytes.
const MIN_BUFFER_BYTES: u64 = 4;

pub(crate) struct BufferPool {
    device: wgpu::Device,
    free: Mutex<HashMap<u64, Vec<wgpu::Buffer>>>,
}

impl BufferPool {
    pub fn new(device: wgpu::Device) -> Self {
        BufferPool { device, free: Mutex::new(HashMap::new()) }
    }

    pub fn buffer_bytes(elements: usize) -> u64 {
        (4 * elements as u64).max(MIN_BUFFER_BYTES)
    }

    /// A released buffer of exactly `bytes`, or None when the pool has none.
    pub fn take_released(&self, bytes: u64) -> Option<wgpu::Buffer> {
        self.free.lock().ok()?.get_mut(&bytes)?.pop()
    }

    pub fn create(&self, bytes: u64) -> wgpu::Buffer {
        self.device.create_buffer(&wgpu::BufferDescriptor {
            label: Some("tensor"),
            size: bytes,
            usage: TENSOR_USAGE,
            mapped_at_creation: false,
        })
    }

    fn release(&self, buffer: wgpu::Buffer) {
        if let Ok(mut free) = self.free.lock() {
            free.entry(buffer.size()).or_default().push(buffer);
        }
    }

    /// Frees every released buffer (e.g. after a large batch, so the memory returns to the system).
    pub fn clear(&self) {
        if let Ok(mut free) = self.free.lock() {
            free.clear();
        }
    }
}

/// A buffer that returns to its pool when the last tensor using it is dropped. Commands already
/// recorded keep the buffer alive, and every later use is recorded after them, so reuse is safe.
struct PooledBuffer {
    buffer: wgpu::Buffer,
    pool: Arc<BufferPool>,
}

impl Drop for PooledBuffer {
    fn drop(&mut self) {
        self.pool.release(self.buffer.clone());
    }
}

/// A dense row-major f32 tensor in a GPU buffer.
#[derive(Clone)]
pub struct GpuTensor {
    storage: Arc<PooledBuffer>,
    shape: Vec<usize>,
}

impl GpuTensor {
    pub(crate) fn new(buffer: wgpu::Buffer, pool: Arc<BufferPool>, shape: Vec<usize>) -> Self {
        GpuTensor { storage: Arc::new(PooledBuffer { buffer, pool }), shape }
    }

    pub fn shape(&self) -> &[usize] {
        &self.shape
    }

    /// The same buffer under other dimensions (the caller checked the count).
    pub(crate) fn with_shape(&self, shape: Vec<usize>) -> GpuTensor {
        GpuTensor { storage: self.storage.clone(), shape }
    }

    pub fn elements(&self) -> usize {
        self.shape.iter().product()
    }

    pub(crate) fn buffer(&self) -> &wgpu::Buffer {
        &self.storage.buffer
    }
}
