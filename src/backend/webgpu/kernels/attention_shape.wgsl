
// The geometry of one attention op, appended by the launchers to the three attention kernels
// (WGSL has no includes); its words are written by `attention_params` in attention.rs, mirroring
// `backend::AttentionShape`:
//   q and the output (batch, queries, heads · head_dim), k and v (batch, keys, kv_heads · head_dim),
//   probabilities (batch, heads, queries, keys); query head h reads key/value head
//   h / (heads / kv_heads); with `causal`, query i sees keys 0..=offset + i. The backward kernels
//   read q, k, v and the probabilities of batch element b mod saved_batch: saved_batch is batch,
//   or 1 when one forward serves a batch of backward passes.
struct AttentionShape {
    batch: u32,
    queries: u32,
    keys: u32,
    heads: u32,
    kv_heads: u32,
    head_dim: u32,
    causal: u32,
    offset: u32,
    scale: f32,
    saved_batch: u32,
}

fn visible_keys(s: AttentionShape, i: u32) -> u32 {
    return select(s.keys, min(s.offset + i + 1u, s.keys), s.causal == 1u);
}

// Where query head h of query i of batch element b starts in q, the output or their gradients.
fn query_start(s: AttentionShape, b: u32, i: u32, h: u32) -> u32 {
    return (b * s.queries + i) * s.heads * s.head_dim + h * s.head_dim;
}

// Where key/value head g of key j of batch element b starts in k, v or their gradients.
fn kv_start(s: AttentionShape, b: u32, j: u32, g: u32) -> u32 {
    return (b * s.keys + j) * s.kv_heads * s.head_dim + g * s.head_dim;
}

fn kv_head_of(s: AttentionShape, h: u32) -> u32 {
    return h / (s.heads / s.kv_heads);
}
