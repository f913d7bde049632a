// One layer of Chefer et al.'s relevance propagation for a single row of R:
//   r_out[j] = r_in[j] + Σ_i r_in[i] · mean_h ReLU(∂s/∂A[h, i, j] · A[h, i, j])
// on batch element 0. Layers are applied last to first by successive dispatches, so only the
// final row (T values) is ever read back instead of every layer's (H, T, T) maps.
// Dispatch: ceil(tokens / 64) workgroups, 64 threads, one per column j.

struct Params {
    heads: u32,
    tokens: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
// (batch, heads, tokens, tokens); only batch element 0 is read
@group(0) @binding(1) var<storage, read> probs: array<f32>;
// (batch, heads, tokens, tokens), ∂s/∂A
@group(0) @binding(2) var<storage, read> grads: array<f32>;
// (tokens)
@group(0) @binding(3) var<storage, read> r_in: array<f32>;
// (tokens)
@group(0) @binding(4) var<storage, read_write> r_out: array<f32>;

@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) id: vec3<u32>) {
    let j = id.x;
    if (j >= p.tokens) {
        return;
    }
    var propagated = 0.0;
    for (var i = 0u; i < p.tokens; i++) {
        let r = r_in[i];
        if (r == 0.0) {
            continue;
        }
        var cam = 0.0;
        for (var h = 0u; h < p.heads; h++) {
            let entry = (h * p.tokens + i) * p.tokens + j;
            cam += max(probs[entry] * grads[entry], 0.0);
        }
        propagated += r * cam / f32(p.heads);
    }
    r_out[j] = r_in[j] + propagated;
}
