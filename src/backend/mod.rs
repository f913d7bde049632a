//! The op vocabulary that models are written against. Each op has a forward and, where gradients
//! flow through it, a hand-written vector-Jacobian product. Only gradients with respect to
//! activations are ever needed (never with respect to weights), which keeps every backward a
//! single product. The CPU backend is the reference; the WebGPU backend implements the same traits.
//!
//! The vocabulary is split by who uses it:
//! - [`TensorStore`]: where tensors live (upload, read back, wait, submit);
//! - [`Ops`]: the transformer ops every model family is built from (linear, norms, activations,
//!   attention, rotary positions, token rows);
//! - [`VisionOps`]: the ViT embedding ops (patches, class token, positions);
//! - [`BatchOps`]: the batched methods' inputs and sums (integrated gradients, SmoothGrad,
//!   occlusion), and [`ScoreOps`], the explained scores computed where a batch runs;
//! - [`RelevanceOps`]: the relevance methods' arithmetic where the maps live.
//!
//! [`Backend`] is all of them together: what models and methods ask for.

mod activation;
mod attention_shape;
mod batch_ops;
pub mod cosine;
pub mod cpu;
mod ops;
mod relevance_ops;
mod rotary;
mod score_ops;
pub(crate) mod shapes;
mod store;
mod vision_ops;
pub mod webgpu;

pub use activation::Activation;
pub use attention_shape::{AttentionMask, AttentionShape};
pub(crate) use batch_ops::{batch_element_size, copies_shape, occlusion_geometry};
pub use batch_ops::{patch_spans, BatchOps};
pub use ops::{AttentionGrads, Ops};
pub use relevance_ops::{HeadFusion, RelevanceOps};
pub use rotary::RotaryTables;
pub use score_ops::ScoreOps;
pub use store::TensorStore;
pub use vision_ops::VisionOps;
pub(crate) use vision_ops::{patch_embed_backward_geometry, patch_embed_geometry};

/// Every op a model or an explanation method may ask of a backend.
pub trait Backend: TensorStore + Ops + VisionOps + BatchOps + ScoreOps + RelevanceOps {}

impl<B: TensorStore + Ops + VisionOps + BatchOps + ScoreOps + RelevanceOps> Backend for B {}

/// The traits of the vocabulary, for calling ops on a concrete backend (`CpuBackend`,
/// `WebGpuBackend`) rather than through a `B: Backend` bound.
pub mod prelude {
    pub use super::{Backend, BatchOps, Ops, RelevanceOps, ScoreOps, TensorStore, VisionOps};
}
