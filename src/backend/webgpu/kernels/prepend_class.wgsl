// (batch, patches, hidden) → (batch, patches + 1, hidden) with the class embedding as token 0.
// Dispatch: ceil(count / 256) workgroups (flattened over x and y), 256 threads, one per output.

struct Params {
    count: u32,
    tokens: u32,
    hidden: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
// (batch, tokens − 1, hidden)
@group(0) @binding(1) var<storage, read> patches: array<f32>;
// (hidden)
@group(0) @binding(2) var<storage, read> class_embedding: array<f32>;
// (batch, tokens, hidden)
@group(0) @binding(3) var<storage, read_write> out: array<f32>;

@compute @workgroup_size(256)
fn main(@builtin(global_invocation_id) id: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
    let i = id.x + id.y * groups.x * 256u;
    if (i >= p.count) {
        return;
    }
    let d = i % p.hidden;
    let t = (i / p.hidden) % p.tokens;
    let b = i / (p.hidden * p.tokens);
    if (t == 0u) {
        out[i] = class_embedding[d];
    } else {
        out[i] = patches[(b * (p.tokens - 1u) + t - 1u) * p.hidden + d];
    }
}
