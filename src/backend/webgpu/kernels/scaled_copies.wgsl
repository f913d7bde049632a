// Copies of one input, each scaled by its own factor: out[k, i] = factors[k] · x[i]. Integrated
// gradients' path points α_k · x are made on the device this way instead of being uploaded.
// Dispatch: ceil(copies · count / 256) workgroups (flattened over x and y), 256 threads each.

struct Params {
    // values per copy
    count: u32,
    copies: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
// (count)
@group(0) @binding(1) var<storage, read> x: array<f32>;
// (copies)
@group(0) @binding(2) var<storage, read> factors: array<f32>;
// (copies, count)
@group(0) @binding(3) var<storage, read_write> out: array<f32>;

@compute @workgroup_size(256)
fn main(@builtin(global_invocation_id) id: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
    let i = id.x + id.y * groups.x * 256u;
    if (i >= p.count * p.copies) {
        return;
    }
    out[i] = factors[i / p.count] * x[i % p.count];
}
