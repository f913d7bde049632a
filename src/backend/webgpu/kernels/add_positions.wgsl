// x (batch, tokens, hidden) plus the first `tokens` rows of the position table.
// Dispatch: ceil(count / 256) workgroups (flattened over x and y), 256 threads, one per output.

struct Params {
    count: u32,
    per_item: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
// (batch, tokens, hidden)
@group(0) @binding(1) var<storage, read> x: array<f32>;
// (≥ tokens, hidden); only the first tokens · hidden values are read
@group(0) @binding(2) var<storage, read> positions: array<f32>;
// (batch, tokens, hidden)
@group(0) @binding(3) var<storage, read_write> out: array<f32>;

@compute @workgroup_size(256)
fn main(@builtin(global_invocation_id) id: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
    let i = id.x + id.y * groups.x * 256u;
    if (i >= p.count) {
        return;
    }
    out[i] = x[i] + positions[i % p.per_item];
}
