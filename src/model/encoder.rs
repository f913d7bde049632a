//! The pre-norm transformer encoder of CLIP's towers (HF `CLIPEncoder`), with a forward that
//! records what relevance methods and the backward pass need, and that backward pass.
//!
//! What is read out is the model's choice ([`Readout`]). A CLIP tower reads one token of the last
//! layer's output (the class token, or the text's pooled position), so after the last layer's
//! attention — whose maps are kept whole, for every method and for display — only that token's row
//! goes through the output projection and the MLP: the other rows would not change the score or
//! any gradient of it (196 of ViT-B/16's 197 rows of the last layer's MLP, about 6 % of a forward
//! pass and of a backward pass). A LLaVA vision tower reads every token of an inner layer's output
//! (`hidden_states[vision_feature_layer]`), so only the layers up to it run.

use super::{LayerNorm, Linear, WeightLoader};
use crate::backend::{AttentionShape, Backend};
use crate::config::EncoderConfig;
use crate::error::{Error, Result};

/// What the encoder's output is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Readout {
    /// The last layer's output at one token, (B, D).
    Token(usize),
    /// Every token's output after the first `layers` layers, (B, T, D).
    AllTokens { layers: usize },
}

/// How much of the forward pass to keep.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Recording {
    /// Only the output (batched scoring, e.g. occlusion).
    Nothing,
    /// Attention probabilities and the residual stream entering each layer.
    Attention,
    /// Everything the backward pass reads.
    Backward,
}

struct EncoderLayer<T> {
    layer_norm1: LayerNorm<T>,
    q_proj: Linear<T>,
    k_proj: Linear<T>,
    v_proj: Linear<T>,
    out_proj: Linear<T>,
    layer_norm2: LayerNorm<T>,
    fc1: Linear<T>,
    fc2: Linear<T>,
}

/// The saved activations of one layer. Shapes: (B, T, D) unless noted.
pub struct LayerRecord<T> {
    /// The residual stream entering the layer.
    pub input: T,
    /// Attention probabilities, (B, H, T, T).
    pub probs: Option<T>,
    saved: Option<SavedForBackward<T>>,
}

struct SavedForBackward<T> {
    query: T,
    key: T,
    value: T,
    /// The residual stream after the attention block ((B, D) in the last layer of a
    /// `Readout::Token`: the read-out row).
    mid: T,
    /// The activation's derivative at fc1's output, (B, T, intermediate) ((B, intermediate) in
    /// the last layer of a `Readout::Token`).
    activation_derivative: T,
}

pub struct EncoderTrace<T> {
    pub layers: Vec<LayerRecord<T>>,
    /// What `readout` asked for: (B, D) for a token, (B, T, D) for every token.
    pub output: T,
    readout: Readout,
    tokens: usize,
}

pub struct EncoderGrads<T> {
    /// ∂s/∂(encoder input), (B, T, D).
    pub d_input: T,
    /// ∂s/∂A_l for every layer, (B, H, T, T).
    pub d_probs: Vec<T>,
    /// ∂s/∂(residual stream entering layer l), (B, T, D).
    pub d_layer_inputs: Vec<T>,
}

pub struct Encoder<T> {
    layers: Vec<EncoderLayer<T>>,
    config: EncoderConfig,
}

impl<T: Clone> Encoder<T> {
    pub fn new<B: Backend<Tensor = T>>(loader: WeightLoader<B>, config: EncoderConfig) -> Result<Self> {
        let (d, i, eps) = (config.hidden_size, config.intermediate_size, config.layer_norm_eps);
        let layers = (0..config.num_layers)
            .map(|l| {
                let layer = loader.pp(format_args!("layers.{l}"));
                let attn = layer.pp("self_attn");
                Ok(EncoderLayer {
                    layer_norm1: LayerNorm::new(layer.pp("layer_norm1"), d, eps)?,
                    q_proj: Linear::new(attn.pp("q_proj"), d, d, true)?,
                    k_proj: Linear::new(attn.pp("k_proj"), d, d, true)?,
                    v_proj: Linear::new(attn.pp("v_proj"), d, d, true)?,
                    out_proj: Linear::new(attn.pp("out_proj"), d, d, true)?,
                    layer_norm2: LayerNorm::new(layer.pp("layer_norm2"), d, eps)?,
                    fc1: Linear::new(layer.pp("mlp").pp("fc1"), d, i, true)?,
                    fc2: Linear::new(layer.pp("mlp").pp("fc2"), i, d, true)?,
                })
            })
            .collect::<Result<_>>()?;
        Ok(Encoder { layers, config })
    }

    pub fn config(&self) -> &EncoderConfig {
        &self.config
    }

    /// The self-attention of the (B, T, D) `query`: square, causal in a text tower.
    fn attention_shape<B: Backend<Tensor = T>>(&self, backend: &B, query: &T) -> Result<AttentionShape> {
        let &[batch, tokens, hidden] = backend.dims(query) else {
            return Err(Error::Internal(format!("encoder: query {:?} is not (B, T, D)", backend.dims(query))));
        };
        AttentionShape::square(batch, tokens, hidden, self.config.num_heads, self.config.causal)
    }

