//! The model-randomization check of Adebayo et al. 2018 (Sanity Checks for Saliency Maps,
//! <https://arxiv.org/abs/1810.03292>) in its cascading form: the trained weights are replaced by
//! random ones from the top of the model down (first the projections and final norms, then each
//! encoder block from the last, the embeddings last), and every method's maps on each stage are
//! compared with the trained model's. The last stage has every weight random, the independent
//! randomization. The random weights are the benchmark's random model (seeded by the benchmark
//! seed); the kept ones are the trained model's, expanded to f32 where a GGUF file quantized them.

use crate::bench::random_clip_safetensors;
use crate::config::ClipConfig;
use crate::error::{Error, Result};
use crate::loader::{ModelFiles, Weights};
use safetensors::tensor::{Dtype, TensorView};
use std::collections::BTreeMap;

/// Tensors of the model's head, randomized first.
const HEAD: [&str; 5] = [
    "visual_projection.",
    "text_projection.",
    "vision_model.post_layernorm.",
    "text_model.final_layer_norm.",
    "logit_scale",
];

/// The cascade of one trained model: which tensors each stage randomizes, built one stage at a
/// time because each stage is a whole model.
pub struct Cascade<'a> {
    trained: &'a ModelFiles,
    random_weights: Vec<u8>,
    /// (name, stage at which it becomes random) of every trained tensor.
    depths: Vec<(String, usize)>,
    labels: Vec<String>,
}

/// The stage at which `name` is randomized: 0 for the head, k for the k-th encoder block from the
/// top of either tower, and one past the deepest block for everything else (the embeddings and
/// the vision tower's pre-norm).
fn depth(name: &str, vision_layers: usize, text_layers: usize) -> usize {
    let block = |prefix: &str, layers: usize| {
        let index: usize = name.strip_prefix(prefix)?.split('.').next()?.parse().ok()?;
        layers.checked_sub(index)
    };
    if let Some(depth) = block("vision_model.encoder.layers.", vision_layers) {
        return depth;
    }
    if let Some(depth) = block("text_model.encoder.layers.", text_layers) {
        return depth;
    }
    if HEAD.iter().any(|head| name.starts_with(head)) {
        0
    } else {
        vision_layers.max(text_layers) + 1
    }
}

impl<'a> Cascade<'a> {
    pub fn new(trained: &'a ModelFiles, config: &ClipConfig, seed: u64) -> Result<Self> {
        let (vision, text) = (config.vision_config.num_hidden_layers, config.text_config.num_hidden_layers);
        let depths = Weights::from_files(&trained.weights)?
            .tensor_shapes()
            .into_iter()
            .map(|(name, _)| {
                let depth = depth(&name, vision, text);
                (name, depth)
            })
            .collect();
        let deepest = vision.max(text);
        let mut labels = vec!["head".to_string()];
        labels.extend((1..=deepest).map(|k| format!("block {}", deepest - k)));
        labels.push("embeddings".to_string());
        Ok(Cascade { trained, random_weights: random_clip_safetensors(config, seed)?, depths, labels })
    }

    /// What each stage adds to the randomized part: "head", "block 3", ..., "embeddings"
    /// (blocks numbered in the deeper tower; the shallower one runs out first).
    pub fn labels(&self) -> &[String] {
        &self.labels
    }

    /// The model with every tensor of stages `0..=stage` random and the rest trained.
    pub fn stage_files(&self, stage: usize) -> Result<ModelFiles> {
        let label =
            self.labels.get(stage).ok_or_else(|| Error::InvalidOption(format!("the cascade has no stage {stage}")))?;
        let trained = Weights::from_files(&self.trained.weights)?;
        let random = Weights::from_bytes(&self.random_weights)?;
        let random_shapes: BTreeMap<String, Vec<usize>> = random.tensor_shapes().into_iter().collect();
        let trained_shapes: BTreeMap<String, Vec<usize>> = trained.tensor_shapes().into_iter().collect();
        let mut tensors = Vec::with_capacity(self.depths.len());
        for (name, depth) in &self.depths {
            let shape = &trained_shapes[name];
            let values = match random_shapes.get(name) {
                // A GGUF stores a scalar as shape [1]: the same values in either shape.
                Some(random_shape) if *depth <= stage => {
                    let values = random.get(name, random_shape)?.data;
                    if values.len() != shape.iter().product::<usize>() {
                        return Err(Error::Weights(format!("tensor `{name}` differs in size from its random copy")));
                    }
                    values
                }
                _ => trained.get(name, shape)?.data,
            };
            tensors.push((
                name.clone(),
                shape.clone(),
                values.iter().flat_map(|v| v.to_le_bytes()).collect::<Vec<u8>>(),
            ));
        }
        let views = tensors
            .iter()
            .map(|(name, shape, data)| Ok((name.clone(), TensorView::new(Dtype::F32, shape.clone(), data)?)))
            .collect::<std::result::Result<Vec<_>, safetensors::SafeTensorError>>()
            .map_err(|e| Error::Weights(e.to_string()))?;
        Ok(ModelFiles {
            name: format!("{} (randomized down to {label})", self.trained.name),
            weights: safetensors::serialize(views, None).map_err(|e| Error::Weights(e.to_string()))?.into(),
            ..self.trained.clone()
        })
    }
}

#[cfg(test)]
mod tests {
    use super::depth;

    #[test]
    fn stages_run_from_the_head_down_to_the_embeddings() {
        assert_eq!(depth("visual_projection.weight", 4, 2), 0);
        assert_eq!(depth("logit_scale", 4, 2), 0);
        assert_eq!(depth("text_model.final_layer_norm.bias", 4, 2), 0);
        assert_eq!(depth("vision_model.encoder.layers.3.mlp.fc1.weight", 4, 2), 1);
        assert_eq!(depth("text_model.encoder.layers.1.self_attn.q_proj.weight", 4, 2), 1);
        assert_eq!(depth("vision_model.encoder.layers.0.layer_norm1.weight", 4, 2), 4);
        assert_eq!(depth("text_model.encoder.layers.0.mlp.fc2.bias", 4, 2), 2);
        assert_eq!(depth("vision_model.pre_layrnorm.weight", 4, 2), 5);
        assert_eq!(depth("text_model.embeddings.token_embedding.weight", 4, 2), 5);
    }
}
