//! The methods that explain with many inputs, run as batches split only at the subject's memory
//! budget: integrated gradients (Sundararajan et al. 2017, <https://arxiv.org/abs/1703.01365>),
//! SmoothGrad (Smilkov et al. 2017, <https://arxiv.org/abs/1706.03825>) and occlusion. Inputs
//! are made, scored and summed where the batches run, so nothing is read back between batches.

use super::Maps;
use crate::backend::{BatchOps, TensorStore};
use crate::error::{Error, Result};
use crate::explain::maps::{max_abs_over_channels, pixels_to_patches, sum_over_channels, Geometry, PatchReduction};
use crate::explain::noise::{smoothgrad_sigma, standard_normals};
use crate::explain::subject::{Subject, TensorOf};
use crate::explain::timings::Timings;
use crate::explain::MethodOptions;
use crate::loader::HostTensor;
use crate::model::Recording;
use std::ops::Range;

/// x ⊙ (1/m) Σ_k ∂s/∂x at (k/m)·x for k = 1..m (zero baseline, right Riemann sum); pixels: Σ_c,
/// patches: their sum.
pub(super) async fn integrated_gradients<S: Subject>(
    subject: &S,
    options: &MethodOptions,
    timings: &Timings,
    progress: &dyn Fn(usize, usize),
) -> Result<Maps> {
    let (backend, image) = (subject.backend(), subject.image());
    let steps = options.steps;
    let alphas: Vec<f32> = (1..=steps).map(|k| k as f32 / steps as f32).collect();
    let total =
        gradient_sum(subject, steps, |range| backend.scaled_copies(&image.on_device, &alphas[range]), false, progress)?;
    let total = timings.read(backend, &total).await?.data;
    let ig: Vec<f32> = total.iter().zip(&image.pixels.data).map(|(g, x)| x * g / steps as f32).collect();
    let pixel = sum_over_channels(&ig, image.geometry);
    Ok(Maps {
        patch_scores: pixels_to_patches(&pixel, image.geometry, PatchReduction::Sum),
        pixel_scores: Some(pixel),
        text_scores: None,
    })
}

/// The mean of |∂s/∂x| over `steps` noisy copies x + σz, σ = 0.15·(max x − min x), z from the
/// seeded generator; pixels: max over channels, patches: their mean.
pub(super) async fn smoothgrad<S: Subject>(
    subject: &S,
    options: &MethodOptions,
    timings: &Timings,
    progress: &dyn Fn(usize, usize),
) -> Result<Maps> {
    let (backend, image) = (subject.backend(), subject.image());
    let (steps, pixels) = (options.steps, &image.pixels.data);
    let n = pixels.len();
    let sigma = smoothgrad_sigma(pixels);
    let noise = standard_normals(options.seed, steps * n);
    let noisy = |k: usize| -> Vec<f32> {
        pixels.iter().zip(&noise[k * n..(k + 1) * n]).map(|(x, z)| x + sigma * *z as f32).collect()
    };
    let total = gradient_sum(
        subject,
        steps,
        |range| backend.upload(&stack_inputs(range, &noisy, image.geometry)),
        true,
        progress,
    )?;
    let mean: Vec<f32> = timings.read(backend, &total).await?.data.iter().map(|v| v / steps as f32).collect();
    let pixel = max_abs_over_channels(&mean, image.geometry);
    Ok(Maps {
        patch_scores: pixels_to_patches(&pixel, image.geometry, PatchReduction::Mean),
        pixel_scores: Some(pixel),
        text_scores: None,
    })
}

/// s(x) − s(x with patch p zeroed), for every patch p.
pub(super) async fn occlusion<S: Subject>(
    subject: &S,
    pass: &S::Pass,
    timings: &Timings,
    progress: &dyn Fn(usize, usize),
) -> Result<Maps> {
    let (backend, image) = (subject.backend(), subject.image());
    let score = subject.score(pass);
    let patches = image.geometry.patches();
    let mut scores = Vec::new();
    for range in batch_ranges(patches, subject.batch_size(Recording::Nothing)) {
        let end = range.end;
        let batch = backend.occluded_copies(&image.on_device, range.start, range.len(), image.geometry.patch_size)?;
        scores.push(subject.batch_scores(&batch)?);
        backend.submit()?;
        progress(end, patches);
    }
    let mut patch_scores = Vec::with_capacity(patches);
    for occluded in &scores {
        patch_scores.extend(timings.read(backend, occluded).await?.data.iter().map(|s_p| score - s_p));
    }
    Ok(Maps { patch_scores, pixel_scores: None, text_scores: None })
}

/// Σ_k ∂s_k/∂x_k (or Σ_k |∂s_k/∂x_k|), as (3, S, S), over `count` inputs that `batch(range)`
/// makes on the device. Nothing is read back: the sum is kept where the batches run.
fn gradient_sum<S: Subject>(
    subject: &S,
    count: usize,
    batch: impl Fn(Range<usize>) -> Result<TensorOf<S::Backend>>,
    absolute: bool,
    progress: &dyn Fn(usize, usize),
) -> Result<TensorOf<S::Backend>> {
    let backend = subject.backend();
    let mut total = None;
    for range in batch_ranges(count, subject.batch_size(Recording::Backward)) {
        let end = range.end;
        let gradients = subject.batch_input_gradients(&batch(range)?)?;
        total = Some(backend.sum_batch(&gradients, absolute, total.as_ref())?);
        backend.submit()?;
        progress(end, count);
    }
    total.ok_or_else(|| Error::InvalidOption("at least one step is needed".into()))
}

/// `0..count` in consecutive ranges of at most `chunk`: the batches of a batched pass.
pub(crate) fn batch_ranges(count: usize, chunk: usize) -> impl Iterator<Item = Range<usize>> {
    (0..count).step_by(chunk.max(1)).map(move |start| start..(start + chunk.max(1)).min(count))
}

/// The inputs `input(k)` for k in `range`, (3·S·S values each), as one (count, 3, S, S) batch.
pub(crate) fn stack_inputs(range: Range<usize>, input: &impl Fn(usize) -> Vec<f32>, geometry: Geometry) -> HostTensor {
    let count = range.len();
    let data: Vec<f32> = range.flat_map(input).collect();
    HostTensor::new(data, vec![count, 3, geometry.image_size, geometry.image_size])
}
