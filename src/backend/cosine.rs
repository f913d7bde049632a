//! The score CLIP explains, logits_per_image = exp(logit_scale) · cos(image, text), computed on the
//! host in f64 from embeddings that have been read back, with its gradient with respect to both
//! embeddings (a few hundred numbers: the seed of every backward pass). Backends compute the same
//! formula in batches through `Backend::scaled_cosine_with_gradients`.

/// A scaled cosine and its gradients: s = c · u·v / (|u| |v|), ∂s/∂u = c · (v̂ − cos · û) / |u|,
/// symmetrically for v.
pub struct ScoreWithGradients {
    pub score: f32,
    pub d_image: Vec<f32>,
    pub d_text: Vec<f32>,
}

pub fn scaled_cosine(multiplier: f32, image: &[f32], text: &[f32]) -> f32 {
    let (dot, nu, nv) = dot_and_norms(image, text);
    (multiplier as f64 * dot / (nu * nv)) as f32
}

pub fn scaled_cosine_with_gradients(multiplier: f32, image: &[f32], text: &[f32]) -> ScoreWithGradients {
    let (dot, nu, nv) = dot_and_norms(image, text);
    let c = multiplier as f64;
    let cos = dot / (nu * nv);
    let gradient = |own: &[f32], own_norm: f64, other: &[f32], other_norm: f64| -> Vec<f32> {
        own.iter()
            .zip(other)
            .map(|(a, b)| (c * (*b as f64 / other_norm - cos * *a as f64 / own_norm) / own_norm) as f32)
            .collect()
    };
    ScoreWithGradients {
        score: (c * cos) as f32,
        d_image: gradient(image, nu, text, nv),
        d_text: gradient(text, nv, image, nu),
    }
}

fn dot_and_norms(u: &[f32], v: &[f32]) -> (f64, f64, f64) {
    let dot: f64 = u.iter().zip(v).map(|(a, b)| *a as f64 * *b as f64).sum();
    let nu = u.iter().map(|a| (*a as f64).powi(2)).sum::<f64>().sqrt();
    let nv = v.iter().map(|a| (*a as f64).powi(2)).sum::<f64>().sqrt();
    (dot, nu, nv)
}
