//! Redoing an explanation on the CPU when the GPU fails under it (device lost, out of memory,
//! a driver error). Only backend failures fall back: bad input fails the same on every backend.
//! The explanation then says `backend: "cpu"` and carries a warning naming the GPU's failure,
//! so the JSON always says what actually ran.

use super::{Explainer, Explanation, Request};
use crate::backend::cpu::CpuBackend;
use crate::backend::Backend;
use crate::error::{Error, Result};

/// Runs `request` on `gpu`; when that fails with `Error::Backend`, runs it again on the CPU
/// explainer made by `cpu` (built only when needed, e.g. from the same model bytes).
pub fn explain_with_fallback<G: Backend>(
    gpu: &Explainer<G>,
    cpu: impl FnOnce() -> Result<Explainer<CpuBackend>>,
    request: &Request,
    progress: &dyn Fn(usize, usize),
) -> Result<Explanation> {
    match gpu.explain_with_progress(request, progress) {
        Err(Error::Backend(reason)) => {
            let mut explanation = cpu()?.explain_with_progress(request, progress)?;
            explanation.warnings.push(format!(
                "the {} backend failed ({reason}); this explanation was computed on the cpu",
                gpu.backend().name()
            ));
            Ok(explanation)
        }
        other => other,
    }
}
