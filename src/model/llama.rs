//! The Llama-family decoder (transformers' `LlamaModel` + `lm_head`, and Qwen2, which adds q/k/v
//! biases; <https://arxiv.org/abs/2302.13971>): token embeddings, then per layer RMSNorm →
//! grouped-query causal attention on rotary positions → residual → RMSNorm → SwiGLU MLP →
//! residual, a final RMSNorm and the vocabulary head. Generation runs it with a key/value cache;
//! explanations run it once over the whole sequence, recording what the backward pass and the
//! relevance methods need, and backpropagate a batch of seeds (one per explained token) at once.

use super::{Linear, RmsNorm, WeightLoader};
use crate::backend::{Activation, AttentionMask, AttentionShape, Backend, RotaryTables};
use crate::config::LlamaConfig;
use crate::error::{Error, Result};
use crate::model::Recording;

struct DecoderLayer<T> {
    input_layernorm: RmsNorm<T>,
    /// (H·d, D), (Hkv·d, D), (Hkv·d, D), (D, H·d)
    q_proj: Linear<T>,
    k_proj: Linear<T>,
    v_proj: Linear<T>,
    o_proj: Linear<T>,
    post_attention_layernorm: RmsNorm<T>,
    /// (I, D), (I, D), (D, I)
    gate_proj: Linear<T>,
    up_proj: Linear<T>,
    down_proj: Linear<T>,
}

/// The activations of one layer that the backward pass and the methods read. Shapes (B, T, ·).
pub struct DecoderLayerRecord<T> {
    /// The residual stream entering the layer, (B, T, D).
    pub input: T,
    /// Attention probabilities, (B, H, T, T).
    pub probs: T,
    saved: Option<SavedForBackward<T>>,
}

struct SavedForBackward<T> {
    /// q and k after the rotation, and v: what attention read.
    query: T,
    key: T,
    value: T,
    /// The residual stream after attention.
    mid: T,
    /// up_proj's output, SiLU(gate_proj's output) and SiLU's derivative there, (B, T, I).
    up: T,
    activated: T,
    activation_derivative: T,
}

/// A whole-sequence forward pass: every layer's record and the last layer's output.
pub struct DecoderTrace<T> {
    pub layers: Vec<DecoderLayerRecord<T>>,
    /// The last layer's output h_L before the final norm, (B, T, D).
    pub output: T,
    shape: AttentionShape,
}

pub struct DecoderGrads<T> {
    /// ∂s/∂(input embeddings), (K, T, D).
    pub d_input: T,
    /// ∂s/∂A_l for every layer, (K, H, T, T).
    pub d_probs: Vec<T>,
}

/// The keys and values every layer has seen so far, (1, Tc, Hkv·d) each.
pub struct KvCache<T> {
    layers: Vec<(T, T)>,
    length: usize,
}

impl<T> KvCache<T> {
    pub fn new() -> Self {
        KvCache { layers: Vec::new(), length: 0 }
    }

    /// Tokens cached.
    pub fn len(&self) -> usize {
        self.length
    }

    pub fn is_empty(&self) -> bool {
        self.length == 0
    }
}

impl<T> Default for KvCache<T> {
    fn default() -> Self {
        Self::new()
    }
}

pub struct LlamaDecoder<T> {
    /// (V, D); also the vocabulary head when the embeddings are tied.
    embed_tokens: Linear<T>,
    layers: Vec<DecoderLayer<T>>,
    norm: RmsNorm<T>,
    /// (V, D), absent when tied to `embed_tokens`.
    lm_head: Option<Linear<T>>,
    rotary: RotaryTables<T>,
    activation: Activation,
    pub config: LlamaConfig,
}

