//! What a generative model says next: choosing tokens from logits (`sampling.rs`). The answer loop
//! itself, with its key/value cache and its explanations, is `explain/generative.rs`.

mod sampling;

pub use sampling::{argmax, probability, top_candidates, Sampler, SamplingOptions};
