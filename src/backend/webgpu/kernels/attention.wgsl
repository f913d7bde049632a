// Fused multi-head attention forward for one query row per workgroup: scores q·kᵀ/√d, softmax
// (causal rows see only tokens up to themselves), the probabilities saved for relevance methods
// and the backward pass, and the weighted sum of values.
// q, k, v, out are (batch, tokens, hidden) with head h in columns [h·head_dim, (h+1)·head_dim).
// Dispatch: batch · heads · tokens workgroups (flattened over x and y), 64 threads each.

struct Params {
    batch: u32,
    tokens: u32,
    hidden: u32,
    heads: u32,
    head_dim: u32,
    causal: u32,
    scale: f32,
}

@group(0) @binding(0) var<uniform> p: Params;
// (batch, tokens, hidden)
@group(0) @binding(1) var<storage, read> q: array<f32>;
@group(0) @binding(2) var<storage, read> k: array<f32>;
@group(0) @binding(3) var<storage, read> v: array<f32>;
// (batch, tokens, hidden)
@group(0) @binding(4) var<storage, read_write> out: array<f32>;
// (batch, heads, tokens, tokens); masked entries are written as 0
@group(0) @binding(5) var<storage, read_write> probs: array<f32>;

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
    let visible = select(p.tokens, i + 1u, p.causal == 1u);
    let q_row = (b * p.tokens + i) * p.hidden + h * p.head_dim;
    let probs_row = row * p.tokens;

    // Scores; each lane owns the columns j ≡ lane (mod 64) through all three softmax steps.
    var local_max = -3.4e38;
    for (var j = lane; j < p.tokens; j += THREADS) {
        var score = 0.0;
        if (j < visible) {
            let k_row = (b * p.tokens + j) * p.hidden + h * p.head_dim;
            for (var d = 0u; d < p.head_dim; d++) {
                score += q[q_row + d] * k[k_row + d];
            }
            score *= p.scale;
            local_max = max(local_max, score);
        }
        probs[probs_row + j] = score;
    }
    let row_max = reduce_max(lane, local_max);
    var local_sum = 0.0;
    for (var j = lane; j < visible; j += THREADS) {
        let e = exp(probs[probs_row + j] - row_max);
        probs[probs_row + j] = e;
        local_sum += e;
    }
    let total = reduce_sum(lane, local_sum);
    for (var j = lane; j < p.tokens; j += THREADS) {
        probs[probs_row + j] = select(0.0, probs[probs_row + j] / total, j < visible);
    }
    // The weighted sum reads probabilities other lanes wrote.
    storageBarrier();
    for (var d = lane; d < p.head_dim; d += THREADS) {
        var acc = 0.0;
        for (var j = 0u; j < visible; j++) {
            acc += probs[probs_row + j] * v[(b * p.tokens + j) * p.hidden + h * p.head_dim + d];
        }
        out[q_row + d] = acc;
    }
}