impl<T: Clone> LlamaDecoder<T> {
    /// `model` holds the layers (`embed_tokens`, `layers.N`, `norm`), `lm_head` the head's weight,
    /// `None` when the head is tied to the embeddings.
    pub fn new<B: Backend<Tensor = T>>(
        backend: &B,
        model: &WeightLoader<B>,
        lm_head: Option<WeightLoader<B>>,
        config: &LlamaConfig,
    ) -> Result<Self> {
        let c = config;
        let (d, i, v) = (c.hidden_size, c.intermediate_size, c.vocab_size);
        let (q_width, kv_width) = (c.num_attention_heads * c.head_dim, c.num_key_value_heads * c.head_dim);
        let eps = c.rms_norm_eps;
        let layers = (0..c.num_hidden_layers)
            .map(|l| {
                let layer = model.pp(format_args!("layers.{l}"));
                let attn = layer.pp("self_attn");
                let mlp = layer.pp("mlp");
                Ok(DecoderLayer {
                    input_layernorm: RmsNorm::new(layer.pp("input_layernorm"), d, eps)?,
                    q_proj: Linear::new(attn.pp("q_proj"), d, q_width, c.qkv_bias)?,
                    k_proj: Linear::new(attn.pp("k_proj"), d, kv_width, c.qkv_bias)?,
                    v_proj: Linear::new(attn.pp("v_proj"), d, kv_width, c.qkv_bias)?,
                    o_proj: Linear::new(attn.pp("o_proj"), q_width, d, c.output_bias)?,
                    post_attention_layernorm: RmsNorm::new(layer.pp("post_attention_layernorm"), d, eps)?,
                    gate_proj: Linear::new(mlp.pp("gate_proj"), d, i, c.mlp_bias)?,
                    up_proj: Linear::new(mlp.pp("up_proj"), d, i, c.mlp_bias)?,
                    down_proj: Linear::new(mlp.pp("down_proj"), i, d, c.mlp_bias)?,
                })
            })
            .collect::<Result<_>>()?;
        let frequencies = c.rope.frequencies(c.head_dim)?;
        let rotary = RotaryTables::new(
            &frequencies.inverse_frequencies,
            c.max_position_embeddings,
            frequencies.attention_factor,
        )?
        .upload(backend)?;
        Ok(LlamaDecoder {
            embed_tokens: Linear::new(model.pp("embed_tokens"), d, v, false)?,
            layers,
            norm: RmsNorm::new(model.pp("norm"), d, eps)?,
            lm_head: lm_head.map(|head| Linear::new(head, d, v, false)).transpose()?,
            rotary,
            activation: Activation::from_config_name(&c.hidden_act)?,
            config: c.clone(),
        })
    }

    fn head(&self) -> &Linear<T> {
        self.lm_head.as_ref().unwrap_or(&self.embed_tokens)
    }

    /// The token embeddings of `ids`, (1, T, D).
    pub fn embed<B: Backend<Tensor = T>>(&self, backend: &B, ids: &[u32]) -> Result<T> {
        self.embed_tokens.weight().gather_rows(backend, ids)
    }

    /// The rows of the vocabulary head for `ids`, (1, K, D): ∂logit_id/∂(normed state).
    pub fn head_rows<B: Backend<Tensor = T>>(&self, backend: &B, ids: &[u32]) -> Result<T> {
        self.head().weight().gather_rows(backend, ids)
    }

    /// The logits of (B, T, D) states h: lm_head(norm(h)), (B, T, V).
    pub fn logits<B: Backend<Tensor = T>>(&self, backend: &B, hidden: &T) -> Result<T> {
        self.head().forward(backend, &self.norm.forward(backend, hidden)?)
    }

    /// norm(h) for states (.., D): what the vocabulary head reads.
    pub fn normed<B: Backend<Tensor = T>>(&self, backend: &B, hidden: &T) -> Result<T> {
        self.norm.forward(backend, hidden)
    }

    fn attention_shape<B: Backend<Tensor = T>>(&self, backend: &B, x: &T, cached: usize) -> Result<AttentionShape> {
        let &[batch, tokens, _] = backend.dims(x) else {
            return Err(Error::Internal(format!("decoder: input {:?} is not (B, T, D)", backend.dims(x))));
        };
        let c = &self.config;
        AttentionShape {
            batch,
            queries: tokens,
            keys: cached + tokens,
            heads: c.num_attention_heads,
            kv_heads: c.num_key_value_heads,
            head_dim: c.head_dim,
            mask: AttentionMask::Causal { offset: cached },
        }
        .checked()
    }

