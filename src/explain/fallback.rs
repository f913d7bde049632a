//! Redoing an explanation on the CPU when the GPU device fails under it (lost, out of memory).
//! Only device failures fall back: bad input fails the same on every backend, and an internal
//! error is a bug that a silent rerun elsewhere would hide.
//! The explanation then says `backend: "cpu"` and carries a warning naming the GPU's failure,
//! so the JSON always says what actually ran.

use super::explainer::now;
use super::{Explainer, Explanation, Request};
use crate::backend::cpu::CpuBackend;
use crate::backend::Backend;
use crate::error::{Error, Result};
use std::borrow::Borrow;

/// Runs `request` on `gpu`; when that fails with `Error::Backend`, runs it again on the CPU
/// explainer given by `cpu` (asked for only when needed: built from the same model bytes, or one
/// already held).
pub fn explain_with_fallback<G: Backend, C: Borrow<Explainer<CpuBackend>>>(
    gpu: &Explainer<G>,
    cpu: impl FnOnce() -> Result<C>,
    request: &Request,
    progress: &dyn Fn(usize, usize),
) -> Result<Explanation> {
    now(explain_with_fallback_async(gpu, cpu, request, progress))
}

/// `explain_with_fallback` for a GPU that must be awaited (WebGPU in the browser).
pub async fn explain_with_fallback_async<G: Backend, C: Borrow<Explainer<CpuBackend>>>(
    gpu: &Explainer<G>,
    cpu: impl FnOnce() -> Result<C>,
    request: &Request<'_>,
    progress: &dyn Fn(usize, usize),
) -> Result<Explanation> {
    let on_gpu = gpu.explain_async(request, progress).await;
    let mut explanation = or_on_cpu(on_gpu, || cpu()?.borrow().explain_with_progress(request, progress))?;
    if let Some(reason) = explanation.1 {
        explanation.0.warnings.push(format!(
            "the {} backend failed ({reason}); this explanation was computed on the cpu",
            gpu.backend().name()
        ));
    }
    Ok(explanation.0)
}

/// `on_gpu`, or when it failed because the device did, what `on_cpu` gives together with the
/// device's failure.
fn or_on_cpu<T>(on_gpu: Result<T>, on_cpu: impl FnOnce() -> Result<T>) -> Result<(T, Option<String>)> {
    match on_gpu {
        Ok(result) => Ok((result, None)),
        Err(Error::Device(reason)) => Ok((on_cpu()?, Some(reason))),
        Err(other) => Err(other),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_failed_device_falls_back() {
        let lost = or_on_cpu(Err(Error::Device("lost".into())), || Ok(2)).unwrap();
        assert_eq!(lost, (2, Some("lost".to_string())));
        assert_eq!(or_on_cpu(Ok(1), || Ok(2)).unwrap(), (1, None));
        let bug = or_on_cpu(Err(Error::Internal("a kernel got the wrong shape".into())), || Ok(2));
        assert!(matches!(bug, Err(Error::Internal(_))), "a shape bug surfaces instead of rerunning on the cpu");
        let input = or_on_cpu::<i32>(Err(Error::Image("truncated".into())), || Ok(2));
        assert!(matches!(input, Err(Error::Image(_))));
    }
}
