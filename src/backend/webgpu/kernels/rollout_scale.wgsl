// First half of one rollout step for a single row r of R: row i of Â = (A + I) / (1 + Σ_k A[i, k])
// contributes r[i] / (1 + Σ_k A[i, k]) to every column, so that factor is computed once per row.
// Dispatch: ceil(tokens / 64) workgroups, 64 threads, one per row i.

struct Params {
    tokens: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
// (tokens, tokens), the fused (and possibly pruned) map A
@group(0) @binding(1) var<storage, read> fused: array<f32>;
// (tokens)
@group(0) @binding(2) var<storage, read> r_in: array<f32>;
// (tokens)
@group(0) @binding(3) var<storage, read_write> scaled: array<f32>;

@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) id: vec3<u32>) {
    let i = id.x;
    if (i >= p.tokens) {
        return;
    }
    var total = 1.0;
    for (var k = 0u; k < p.tokens; k++) {
        total += fused[i * p.tokens + k];
    }
    scaled[i] = r_in[i] / total;
}
