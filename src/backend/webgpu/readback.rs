//! Reading a buffer back to the host: the one place that waits for the GPU.
//!
//! Natively the map request is completed by a blocking `Device::poll`. In the browser nothing may
//! block: `map_async`'s callback runs only after control returns to the event loop, so there the
//! read is a future that the callback resolves (driven by wasm-bindgen-futures), and the
//! explanation that needs the values is itself async. A synchronous read in the browser is
//! refused with an error rather than deadlocking the worker.

use crate::error::{Error, Result};

#[cfg(not(target_arch = "wasm32"))]
pub(crate) fn read_floats(device: &wgpu::Device, staging: &wgpu::Buffer) -> Result<Vec<f32>> {
    let slice = staging.slice(..);
    let (sender, receiver) = std::sync::mpsc::channel();
    slice.map_async(wgpu::MapMode::Read, move |result| {
        let _ = sender.send(result);
    });
    device
        .poll(wgpu::PollType::wait_indefinitely())
        .map_err(|e| Error::Device(format!("waiting for the GPU failed: {e}")))?;
    receiver
        .recv()
        .map_err(|_| Error::Device("the GPU never answered the readback".into()))?
        .map_err(|e| Error::Device(format!("reading back from the GPU failed: {e}")))?;
    let values = {
        let view = slice.get_mapped_range().map_err(|e| Error::Device(format!("mapped range: {e:?}")))?;
        bytemuck::pod_collect_to_vec::<u8, f32>(&view)
    };
    staging.unmap();
    Ok(values)
}

/// Blocks until the GPU has run everything submitted (natively; the browser cannot block, and its
/// timings come from awaited readbacks instead).
#[cfg(not(target_arch = "wasm32"))]
pub(crate) fn wait_until_idle(device: &wgpu::Device) -> Result<()> {
    device
        .poll(wgpu::PollType::wait_indefinitely())
        .map(|_| ())
        .map_err(|e| Error::Device(format!("waiting for the GPU failed: {e}")))
}

#[cfg(target_arch = "wasm32")]
pub(crate) fn wait_until_idle(_device: &wgpu::Device) -> Result<()> {
    Ok(())
}

#[cfg(not(target_arch = "wasm32"))]
pub(crate) async fn wait_until_idle_async(device: &wgpu::Device, _queue: &wgpu::Queue) -> Result<()> {
    wait_until_idle(device)
}

/// Resolves once the queue has run everything submitted to it.
#[cfg(target_arch = "wasm32")]
pub(crate) async fn wait_until_idle_async(_device: &wgpu::Device, queue: &wgpu::Queue) -> Result<()> {
    let answer = std::sync::Arc::new(std::sync::Mutex::new(MapState::default()));
    let on_done = answer.clone();
    queue.on_submitted_work_done(move || {
        if let Ok(mut state) = on_done.lock() {
            state.result = Some(Ok(()));
            if let Some(waker) = state.waker.take() {
                waker.wake();
            }
        }
    });
    MapFuture { state: answer }.await.map_err(|e| Error::Device(format!("waiting for the GPU failed: {e}")))
}

#[cfg(not(target_arch = "wasm32"))]
pub(crate) async fn read_floats_async(device: &wgpu::Device, staging: &wgpu::Buffer) -> Result<Vec<f32>> {
    read_floats(device, staging)
}

#[cfg(target_arch = "wasm32")]
pub(crate) async fn read_floats_async(_device: &wgpu::Device, staging: &wgpu::Buffer) -> Result<Vec<f32>> {
    let slice = staging.slice(..);
    let answer = std::sync::Arc::new(std::sync::Mutex::new(MapState::default()));
    let on_mapped = answer.clone();
    slice.map_async(wgpu::MapMode::Read, move |result| {
        if let Ok(mut state) = on_mapped.lock() {
            state.result = Some(result.map_err(|e| e.to_string()));
            if let Some(waker) = state.waker.take() {
                waker.wake();
            }
        }
    });
    MapFuture { state: answer }.await.map_err(|e| Error::Device(format!("reading back from the GPU failed: {e}")))?;
    let values = {
        let view = slice.get_mapped_range().map_err(|e| Error::Device(format!("mapped range: {e:?}")))?;
        bytemuck::pod_collect_to_vec::<u8, f32>(&view)
    };
    staging.unmap();
    Ok(values)
}

#[cfg(target_arch = "wasm32")]
#[derive(Default)]
struct MapState {
    result: Option<std::result::Result<(), String>>,
    waker: Option<std::task::Waker>,
}

/// Resolves when a callback of the device (`map_async`, `on_submitted_work_done`) has run.
#[cfg(target_arch = "wasm32")]
struct MapFuture {
    state: std::sync::Arc<std::sync::Mutex<MapState>>,
}

#[cfg(target_arch = "wasm32")]
impl std::future::Future for MapFuture {
    type Output = std::result::Result<(), String>;

    fn poll(self: std::pin::Pin<&mut Self>, cx: &mut std::task::Context<'_>) -> std::task::Poll<Self::Output> {
        let Ok(mut state) = self.state.lock() else {
            return std::task::Poll::Ready(Err("the readback state is poisoned".into()));
        };
        match state.result.take() {
            Some(result) => std::task::Poll::Ready(result),
            None => {
                state.waker = Some(cx.waker().clone());
                std::task::Poll::Pending
            }
        }
    }
}

#[cfg(target_arch = "wasm32")]
pub(crate) fn read_floats(_device: &wgpu::Device, _staging: &wgpu::Buffer) -> Result<Vec<f32>> {
    Err(Error::Device(
        "a synchronous readback is impossible in the browser; the webgpu backend must be driven by the async \
         readback path"
            .into(),
    ))
}
