//! The relevance methods' arithmetic where the maps live. Each op returns `None` to leave it to
//! the host (`explain::relevance`), which is what the CPU backend does: there the maps are already
//! in host memory (see `TensorStore::with_host_views`). A GPU computes them on the device so that
//! only the final row crosses back.

use super::TensorStore;
use crate::error::{Error, Result};
use serde::{Deserialize, Serialize};
use std::ops::Range;

/// How attention heads are combined before rollout.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum HeadFusion {
    #[default]
    Mean,
    Max,
    Min,
}

impl std::str::FromStr for HeadFusion {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        match s {
            "mean" => Ok(HeadFusion::Mean),
            "max" => Ok(HeadFusion::Max),
            "min" => Ok(HeadFusion::Min),
            other => Err(Error::InvalidOption(format!("head fusion `{other}` is not one of mean, max, min"))),
        }
    }
}

pub trait RelevanceOps: TensorStore {
    /// Row `row` of the last layer's attention (B, H, T, T) averaged over heads, on batch element
    /// 0, as (1, T).
    fn attention_row(&self, _probs: &Self::Tensor, _row: usize) -> Result<Option<Self::Tensor>> {
        Ok(None)
    }
    /// Row `row` of rollout on batch element 0 from each layer's (B, H, T, T) probabilities, first
    /// layer first, zeroing the `discard` smallest entries of each fused map, as a (T) tensor.
    fn rollout_row(
        &self,
        _probs: &[&Self::Tensor],
        _row: usize,
        _fusion: HeadFusion,
        _discard: usize,
    ) -> Result<Option<Self::Tensor>> {
        Ok(None)
    }
    /// Row `row` of Chefer et al.'s relevance on batch element 0, as a (T) tensor, from each
    /// layer's attention probabilities and their gradients (B, H, T, T).
    fn chefer_row(
        &self,
        _probs: &[&Self::Tensor],
        _grads: &[&Self::Tensor],
        _row: usize,
    ) -> Result<Option<Self::Tensor>> {
        Ok(None)
    }
    /// Grad-CAM on the tokens of batch element 0 of `hidden` (B, T, D), weighted by the mean of
    /// `gradient` (B, T, D) over the `weighted` tokens, as a (T) tensor.
    fn token_gradcam(
        &self,
        _hidden: &Self::Tensor,
        _gradient: &Self::Tensor,
        _weighted: Range<usize>,
    ) -> Result<Option<Self::Tensor>> {
        Ok(None)
    }
}
