//! Reading a buffer back to the host: the one place that waits for the GPU.
//!
//! Natively the map request is completed by a blocking `Device::poll`. In the browser nothing may
//! block: `map_async`'s callback runs only after control returns to the event loop, so the wasm
//! path must await it (a future resolved by the callback, driven by wasm-bindgen-futures) and the
//! explanation that needs the values must itself be async. Until that path is wired, a synchronous
//! download in the browser is refused with an error rather than deadlocking the worker.

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
        .map_err(|e| Error::Backend(format!("waiting for the GPU failed: {e}")))?;
    receiver
        .recv()
        .map_err(|_| Error::Backend("the GPU never answered the readback".into()))?
        .map_err(|e| Error::Backend(format!("reading back from the GPU failed: {e}")))?;
    let values = {
        let view = slice.get_mapped_range().map_err(|e| Error::Backend(format!("mapped range: {e:?}")))?;
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
        .map_err(|e| Error::Backend(format!("waiting for the GPU failed: {e}")))
}

#[cfg(target_arch = "wasm32")]
pub(crate) fn wait_until_idle(_device: &wgpu::Device) -> Result<()> {
    Ok(())
}

#[cfg(target_arch = "wasm32")]
pub(crate) fn read_floats(_device: &wgpu::Device, _staging: &wgpu::Buffer) -> Result<Vec<f32>> {
    Err(Error::Backend(
        "a synchronous readback is impossible in the browser; the webgpu backend must be driven by the async \
         readback path"
            .into(),
    ))
}
