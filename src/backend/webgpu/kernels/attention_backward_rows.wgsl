// Attention backward, first half, one query row i per workgroup:
//   dP[i, j] = d_out[i] · v[j]            (saved: relevance methods read ∂s/∂A)
//   dS[i, j] = P[i, j] (dP[i, j] − Σ_j' dP[i, j'] P[i, j']) · scale   (softmax VJP, scaled)
//   d_q[i]   = Σ_j dS[i, j] k[j]
// dS is written for attention_backward_columns.wgsl, which needs whole columns.
// Dispatch: batch · heads · tokens workgroups (flattened over x and y), 64 threads each.

struct Params {
    batch: u32,
    tokens: u32,
    hidden: u32,
    heads: u32,
    head_dim: u32,
    scale: f32,
}

@group(0) @binding(0) var<uniform> p: Params;
// (batch, tokens, hidden)
@group(0) @binding(1) var<storage, read> k: array<f32>;
@group(0) @binding(2) var<storage, read> v: array<f32>;
// (batch, heads, tokens, tokens)
@group(0) @binding(3) var<storage, read> probs: array<f32>;
// (batch, tokens, hidden)
@group(0) @binding(4) var<storage, read> d_out: array<f32>;
// (batch, heads, tokens, tokens)
@group(0) @binding(5) var<storage, read_write> d_probs: array<f32>;
// (batch, heads, tokens, tokens)
@group(0) @binding(6) var<storage, read_write> d_scores: array<f32>;
// (batch, tokens, hidden)
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
    if (row >= p.batch * p.heads * p.tokens) {
        return;
    }
    let i = row % p.tokens;
    let h = (row / p.tokens) % p.heads;
    let b = row / (p.tokens * p.heads);
    let i_row = (b * p.tokens + i) * p.hidden + h * p.head_dim;
    let matrix_row = row * p.tokens;

    var local_dot = 0.0;
    for (var j = lane; j < p.tokens; j += THREADS) {
        let v_row = (b * p.tokens + j) * p.hidden + h * p.head_dim;
        var dp = 0.0;
        for (var d = 0u; d < p.head_dim; d++) {
            dp += d_out[i_row + d] * v[v_row + d];
        }
        d_probs[matrix_row + j] = dp;
        local_dot += dp * probs[matrix_row + j];
    }
    let dot = reduce_sum(lane, local_dot);
    for (var j = lane; j < p.tokens; j += THREADS) {
        let pij = probs[matrix_row + j];
        d_scores[matrix_row + j] = pij * (d_probs[matrix_row + j] - dot) * p.scale;
    }
    // d_q reads the whole dS row, written by every lane.
    storageBarrier();
    for (var d = lane; d < p.head_dim; d += THREADS) {
        var acc = 0.0;
        for (var j = 0u; j < p.tokens; j++) {
            acc += d_scores[matrix_row + j] * k[(b * p.tokens + j) * p.hidden + h * p.head_dim + d];
        }
        d_q[i_row + d] = acc;
    }
}
