//! Plain gradients (Simonyan et al. 2014, <https://arxiv.org/abs/1312.6034>) and gradient × input:
//! one backward pass, read at the pixels and at the text tokens' input embeddings.

use super::{backward, Maps};
use crate::error::Result;
use crate::explain::maps::{max_abs_over_channels, pixels_to_patches, sum_over_channels, PatchReduction};
use crate::explain::subject::{Subject, TokenGradients};
use crate::explain::timings::Timings;
use crate::loader::HostTensor;

/// Pixels: max over channels of |∂s/∂x|, patches: their mean; text: ‖∂s/∂e_t‖₂.
pub(super) async fn gradient<S: Subject>(subject: &S, pass: &S::Pass, timings: &Timings) -> Result<Maps> {
    let backend = subject.backend();
    let grads = backward(subject, pass, timings).await?;
    let geometry = subject.image().geometry;
    let g = timings.read(backend, subject.pixel_gradient(&grads)).await?.data;
    let pixel = max_abs_over_channels(&g, geometry);
    let text_scores = match subject.token_gradients(pass, &grads) {
        Some(tokens) => {
            let d_e = timings.read(backend, tokens.gradient).await?;
            Some(text_rows(&tokens, &d_e).map(|g| g.iter().map(|v| v * v).sum::<f32>().sqrt()).collect())
        }
        None => None,
    };
    Ok(Maps {
        patch_scores: pixels_to_patches(&pixel, geometry, PatchReduction::Mean),
        pixel_scores: Some(pixel),
        text_scores,
    })
}

/// Pixels: Σ_c ∂s/∂x ⊙ x, patches: their sum; text: Σ_d ∂s/∂e_t ⊙ e_t.
pub(super) async fn grad_x_input<S: Subject>(subject: &S, pass: &S::Pass, timings: &Timings) -> Result<Maps> {
    let backend = subject.backend();
    let grads = backward(subject, pass, timings).await?;
    let image = subject.image();
    let g = timings.read(backend, subject.pixel_gradient(&grads)).await?.data;
    let product: Vec<f32> = g.iter().zip(&image.pixels.data).map(|(g, x)| g * x).collect();
    let pixel = sum_over_channels(&product, image.geometry);
    let text_scores = match subject.token_gradients(pass, &grads) {
        Some(tokens) => {
            let d_e = timings.read(backend, tokens.gradient).await?;
            let e = timings.read(backend, tokens.embeddings).await?;
            let products = text_rows(&tokens, &d_e).zip(text_rows(&tokens, &e));
            Some(products.map(|(g, e)| g.iter().zip(e).map(|(g, e)| g * e).sum()).collect())
        }
        None => None,
    };
    Ok(Maps {
        patch_scores: pixels_to_patches(&pixel, image.geometry, PatchReduction::Sum),
        pixel_scores: Some(pixel),
        text_scores,
    })
}

/// The text tokens' rows of a (1, T, D) tensor read back from `tokens`.
fn text_rows<'a, T>(tokens: &'a TokenGradients<T>, values: &'a HostTensor) -> impl Iterator<Item = &'a [f32]> {
    let width = *values.shape.last().unwrap_or(&1);
    tokens.positions.iter().map(move |&t| &values.data[t * width..(t + 1) * width])
}
