//! Redoing an explanation on the CPU when the GPU fails under it (device lost, out of memory,
//! a driver error). Only backend failures fall back: bad input fails the same on every backend.
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
    match gpu.explain_async(request, progress).await {
        Err(Error::Backend(reason)) => {
            let mut explanation = cpu()?.borrow().explain_with_progress(request, progress)?;
            explanation.warnings.push(format!(
                "the {} backend failed ({reason}); this explanation was computed on the cpu",
                gpu.backend().name()
            ));
            Ok(explanation)
        }
        other => other,
    }
}
