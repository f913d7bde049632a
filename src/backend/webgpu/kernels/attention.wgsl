// Fused multi-head attention forward for one query row per workgroup: scores q·kᵀ/√d, softmax
// (a causal row sees only the keys up to its offset position), the probabilities saved for
// relevance methods and the backward pass, and the weighted sum of values. The geometry
// (AttentionShape, grouped key/value heads, causal offset) comes from attention_shape.wgsl.
// Dispatch: batch · heads · queries workgroups (flattened over x and y), 64 threads each.

@group(0) @binding(0) var<uniform> s: AttentionShape;
// (batch, queries, heads · head_dim)
@group(0) @binding(1) var<storage, read> q: array<f32>;
// (batch, keys, kv_heads · head_dim)
@group(0) @binding(2) var<storage, read> k: array<f32>;
@group(0) @binding(3) var<storage, read> v: array<f32>;
// (batch, queries, heads · head_dim)
@group(0) @binding(4) var<storage, read_write> out: array<f32>;
// (batch, heads, queries, keys); masked entries are written as 0
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
    if (row >= s.batch * s.heads * s.queries) {
        return;
    }
    let i = row % s.queries;
    let h = (row / s.queries) % s.heads;
    let b = row / (s.queries * s.heads);
    let g = kv_head_of(s, h);
    let visible = visible_keys(s, i);
    let q_row = query_start(s, b, i, h);
    let probs_row = row * s.keys;

    // Scores; each lane owns the columns j ≡ lane (mod 64) through all three softmax steps.
    var local_max = -3.4e38;
    for (var j = lane; j < s.keys; j += THREADS) {
        var score = 0.0;
        if (j < visible) {
            let k_row = kv_start(s, b, j, g);
            for (var d = 0u; d < s.head_dim; d++) {
                score += q[q_row + d] * k[k_row + d];
            }
            score *= s.scale;
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
    for (var j = lane; j < s.keys; j += THREADS) {
        probs[probs_row + j] = select(0.0, probs[probs_row + j] / total, j < visible);
    }
    // The weighted sum reads probabilities other lanes wrote.
    storageBarrier();
    for (var d = lane; d < s.head_dim; d += THREADS) {
        var acc = 0.0;
        for (var j = 0u; j < visible; j++) {
            acc += probs[probs_row + j] * v[kv_start(s, b, j, g) + d];
        }
        out[q_row + d] = acc;
    }
}
