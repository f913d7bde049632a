//! Wall-clock phases of one explanation, reported in `timings_ms`. A GPU runs recorded work only
//! when it is submitted and waited for, so each phase ends by waiting for the device: the work a
//! phase asked for is charged to it, and the copies back to the host go to their own `readback`
//! phase.

use crate::backend::Backend;
use crate::error::Result;
use crate::loader::HostTensor;
use std::cell::{Cell, RefCell};
use std::collections::BTreeMap;
use web_time::{Duration, Instant};

pub(super) struct Timings {
    start: Instant,
    phase: Cell<Instant>,
    phases: RefCell<BTreeMap<String, f64>>,
}

impl Timings {
    pub fn new() -> Self {
        let now = Instant::now();
        Timings { start: now, phase: Cell::new(now), phases: RefCell::default() }
    }

    fn charge(&self, name: &str, duration: Duration) {
        *self.phases.borrow_mut().entry(name.to_string()).or_default() += duration.as_secs_f64() * 1e3;
    }

    /// Ends the current phase as `name`.
    pub fn lap(&self, name: &str) {
        let now = Instant::now();
        self.charge(name, now - self.phase.get());
        self.phase.set(now);
    }

    /// Waits for the work asked of the device so far, then ends the current phase as `name`.
    pub async fn lap_after_device<B: Backend>(&self, backend: &B, name: &str) -> Result<()> {
        backend.finish_async().await?;
        self.lap(name);
        Ok(())
    }

    /// Reads `tensor` back: the device's pending work stays in the current phase, the copy itself
    /// is charged to `readback`.
    pub async fn read<B: Backend>(&self, backend: &B, tensor: &B::Tensor) -> Result<HostTensor> {
        backend.finish_async().await?;
        let started = Instant::now();
        let values = backend.download_async(tensor).await?;
        let copying = started.elapsed();
        self.charge("readback", copying);
        self.phase.set(self.phase.get() + copying);
        Ok(values)
    }

    pub fn finish(self) -> BTreeMap<String, f64> {
        let mut phases = self.phases.into_inner();
        phases.insert("total".into(), self.start.elapsed().as_secs_f64() * 1e3);
        phases
    }
}
