//! Explained scores computed where a batch runs, with the gradient that seeds its backward pass,
//! so batched methods never read activations back between batches.

use super::TensorStore;
use crate::error::Result;

pub trait ScoreOps: TensorStore {
    /// For image embeddings (B, E) and one text embedding (E): CLIP's explained scores
    /// c · cos(u_b, v) as (B) and their gradients with respect to each u_b as (B, E)
    /// (`cosine::scaled_cosine_with_gradients` row by row).
    fn scaled_cosine_with_gradients(
        &self,
        image: &Self::Tensor,
        text: &Self::Tensor,
        multiplier: f32,
    ) -> Result<(Self::Tensor, Self::Tensor)>;
}
