//! The one description of an attention op's geometry, shared by the CPU backend and the WGSL
//! kernels: queries against keys of another length (a decoder step against its cache), grouped-
//! query attention (several query heads reading one key/value head), and a causal mask that
//! starts at an offset.

use crate::error::{Error, Result};

/// Which keys each query sees.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AttentionMask {
    /// Every query sees every key (a ViT).
    None,
    /// Query i sees keys 0..=offset + i: a decoder whose first `offset` keys come from its cache
    /// (offset 0 with as many queries as keys is the plain causal mask).
    Causal { offset: usize },
}

/// q (B, Tq, H·d), k and v (B, Tk, Hkv·d), output (B, Tq, H·d), probabilities (B, H, Tq, Tk).
/// Query head h reads key/value head h / (H / Hkv), as transformers' `repeat_kv` arranges them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AttentionShape {
    pub batch: usize,
    pub queries: usize,
    pub keys: usize,
    pub heads: usize,
    pub kv_heads: usize,
    pub head_dim: usize,
    pub mask: AttentionMask,
}

impl AttentionShape {
    /// Self-attention of `tokens` tokens over `hidden` channels split into `heads` heads, as the
    /// CLIP towers use it.
    pub fn square(batch: usize, tokens: usize, hidden: usize, heads: usize, causal: bool) -> Result<Self> {
        if heads == 0 || hidden % heads != 0 {
            return Err(Error::Internal(format!("attention: {hidden} channels do not split into {heads} heads")));
        }
        let mask = if causal { AttentionMask::Causal { offset: 0 } } else { AttentionMask::None };
        AttentionShape { batch, queries: tokens, keys: tokens, heads, kv_heads: heads, head_dim: hidden / heads, mask }
            .checked()
    }

    /// Errors unless the key/value heads divide the query heads, the dimensions are non-zero and a
    /// causal mask lets every query see at least one key.
    pub fn checked(self) -> Result<Self> {
        let fits_mask = match self.mask {
            AttentionMask::None => true,
            AttentionMask::Causal { offset } => offset + self.queries <= self.keys,
        };
        if self.heads == 0
            || self.kv_heads == 0
            || self.head_dim == 0
            || self.keys == 0
            || self.heads % self.kv_heads != 0
            || !fits_mask
        {
            return Err(Error::Internal(format!("attention: inconsistent shape {self:?}")));
        }
        Ok(self)
    }

    /// H·d, the width of q and of the output.
    pub fn query_width(&self) -> usize {
        self.heads * self.head_dim
    }

    /// Hkv·d, the width of k and v.
    pub fn kv_width(&self) -> usize {
        self.kv_heads * self.head_dim
    }

    /// Query heads per key/value head.
    pub fn group(&self) -> usize {
        self.heads / self.kv_heads
    }

    /// The key/value head that query head `h` reads.
    pub fn kv_head(&self, h: usize) -> usize {
        h / self.group()
    }

    /// How many keys query `i` sees (the first ones).
    pub fn visible(&self, i: usize) -> usize {
        match self.mask {
            AttentionMask::None => self.keys,
            AttentionMask::Causal { offset } => (offset + i + 1).min(self.keys),
        }
    }

    /// The causal offset, 0 without a mask (what the kernels read with a `causal` flag).
    pub fn causal_offset(&self) -> Option<usize> {
        match self.mask {
            AttentionMask::None => None,
            AttentionMask::Causal { offset } => Some(offset),
        }
    }

    /// 1/√d, rounded once from f64 as both backends use it.
    pub fn scale(&self) -> f32 {
        (1.0 / (self.head_dim as f64).sqrt()) as f32
    }

    pub fn query_len(&self) -> usize {
        self.batch * self.queries * self.query_width()
    }

    pub fn kv_len(&self) -> usize {
        self.batch * self.keys * self.kv_width()
    }

    pub fn maps_len(&self) -> usize {
        self.batch * self.heads * self.queries * self.keys
    }

    pub fn query_dims(&self) -> [usize; 3] {
        [self.batch, self.queries, self.query_width()]
    }

    pub fn kv_dims(&self) -> [usize; 3] {
        [self.batch, self.keys, self.kv_width()]
    }

    pub fn maps_dims(&self) -> [usize; 4] {
        [self.batch, self.heads, self.queries, self.keys]
    }

