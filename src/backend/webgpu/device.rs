//! One WebGPU device and what is tied to it: the adapter's limits, the pipeline cache, the buffer
//! pool, and the pending command encoder every op records into. Work is submitted only when a
//! tensor must be read back, so a whole forward and backward pass is one command buffer.

use super::pipelines::{Kernel, PipelineCache};
use super::pool::{BufferPool, GpuTensor};
use super::readback::{read_floats, read_floats_async, wait_until_idle, wait_until_idle_async};
use crate::error::{Error, Result};
use std::sync::{Arc, Mutex};

/// A matrix product larger than this many multiply-adds is split into several dispatches, so
/// that no single dispatch runs long enough to trip a driver's watchdog (Windows resets a GPU
/// after 2 s) on a slow adapter.
pub(crate) const MAX_DISPATCH_MULTIPLY_ADDS: u64 = 1 << 30;

pub(crate) struct Gpu {
    pub device: wgpu::Device,
    queue: wgpu::Queue,
    pub limits: wgpu::Limits,
    pub adapter: wgpu::AdapterInfo,
    pipelines: PipelineCache,
    pool: Arc<BufferPool>,
    pending: Mutex<Option<wgpu::CommandEncoder>>,
    /// The first error the device reported (validation, out of memory) or its loss; once set,
    /// every op fails with it: a loss or exhausted memory as `Error::Device`, so a caller can redo
    /// the work elsewhere, and a validation error (a kernel bound or dispatched wrongly: our bug)
    /// as `Error::Internal`.
    failure: Arc<Mutex<Option<Failure>>>,
    /// Bound where a kernel's optional input is absent (a linear layer without bias).
    placeholder: wgpu::Buffer,
}

impl Gpu {
    pub async fn create() -> Result<Self> {
        let instance = wgpu::Instance::new(wgpu::InstanceDescriptor::new_without_display_handle());
        let adapter = instance
            .request_adapter(&wgpu::RequestAdapterOptions {
                power_preference: wgpu::PowerPreference::HighPerformance,
                ..Default::default()
            })
            .await
            .map_err(|e| Error::Device(format!("no WebGPU adapter: {e}")))?;
        // The adapter's own limits, not WebGPU's defaults: 128 MiB per storage binding is too
        // small for batched passes on the larger checkpoints when the adapter allows more.
        let limits = adapter.limits();
        let (device, queue) = adapter
            .request_device(&wgpu::DeviceDescriptor {
                label: Some("sightline"),
                required_features: wgpu::Features::empty(),
                required_limits: limits.clone(),
                experimental_features: wgpu::ExperimentalFeatures::disabled(),
                memory_hints: wgpu::MemoryHints::Performance,
                trace: wgpu::Trace::Off,
            })
            .await
            .map_err(|e| Error::Device(format!("the WebGPU device could not be created: {e}")))?;
        let failure = Arc::new(Mutex::new(None));
        let on_error = failure.clone();
        device.on_uncaptured_error(Arc::new(move |error: wgpu::Error| {
            let device_failed = matches!(error, wgpu::Error::OutOfMemory { .. });
            record_failure(&on_error, Failure { message: error.to_string(), device_failed });
        }));
        let on_loss = failure.clone();
        device.set_device_lost_callback(move |reason, message| {
            let message = format!("the WebGPU device was lost ({reason:?}): {message}");
            record_failure(&on_loss, Failure { message, device_failed: true });
        });
        let placeholder = filled_buffer(&device, &queue, "placeholder", &[0; 4], wgpu::BufferUsages::STORAGE);
        Ok(Gpu {
            pool: Arc::new(BufferPool::new(device.clone())),
            adapter: adapter.get_info(),
            device,
            queue,
            limits,
            pipelines: PipelineCache::default(),
            pending: Mutex::new(None),
            failure,
            placeholder,
        })
    }

    pub fn placeholder(&self) -> &wgpu::Buffer {
        &self.placeholder
    }

    pub fn free_pooled_buffers(&self) {
        self.pool.clear();
    }

    pub fn compiled_pipelines(&self) -> usize {
        self.pipelines.compiled()
    }

    /// Fails with the device's first reported error, if any.
    pub fn check(&self) -> Result<()> {
        match self.failure.lock().ok().and_then(|f| f.clone()) {
            Some(Failure { message, device_failed: true }) => Err(Error::Device(message)),
            Some(Failure { message, device_failed: false }) => Err(Error::Internal(message)),
            None => Ok(()),
        }
    }

    /// The largest tensor one binding may hold.
    pub fn max_tensor_bytes(&self) -> u64 {
        self.limits.max_storage_buffer_binding_size.min(self.limits.max_buffer_size)
    }

