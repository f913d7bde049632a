// Attention backward, first half, one query row i of one head per workgroup:
//   dP[i, j] = d_out[i] · v[j]            (saved: relevance methods read ∂s/∂A)
//   dS[i, j] = P[i, j] (dP[i, j] − Σ_j' dP[i, j'] P[i, j']) · scale   (softmax VJP, scaled)
//   d_q[i]   = Σ_j dS[i, j] k[j]
// dS is written for attention_backward_columns.wgsl, which needs whole columns. The geometry
// comes from attention_shape.wgsl; k, v and P are the forward's, of batch element b mod
// saved_batch.
// Dispatch: batch · heads · queries workgroups (flattened over x and y), 64 threads each.

@group(0) @binding(0) var<uniform> s: AttentionShape;
// (saved_batch, keys, kv_heads · head_dim)
@group(0) @binding(1) var<storage, read> k: array<f32>;
@group(0) @binding(2) var<storage, read> v: array<f32>;
// (saved_batch, heads, queries, keys)
@group(0) @binding(3) var<storage, read> probs: array<f32>;
// (batch, queries, heads · head_dim)
@group(0) @binding(4) var<storage, read> d_out: array<f32>;
// (batch, heads, queries, keys)
@group(0) @binding(5) var<storage, read_write> d_probs: array<f32>;
// (batch, heads, queries, keys)
@group(0) @binding(6) var<storage, read_write> d_scores: array<f32>;
// (batch, queries, heads · head_dim)
@group(0) @binding(7) var<storage, read_write> d_q: array<f32>;

// The workgroup size; reduce_sum and reduce_max come from workgroup_reduce.wgsl, appended by the launcher.
const THREADS: u32 = 64u;

@compute @workgroup_size(64)
fn main(
    @builtin(workgroup_id) group: vec3<u32>,
    @builtin(num_workgroups) groups: vec3<u32>,
    @builtin(local_invocation_index) lane: u32,
) {
    let row = group.x + group.y * groups.x;
    if (row >= s.batch * s.heads * s.queries) {
        return;
    }
    let i = row % s.queries;
    let h = (row / s.queries) % s.heads;
    let b = row / (s.queries * s.heads);
    let saved = b % s.saved_batch;
    let g = kv_head_of(s, h);
    let i_row = query_start(s, b, i, h);
    let matrix_row = row * s.keys;
    let saved_row = ((saved * s.heads + h) * s.queries + i) * s.keys;

    var local_dot = 0.0;
    for (var j = lane; j < s.keys; j += THREADS) {
        let v_row = kv_start(s, saved, j, g);
        var dp = 0.0;
        for (var d = 0u; d < s.head_dim; d++) {
            dp += d_out[i_row + d] * v[v_row + d];
        }
        d_probs[matrix_row + j] = dp;
        local_dot += dp * probs[saved_row + j];
    }
    let dot = reduce_sum(lane, local_dot);
    for (var j = lane; j < s.keys; j += THREADS) {
        let pij = probs[saved_row + j];
        d_scores[matrix_row + j] = pij * (d_probs[matrix_row + j] - dot) * s.scale;
    }
    // d_q reads the whole dS row, written by every lane.
    storageBarrier();
    for (var d = lane; d < s.head_dim; d += THREADS) {
        var acc = 0.0;
        for (var j = 0u; j < s.keys; j++) {
            acc += d_scores[matrix_row + j] * k[kv_start(s, saved, j, g) + d];
        }
        d_q[i_row + d] = acc;
    }
}