    /// Errors unless q, k and v have this shape's dimensions.
    pub fn check_inputs(&self, op: &str, q: &[usize], k: &[usize], v: &[usize]) -> Result<()> {
        if q != self.query_dims() || k != self.kv_dims() || v != self.kv_dims() {
            return Err(Error::Internal(format!(
                "{op}: q {q:?}, k {k:?}, v {v:?} do not fit {self:?} (q {:?}, k and v {:?})",
                self.query_dims(),
                self.kv_dims()
            )));
        }
        Ok(())
    }

    /// The batch of the tensors the forward pass saved (q, k, v, probabilities) for a backward
    /// pass whose output gradient has this shape's batch: the same batch, or 1 when one forward
    /// serves a batch of backward passes (each saved tensor then stands for repeated copies).
    /// Errors unless every tensor fits.
    pub fn saved_batch(&self, op: &str, [q, k, v, probs]: [&[usize]; 4], d_out: &[usize]) -> Result<usize> {
        let saved = q.first().copied().unwrap_or(0);
        let forward = AttentionShape { batch: saved, ..*self };
        let fits = (saved == 1 || saved == self.batch)
            && forward.check_inputs(op, q, k, v).is_ok()
            && probs == forward.maps_dims()
            && d_out == self.query_dims();
        if !fits {
            return Err(Error::Internal(format!(
                "{op}: q {q:?}, k {k:?}, v {v:?}, probabilities {probs:?} and d_out {d_out:?} do not fit {self:?}"
            )));
        }
        Ok(saved)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shape(heads: usize, kv_heads: usize, queries: usize, keys: usize, mask: AttentionMask) -> AttentionShape {
        AttentionShape { batch: 1, queries, keys, heads, kv_heads, head_dim: 4, mask }
    }

    #[test]
    fn grouped_heads_map_onto_their_key_value_head() {
        let s = shape(6, 2, 3, 3, AttentionMask::None).checked().unwrap();
        assert_eq!((0..6).map(|h| s.kv_head(h)).collect::<Vec<_>>(), [0, 0, 0, 1, 1, 1]);
        let single = shape(6, 1, 3, 3, AttentionMask::None).checked().unwrap();
        assert!((0..6).all(|h| single.kv_head(h) == 0));
    }

    #[test]
    fn a_causal_offset_shifts_what_each_query_sees() {
        let s = shape(2, 2, 2, 5, AttentionMask::Causal { offset: 3 }).checked().unwrap();
        assert_eq!((s.visible(0), s.visible(1)), (4, 5));
        assert_eq!(shape(2, 2, 3, 3, AttentionMask::Causal { offset: 0 }).visible(0), 1);
    }

    #[test]
    fn inconsistent_shapes_are_refused() {
        assert!(shape(6, 4, 1, 1, AttentionMask::None).checked().is_err(), "4 kv heads do not divide 6");
        assert!(shape(2, 0, 1, 1, AttentionMask::None).checked().is_err());
        assert!(shape(2, 2, 3, 4, AttentionMask::Causal { offset: 2 }).checked().is_err(), "query 2 would see key 4");
        assert!(shape(2, 2, 1, 0, AttentionMask::None).checked().is_err());
        assert!(AttentionShape::square(1, 4, 10, 3, false).is_err());
    }

    #[test]
    fn a_backward_pass_may_read_one_saved_forward() {
        let s = AttentionShape { batch: 3, ..shape(4, 2, 2, 5, AttentionMask::None) }.checked().unwrap();
        let one = AttentionShape { batch: 1, ..s };
        let saved = |s: &AttentionShape| [s.query_dims(), s.kv_dims(), s.kv_dims()].map(|d| d.to_vec());
        let [q, k, v] = saved(&one);
        let probs = one.maps_dims();
        assert_eq!(s.saved_batch("op", [&q, &k, &v, &probs], &s.query_dims()).unwrap(), 1);
        let [q3, k3, v3] = saved(&s);
        assert_eq!(s.saved_batch("op", [&q3, &k3, &v3, &s.maps_dims()], &s.query_dims()).unwrap(), 3);
        assert!(s.saved_batch("op", [&q, &k3, &v, &probs], &s.query_dims()).is_err(), "mixed batches");
        assert!(s.saved_batch("op", [&q, &k, &v, &probs], &one.query_dims()).is_err(), "d_out of batch 1");
        let two = AttentionShape { batch: 2, ..s };
        let [q2, k2, v2] = saved(&two);
        assert!(s.saved_batch("op", [&q2, &k2, &v2, &two.maps_dims()], &s.query_dims()).is_err());
    }
}