    fn check_positions(&self, last: usize) -> Result<()> {
        if last > self.rotary.positions() {
            return Err(Error::Text(format!(
                "the sequence reaches position {last}, past the model's max_position_embeddings {}",
                self.rotary.positions()
            )));
        }
        Ok(())
    }

    /// The generation step: `input` (1, Tn, D) continues the tokens in `cache` (which it extends);
    /// returns the last layer's output for the new tokens, (1, Tn, D).
    pub fn forward_cached<B: Backend<Tensor = T>>(&self, backend: &B, input: &T, cache: &mut KvCache<T>) -> Result<T> {
        let shape = self.attention_shape(backend, input, cache.length)?;
        self.check_positions(shape.keys)?;
        let mut x = input.clone();
        let mut keys_values = Vec::with_capacity(self.layers.len());
        for (index, layer) in self.layers.iter().enumerate() {
            let normed = layer.input_layernorm.forward(backend, &x)?;
            let query = backend.rotary(&layer.q_proj.forward(backend, &normed)?, &self.rotary, cache.length)?;
            let key = backend.rotary(&layer.k_proj.forward(backend, &normed)?, &self.rotary, cache.length)?;
            let value = layer.v_proj.forward(backend, &normed)?;
            let (key, value) = match cache.layers.get(index) {
                Some((cached_key, cached_value)) => {
                    (backend.concat_tokens(cached_key, &key)?, backend.concat_tokens(cached_value, &value)?)
                }
                None => (key, value),
            };
            let (attended, _) = backend.attention(&query, &key, &value, &shape)?;
            let mid = backend.add(&x, &layer.o_proj.forward(backend, &attended)?)?;
            x = backend.add(&mid, &self.mlp(backend, layer, &mid, false)?.0)?;
            keys_values.push((key, value));
        }
        cache.layers = keys_values;
        cache.length = shape.keys;
        Ok(x)
    }

    /// down(SiLU(gate(n)) ⊙ up(n)) for n = post_attention_layernorm(mid), with what its backward
    /// reads when `saving`.
    fn mlp<B: Backend<Tensor = T>>(
        &self,
        backend: &B,
        layer: &DecoderLayer<T>,
        mid: &T,
        saving: bool,
    ) -> Result<(T, Option<(T, T, T)>)> {
        let normed = layer.post_attention_layernorm.forward(backend, mid)?;
        let gate = layer.gate_proj.forward(backend, &normed)?;
        let up = layer.up_proj.forward(backend, &normed)?;
        if saving {
            let (activated, derivative) = backend.activation_with_derivative(&gate, self.activation)?;
            let out = layer.down_proj.forward(backend, &backend.multiply(&activated, &up)?)?;
            Ok((out, Some((up, activated, derivative))))
        } else {
            let activated = backend.activation(&gate, self.activation)?;
            Ok((layer.down_proj.forward(backend, &backend.multiply(&activated, &up)?)?, None))
        }
    }

    /// The whole sequence `input` (B, T, D) from position 0, recording what `recording` asks for
    /// (attention maps at least).
    pub fn forward<B: Backend<Tensor = T>>(
        &self,
        backend: &B,
        input: &T,
        recording: Recording,
    ) -> Result<DecoderTrace<T>> {
        let shape = self.attention_shape(backend, input, 0)?;
        self.check_positions(shape.keys)?;
        let saving = recording == Recording::Backward;
        let mut x = input.clone();
        let mut records = Vec::with_capacity(self.layers.len());
        for layer in &self.layers {
            let normed = layer.input_layernorm.forward(backend, &x)?;
            let query = backend.rotary(&layer.q_proj.forward(backend, &normed)?, &self.rotary, 0)?;
            let key = backend.rotary(&layer.k_proj.forward(backend, &normed)?, &self.rotary, 0)?;
            let value = layer.v_proj.forward(backend, &normed)?;
            let (attended, probs) = backend.attention(&query, &key, &value, &shape)?;
            let mid = backend.add(&x, &layer.o_proj.forward(backend, &attended)?)?;
            let (mlp_out, mlp_saved) = self.mlp(backend, layer, &mid, saving)?;
            let output = backend.add(&mid, &mlp_out)?;
            let saved = mlp_saved.map(|(up, activated, activation_derivative)| SavedForBackward {
                query,
                key,
                value,
                mid,
                up,
                activated,
                activation_derivative,
            });
            records.push(DecoderLayerRecord { input: x, probs, saved });
            x = output;
        }
        Ok(DecoderTrace { layers: records, output: x, shape })
    }

