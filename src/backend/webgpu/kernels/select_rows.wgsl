// The tokens at given positions: x (batch, tokens, hidden) → out (batch, selected, hidden),
// out[b, n] = x[b, positions[n]]. The launcher has checked every position against the tokens.
// Dispatch: ceil(count / 256) workgroups (flattened over x and y), 256 threads, one per output.

struct Params {
    count: u32,
    tokens: u32,
    hidden: u32,
    selected: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
// (batch, tokens, hidden)
@group(0) @binding(1) var<storage, read> x: array<f32>;
// (selected)
@group(0) @binding(2) var<storage, read> positions: array<u32>;
// (batch, selected, hidden)
@group(0) @binding(3) var<storage, read_write> out: array<f32>;

@compute @workgroup_size(256)
fn main(@builtin(global_invocation_id) id: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
    let i = id.x + id.y * groups.x * 256u;
    if (i >= p.count) {
        return;
    }
    let n = (i / p.hidden) % p.selected;
    let b = i / (p.hidden * p.selected);
    out[i] = x[(b * p.tokens + positions[n]) * p.hidden + i % p.hidden];
}
