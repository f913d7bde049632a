// Attention backward, second half, one key/value row j of one key/value head g per workgroup,
// reading the columns of P and of dS (written by attention_backward_rows.wgsl) of every query
// head that reads g:
//   d_v[j] = Σ_h Σ_i P[h, i, j] d_out[i, h]
//   d_k[j] = Σ_h Σ_i dS[h, i, j] q[i, h]
// The geometry comes from attention_shape.wgsl; q and P are the forward's, of batch element
// b mod saved_batch.
// Dispatch: batch · kv_heads · keys workgroups (flattened over x and y), 64 threads each, one
// lane per head dimension.

@group(0) @binding(0) var<uniform> s: AttentionShape;
// (saved_batch, queries, heads · head_dim)
@group(0) @binding(1) var<storage, read> q: array<f32>;
// (saved_batch, heads, queries, keys)
@group(0) @binding(2) var<storage, read> probs: array<f32>;
// (batch, heads, queries, keys)
@group(0) @binding(3) var<storage, read> d_scores: array<f32>;
// (batch, queries, heads · head_dim)
@group(0) @binding(4) var<storage, read> d_out: array<f32>;
// (batch, keys, kv_heads · head_dim)
@group(0) @binding(5) var<storage, read_write> d_k: array<f32>;
@group(0) @binding(6) var<storage, read_write> d_v: array<f32>;

const THREADS: u32 = 64u;

@compute @workgroup_size(64)
fn main(
    @builtin(workgroup_id) group: vec3<u32>,
    @builtin(num_workgroups) groups: vec3<u32>,
    @builtin(local_invocation_index) lane: u32,
) {
    let column = group.x + group.y * groups.x;
    if (column >= s.batch * s.kv_heads * s.keys) {
        return;
    }
    let j = column % s.keys;
    let g = (column / s.keys) % s.kv_heads;
    let b = column / (s.keys * s.kv_heads);
    let saved = b % s.saved_batch;
    let group_size = s.heads / s.kv_heads;
    let j_row = kv_start(s, b, j, g);
    for (var d = lane; d < s.head_dim; d += THREADS) {
        var dv = 0.0;
        var dk = 0.0;
        for (var h = g * group_size; h < (g + 1u) * group_size; h++) {
            for (var i = 0u; i < s.queries; i++) {
                let entry = ((b * s.heads + h) * s.queries + i) * s.keys + j;
                let saved_entry = ((saved * s.heads + h) * s.queries + i) * s.keys + j;
                let i_row = query_start(s, b, i, h) + d;
                dv += probs[saved_entry] * d_out[i_row];
                dk += d_scores[entry] * q[query_start(s, saved, i, h) + d];
            }
        }
        d_v[j_row + d] = dv;
        d_k[j_row + d] = dk;
    }
}
