//! The explained token's activation at each image token: max(0, its logit read through the
//! vocabulary head at the image positions, lm_head(norm(h_L))), a forward-only map and the base
//! of Token Activation Maps (Li et al., ICCV 2025, <https://arxiv.org/abs/2506.23270>).

use super::Maps;
use crate::error::{Error, Result};
use crate::explain::subject::Subject;
use crate::explain::timings::Timings;

pub(super) async fn token_activation<S: Subject>(subject: &S, pass: &S::Pass, timings: &Timings) -> Result<Maps> {
    let scores = subject.image_token_scores(pass).ok_or_else(|| {
        Error::InvalidOption(
            "token_activation reads a generated token's logit at the image tokens; it needs a generative model".into(),
        )
    })??;
    let values = timings.read(subject.backend(), &scores).await?.data;
    Ok(Maps { patch_scores: values.into_iter().map(|v| v.max(0.0)).collect(), pixel_scores: None, text_scores: None })
}