    /// Runs `input` (B, T, D) through the layers `readout` needs; the trace's `output` is what it
    /// reads.
    pub fn forward<B: Backend<Tensor = T>>(
        &self,
        backend: &B,
        input: &T,
        readout: Readout,
        recording: Recording,
    ) -> Result<EncoderTrace<T>> {
        let c = &self.config;
        let tokens = backend.dims(input).get(1).copied().unwrap_or(0);
        let (layers, read_token) = match readout {
            Readout::Token(position) => (self.layers.len(), Some(position)),
            Readout::AllTokens { layers } if layers <= self.layers.len() => (layers, None),
            Readout::AllTokens { layers } => {
                return Err(Error::Internal(format!("{layers} encoder layers asked of {}", self.layers.len())))
            }
        };
        let mut x = input.clone();
        let mut records = Vec::with_capacity(layers);
        for (index, layer) in self.layers[..layers].iter().enumerate() {
            let normed1 = layer.layer_norm1.forward(backend, &x)?;
            let query = layer.q_proj.forward(backend, &normed1)?;
            let key = layer.k_proj.forward(backend, &normed1)?;
            let value = layer.v_proj.forward(backend, &normed1)?;
            let shape = self.attention_shape(backend, &query)?;
            let (attended, probs) = backend.attention(&query, &key, &value, &shape)?;
            let (residual, attended) = match read_token {
                Some(position) if index + 1 == layers => {
                    (backend.select_token(&x, position)?, backend.select_token(&attended, position)?)
                }
                _ => (x.clone(), attended),
            };
            let mid = backend.add(&residual, &layer.out_proj.forward(backend, &attended)?)?;
            let hidden = layer.fc1.forward(backend, &layer.layer_norm2.forward(backend, &mid)?)?;
            let (activated, activation_derivative) = if recording == Recording::Backward {
                let (activated, derivative) = backend.activation_with_derivative(&hidden, c.activation)?;
                (activated, Some(derivative))
            } else {
                (backend.activation(&hidden, c.activation)?, None)
            };
            let mlp_out = layer.fc2.forward(backend, &activated)?;
            let output = backend.add(&mid, &mlp_out)?;
            if recording >= Recording::Attention {
                let saved = activation_derivative.map(|activation_derivative| SavedForBackward {
                    query,
                    key,
                    value,
                    mid,
                    activation_derivative,
                });
                records.push(LayerRecord { input: x, probs: Some(probs), saved });
            }
            x = output;
        }
        Ok(EncoderTrace { layers: records, output: x, readout, tokens })
    }

    /// Backpropagates `d_output`, the gradient of the trace's `output`, through a trace recorded
    /// with `Recording::Backward`.
    pub fn backward<B: Backend<Tensor = T>>(
        &self,
        backend: &B,
        trace: &EncoderTrace<T>,
        d_output: &T,
    ) -> Result<EncoderGrads<T>> {
        let mut d_x = d_output.clone();
        let mut d_probs = Vec::with_capacity(self.layers.len());
        let mut d_layer_inputs = Vec::with_capacity(self.layers.len());
        let last = trace.layers.len().saturating_sub(1);
        // With a token read out, the last layer ran its attention output, residual and MLP on that
        // row only: its gradients spread back to the (B, T, D) stream at that row.
        let spread = |d: T, index: usize| -> Result<T> {
            match trace.readout {
                Readout::Token(position) if index == last => backend.select_token_backward(&d, position, trace.tokens),
                _ => Ok(d),
            }
        };
        for (index, (layer, record)) in self.layers.iter().zip(&trace.layers).enumerate().rev() {
            let saved = record
                .saved
                .as_ref()
                .ok_or_else(|| Error::Internal("backward needs a forward recorded with Recording::Backward".into()))?;
            let probs = record.probs.as_ref().expect("a Backward recording keeps probabilities");
            // MLP block: out = mid + fc2(act(fc1(ln2(mid)))).
            let d_activated = layer.fc2.backward(backend, &d_x)?;
            let d_hidden = backend.multiply(&d_activated, &saved.activation_derivative)?;
            let d_normed2 = layer.fc1.backward(backend, &d_hidden)?;
            let d_mid = backend.add(&d_x, &layer.layer_norm2.backward(backend, &saved.mid, &d_normed2)?)?;
            // Attention block: mid = x + out_proj(attention(q, k, v)).
            let d_attended = spread(layer.out_proj.backward(backend, &d_mid)?, index)?;
            // The gradient's batch: one saved forward may serve K backward passes.
            let shape = self.attention_shape(backend, &d_attended)?;
            let grads =
                backend.attention_backward(&saved.query, &saved.key, &saved.value, probs, &d_attended, &shape)?;
            let d_normed1 = backend.add(
                &backend.add(
                    &layer.q_proj.backward(backend, &grads.d_query)?,
                    &layer.k_proj.backward(backend, &grads.d_key)?,
                )?,
                &layer.v_proj.backward(backend, &grads.d_value)?,
            )?;
            d_x = backend
                .add(&spread(d_mid, index)?, &layer.layer_norm1.backward(backend, &record.input, &d_normed1)?)?;
            d_probs.push(grads.d_probs);
            d_layer_inputs.push(d_x.clone());
        }
        d_probs.reverse();
        d_layer_inputs.reverse();
        Ok(EncoderGrads { d_input: d_x, d_probs, d_layer_inputs })
    }
}
