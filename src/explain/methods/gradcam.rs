//! Grad-CAM (Selvaraju et al. 2017) on a transformer's tokens: the channels of a residual stream
//! weighted by their mean gradient over the patches, ReLU of the sum per token.

use super::{backward, Maps};
use crate::error::{Error, Result};
use crate::explain::device_relevance::gradcam_relevance;
use crate::explain::subject::Subject;
use crate::explain::timings::Timings;

pub(super) async fn gradcam<S: Subject>(subject: &S, pass: &S::Pass, timings: &Timings) -> Result<Maps> {
    let grads = backward(subject, pass, timings).await?;
    let layer = subject
        .gradcam_layer(pass, &grads)
        .ok_or_else(|| Error::InvalidOption("gradcam is not defined for this model".into()))?;
    let relevance =
        gradcam_relevance(subject.backend(), timings, layer.hidden, layer.gradient, layer.weighted.clone()).await?;
    Ok(Maps { patch_scores: relevance[layer.weighted].to_vec(), pixel_scores: None, text_scores: None })
}
