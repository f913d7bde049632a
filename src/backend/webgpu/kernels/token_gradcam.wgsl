// Grad-CAM on tokens, batch element 0: w_c = mean over the weighting tokens u of ∂s/∂h[u, c],
// then out[t] = ReLU(Σ_c w_c · h[t, c]). Each workgroup recomputes w for its own token (a few
// hundred tokens × channels of reads), which saves a second dispatch and an intermediate buffer.
// Dispatch: one workgroup per token, 256 threads striding over the channels.

struct Params {
    tokens: u32,
    channels: u32,
    // the weighting tokens are first_weighted .. first_weighted + weighted
    first_weighted: u32,
    weighted: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
// (batch, tokens, channels), the residual stream h
@group(0) @binding(1) var<storage, read> hidden: array<f32>;
// (batch, tokens, channels), ∂s/∂h
@group(0) @binding(2) var<storage, read> gradient: array<f32>;
// (tokens)
@group(0) @binding(3) var<storage, read_write> out: array<f32>;

// The workgroup size; reduce_sum comes from workgroup_reduce.wgsl, appended by the launcher.
const THREADS: u32 = 256u;

@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) group: vec3<u32>, @builtin(local_invocation_index) lane: u32) {
    let t = group.x;
    if (t >= p.tokens) {
        return;
    }
    var dot = 0.0;
    for (var c = lane; c < p.channels; c += THREADS) {
        var weight = 0.0;
        for (var u = p.first_weighted; u < p.first_weighted + p.weighted; u++) {
            weight += gradient[u * p.channels + c];
        }
        dot += hidden[t * p.channels + c] * weight / f32(p.weighted);
    }
    out[t] = max(reduce_sum(lane, dot), 0.0);
}