    /// An uninitialized tensor of `shape` (every kernel writes all of its output).
    pub fn tensor(&self, shape: Vec<usize>) -> Result<GpuTensor> {
        let bytes = self.checked_bytes(&shape)?;
        let buffer = self.pool.take_released(bytes).unwrap_or_else(|| self.pool.create(bytes));
        Ok(GpuTensor::new(buffer, self.pool.clone(), shape))
    }

    fn checked_bytes(&self, shape: &[usize]) -> Result<u64> {
        let bytes = BufferPool::buffer_bytes(shape.iter().product());
        if bytes > self.max_tensor_bytes() {
            return Err(Error::Device(format!(
                "a tensor of shape {shape:?} needs {bytes} bytes, more than this adapter binds at once ({} bytes); \
                 use a smaller batch",
                self.max_tensor_bytes()
            )));
        }
        Ok(bytes)
    }

    /// A tensor holding `values`. A pooled buffer is filled by a recorded copy, so the write
    /// lands after every command recorded before it (a queue write would land before them).
    pub fn upload(&self, values: &[u8], shape: Vec<usize>) -> Result<GpuTensor> {
        self.check()?;
        let bytes = self.checked_bytes(&shape)?;
        let Some(buffer) = self.pool.take_released(bytes) else {
            // A fresh buffer is used by no recorded command, so a queue write is safe.
            let buffer = self.pool.create(bytes);
            self.queue.write_buffer(&buffer, 0, values);
            return Ok(GpuTensor::new(buffer, self.pool.clone(), shape));
        };
        if !values.is_empty() {
            let staging = filled_buffer(&self.device, &self.queue, "upload", values, wgpu::BufferUsages::COPY_SRC);
            self.record(|encoder| encoder.copy_buffer_to_buffer(&staging, 0, &buffer, 0, values.len() as u64))?;
        }
        Ok(GpuTensor::new(buffer, self.pool.clone(), shape))
    }

    /// A new tensor of `shape` holding `bytes` bytes of `source` from byte `offset`, copied by a
    /// recorded command (so after everything recorded before it).
    pub fn copy_range(&self, source: &GpuTensor, offset: u64, shape: Vec<usize>) -> Result<GpuTensor> {
        let out = self.tensor(shape)?;
        let bytes = 4 * out.elements() as u64;
        if bytes > 0 {
            self.record(|encoder| encoder.copy_buffer_to_buffer(source.buffer(), offset, out.buffer(), 0, bytes))?;
        }
        Ok(out)
    }

    /// Submits everything recorded so far and reads `tensor` back: the only point where the
    /// host waits for the GPU.
    pub fn download(&self, tensor: &GpuTensor) -> Result<Vec<f32>> {
        let Some(staging) = self.stage_for_reading(tensor)? else { return Ok(Vec::new()) };
        let values = read_floats(&self.device, &staging);
        self.check()?;
        values
    }

    /// `download` without blocking: the browser resolves the read from its event loop.
    pub async fn download_async(&self, tensor: &GpuTensor) -> Result<Vec<f32>> {
        let Some(staging) = self.stage_for_reading(tensor)? else { return Ok(Vec::new()) };
        let values = read_floats_async(&self.device, &staging).await;
        self.check()?;
        values
    }

    /// Records a copy of `tensor` into a mappable buffer and submits; None for an empty tensor.
    fn stage_for_reading(&self, tensor: &GpuTensor) -> Result<Option<wgpu::Buffer>> {
        self.check()?;
        let bytes = 4 * tensor.elements() as u64;
        if bytes == 0 {
            return Ok(None);
        }
        let staging = self.device.create_buffer(&wgpu::BufferDescriptor {
            label: Some("readback"),
            size: bytes,
            usage: wgpu::BufferUsages::MAP_READ | wgpu::BufferUsages::COPY_DST,
            mapped_at_creation: false,
        });
        self.record(|encoder| encoder.copy_buffer_to_buffer(tensor.buffer(), 0, &staging, 0, bytes))?;
        self.submit()?;
        Ok(Some(staging))
    }

    /// Submits everything recorded so far and waits for it.
    pub fn finish(&self) -> Result<()> {
        self.check()?;
        self.submit()?;
        wait_until_idle(&self.device)?;
        self.check()
    }

    /// `finish` without blocking: the browser resolves the wait from its event loop.
    pub async fn finish_async(&self) -> Result<()> {
        self.check()?;
        self.submit()?;
        wait_until_idle_async(&self.device, &self.queue).await?;
        self.check()
    }