    /// Backpropagates `d_output` (K, T, D), K gradients of the trace's `output` (batch 1), through a
    /// trace recorded with `Recording::Backward`: K backward passes in one batch.
    pub fn backward<B: Backend<Tensor = T>>(
        &self,
        backend: &B,
        trace: &DecoderTrace<T>,
        d_output: &T,
    ) -> Result<DecoderGrads<T>> {
        let seeds = backend.dims(d_output).first().copied().unwrap_or(0);
        let shape = AttentionShape { batch: seeds, ..trace.shape };
        let mut d_x = d_output.clone();
        let mut d_probs = Vec::with_capacity(self.layers.len());
        for (layer, record) in self.layers.iter().zip(&trace.layers).rev() {
            let saved = record
                .saved
                .as_ref()
                .ok_or_else(|| Error::Internal("backward needs a forward recorded with Recording::Backward".into()))?;
            // MLP block: out = mid + down(SiLU(gate(n)) ⊙ up(n)), n = norm2(mid).
            let d_product = layer.down_proj.backward(backend, &d_x)?;
            let d_gate = backend.multiply(&backend.multiply(&d_product, &saved.up)?, &saved.activation_derivative)?;
            let d_up = backend.multiply(&d_product, &saved.activated)?;
            let d_normed2 =
                backend.add(&layer.gate_proj.backward(backend, &d_gate)?, &layer.up_proj.backward(backend, &d_up)?)?;
            let d_mid =
                backend.add(&d_x, &layer.post_attention_layernorm.backward(backend, &saved.mid, &d_normed2)?)?;
            // Attention block: mid = x + o(attention(rot(q(n)), rot(k(n)), v(n))), n = norm1(x).
            let d_attended = layer.o_proj.backward(backend, &d_mid)?;
            let grads = backend.attention_backward(
                &saved.query,
                &saved.key,
                &saved.value,
                &record.probs,
                &d_attended,
                &shape,
            )?;
            let d_query = backend.rotary_backward(&grads.d_query, &self.rotary, 0)?;
            let d_key = backend.rotary_backward(&grads.d_key, &self.rotary, 0)?;
            let d_normed1 = backend.add(
                &backend.add(&layer.q_proj.backward(backend, &d_query)?, &layer.k_proj.backward(backend, &d_key)?)?,
                &layer.v_proj.backward(backend, &grads.d_value)?,
            )?;
            d_x = backend.add(&d_mid, &layer.input_layernorm.backward(backend, &record.input, &d_normed1)?)?;
            d_probs.push(grads.d_probs);
        }
        d_probs.reverse();
        Ok(DecoderGrads { d_input: d_x, d_probs })
    }

    /// ∂/∂h of the final norm for gradients `d_normed` of norm(h) at the rows `h` (B, K, D).
    pub fn norm_backward<B: Backend<Tensor = T>>(&self, backend: &B, hidden: &T, d_normed: &T) -> Result<T> {
        self.norm.backward(backend, hidden, d_normed)
    }

    pub fn num_layers(&self) -> usize {
        self.layers.len()
    }

    /// The largest sequence the rotary tables cover.
    pub fn max_positions(&self) -> usize {
        self.rotary.positions()
    }
}
