// The rows of an embedding table at the given ids: out[t] = table[ids[t]]. The launcher has
// checked every id against the table's row count.
// Dispatch: ceil(count / 256) workgroups (flattened over x and y), 256 threads, one per output.

struct Params {
    count: u32,
    hidden: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
// (vocabulary, hidden)
@group(0) @binding(1) var<storage, read> table: array<f32>;
// (tokens)
@group(0) @binding(2) var<storage, read> ids: array<u32>;
// (tokens, hidden)
@group(0) @binding(3) var<storage, read_write> out: array<f32>;

@compute @workgroup_size(256)
fn main(@builtin(global_invocation_id) id: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
    let i = id.x + id.y * groups.x * 256u;
    if (i >= p.count) {
        return;
    }
    out[i] = table[ids[i / p.hidden] * p.hidden + i % p.hidden];
}