    /// Records one dispatch of `kernel`: binding 0 is the uniform `params` (u32 words, f32 as
    /// bits), bindings 1.. are `buffers` in the order the shader declares them.
    pub fn dispatch(&self, kernel: &Kernel, params: &[u32], buffers: &[&wgpu::Buffer], groups: [u32; 3]) -> Result<()> {
        self.check()?;
        if groups.contains(&0) {
            return Ok(());
        }
        let pipeline = self.pipelines.get(&self.device, kernel);
        // Uniform blocks are laid out in 16-byte rows.
        let mut words = params.to_vec();
        words.resize(params.len().div_ceil(4).max(1) * 4, 0);
        let uniform = filled_buffer(
            &self.device,
            &self.queue,
            kernel.name,
            bytemuck::cast_slice(&words),
            wgpu::BufferUsages::UNIFORM,
        );
        let mut entries = vec![wgpu::BindGroupEntry { binding: 0, resource: uniform.as_entire_binding() }];
        entries.extend(
            buffers
                .iter()
                .enumerate()
                .map(|(i, b)| wgpu::BindGroupEntry { binding: i as u32 + 1, resource: b.as_entire_binding() }),
        );
        let bind_group = self.device.create_bind_group(&wgpu::BindGroupDescriptor {
            label: Some(kernel.name),
            layout: &pipeline.get_bind_group_layout(0),
            entries: &entries,
        });
        self.record(|encoder| {
            let mut pass = encoder
                .begin_compute_pass(&wgpu::ComputePassDescriptor { label: Some(kernel.name), timestamp_writes: None });
            pass.set_pipeline(&pipeline);
            pass.set_bind_group(0, &bind_group, &[]);
            pass.dispatch_workgroups(groups[0], groups[1], groups[2]);
        })
    }

    /// Workgroup counts for `groups` workgroups laid out in x then y, since one dimension holds
    /// at most `max_compute_workgroups_per_dimension` (65535 by default). Kernels recover the
    /// flat index as `id.x + id.y * num_workgroups.x`.
    pub fn grid(&self, groups: usize) -> Result<[u32; 3]> {
        let max = self.limits.max_compute_workgroups_per_dimension as usize;
        let x = groups.min(max);
        let y = if x == 0 { 0 } else { groups.div_ceil(x) };
        if y > max {
            return Err(Error::Device(format!("{groups} workgroups exceed this adapter's grid; use a smaller batch")));
        }
        Ok([x as u32, y as u32, 1])
    }

    fn record(&self, f: impl FnOnce(&mut wgpu::CommandEncoder)) -> Result<()> {
        let mut pending = self.pending.lock().map_err(|_| Error::Internal("the command encoder is poisoned".into()))?;
        let encoder = pending.get_or_insert_with(|| {
            self.device.create_command_encoder(&wgpu::CommandEncoderDescriptor { label: Some("pass") })
        });
        f(encoder);
        Ok(())
    }

    /// Hands the recorded commands to the queue without waiting for them.
    pub fn submit(&self) -> Result<()> {
        let mut pending = self.pending.lock().map_err(|_| Error::Internal("the command encoder is poisoned".into()))?;
        // Submitted while the lock is held: otherwise another thread could record into a fresh
        // encoder and submit it first, running commands before those they depend on, or read a
        // buffer back before the commands writing it reached the queue.
        if let Some(encoder) = pending.take() {
            self.queue.submit([encoder.finish()]);
        }
        Ok(())
    }

    /// Destroys the device as a driver reset would: every later op fails with "device lost".
    /// Used to test that callers fall back to the CPU.
    pub fn destroy(&self) {
        record_failure(
            &self.failure,
            Failure { message: "the WebGPU device was destroyed".into(), device_failed: true },
        );
        self.device.destroy();
    }
}

/// A new buffer holding `contents`. Written through the queue rather than mapped at creation:
/// on a lost device mapping panics inside wgpu, while a queue write only reports an error.
fn filled_buffer(
    device: &wgpu::Device,
    queue: &wgpu::Queue,
    label: &str,
    contents: &[u8],
    usage: wgpu::BufferUsages,
) -> wgpu::Buffer {
    let buffer = device.create_buffer(&wgpu::BufferDescriptor {
        label: Some(label),
        size: contents.len() as u64,
        usage: usage | wgpu::BufferUsages::COPY_DST,
        mapped_at_creation: false,
    });
    queue.write_buffer(&buffer, 0, contents);
    buffer
}

/// What the device reported first.
#[derive(Clone)]
struct Failure {
    message: String,
    /// The device itself failed (lost, out of memory), rather than rejecting our commands.
    device_failed: bool,
}

fn record_failure(slot: &Mutex<Option<Failure>>, failure: Failure) {
    if let Ok(mut slot) = slot.lock() {
        slot.get_or_insert(failure);
    }
}
