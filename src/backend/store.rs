//! Where a backend's tensors live: uploads, read-backs, and waiting for (or handing work to) the
//! device.

use crate::error::Result;
use crate::loader::{HostTensor, HostView};

pub trait TensorStore {
    type Tensor: Clone;

    /// The name reported in explanations ("cpu", "webgpu").
    fn name(&self) -> &'static str;
    /// The largest tensor the backend holds in one piece (a GPU binding limit); batched passes
    /// are split so that no activation exceeds it.
    fn max_tensor_bytes(&self) -> usize {
        usize::MAX
    }
    /// Waits until all work asked of the backend so far is done, so that phase timings charge
    /// work to the phase that asked for it (a GPU runs recorded work only when results are read).
    fn finish(&self) -> Result<()> {
        Ok(())
    }
    /// `finish` without blocking the thread where that matters (a GPU in the browser).
    #[allow(async_fn_in_trait)]
    async fn finish_async(&self) -> Result<()> {
        self.finish()
    }
    /// Hands the work recorded so far to the device without waiting for it, so that a GPU
    /// starts on one batch while the next is recorded and no command buffer grows without bound.
    fn submit(&self) -> Result<()> {
        Ok(())
    }
    /// A tensor's dimensions.
    fn dims<'t>(&self, tensor: &'t Self::Tensor) -> &'t [usize];
    /// The same values, row-major, under other dimensions of the same count (no copy).
    fn reshape(&self, tensor: &Self::Tensor, dims: &[usize]) -> Result<Self::Tensor>;
    fn upload(&self, tensor: &HostTensor) -> Result<Self::Tensor>;
    /// Reads a tensor back, waiting for the device. In the browser a GPU cannot be waited for:
    /// there this fails and `download_async` must be awaited instead.
    fn download(&self, tensor: &Self::Tensor) -> Result<HostTensor>;
    /// Reads a tensor back without blocking the thread where that matters (a GPU in the browser
    /// resolves the read from the event loop). Explanations read back only through this.
    // Not `Send`: wgpu's browser types are not, and nothing here moves futures across threads.
    #[allow(async_fn_in_trait)]
    async fn download_async(&self, tensor: &Self::Tensor) -> Result<HostTensor> {
        self.download(tensor)
    }
    /// Calls `f` on `tensors` where they already sit in host memory, so that host arithmetic
    /// reads them in place (the CPU backend); `None`, without calling `f`, where they would have
    /// to be read back first (a GPU).
    fn with_host_views<R>(
        &self,
        _tensors: &[&Self::Tensor],
        _f: &mut dyn FnMut(&[HostView]) -> R,
    ) -> Result<Option<R>> {
        Ok(None)
    }
}
