// Second half of one rollout step: r_out = r · Â, i.e. r_out[j] = s[j] + Σ_i s[i] · A[i, j] with
// s from rollout_scale.wgsl (the identity contributes s[j]). Layers are applied last to first by
// successive dispatches, so only the final row is read back.
// Dispatch: ceil(tokens / 64) workgroups, 64 threads, one per column j.

struct Params {
    tokens: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
// (tokens, tokens)
@group(0) @binding(1) var<storage, read> fused: array<f32>;
// (tokens)
@group(0) @binding(2) var<storage, read> scaled: array<f32>;
// (tokens)
@group(0) @binding(3) var<storage, read_write> r_out: array<f32>;

@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) id: vec3<u32>) {
    let j = id.x;
    if (j >= p.tokens) {
        return;
    }
    var total = scaled[j];
    for (var i = 0u; i < p.tokens; i++) {
        total += scaled[i] * fused[i * p.tokens + j];
    }
    r_out[j] = total;
}
