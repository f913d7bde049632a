// Elementwise product out = a ⊙ b, where b is a's shape or a batch of one of it (b_count values,
// repeated over a's batch: a saved forward activation times a batch of gradients).
// Dispatch: ceil(count / 256) workgroups (flattened over x and y), 256 threads each.

struct Params {
    count: u32,
    b_count: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
// (count)
@group(0) @binding(1) var<storage, read> a: array<f32>;
// (b_count), b_count dividing count
@group(0) @binding(2) var<storage, read> b: array<f32>;
// (count)
@group(0) @binding(3) var<storage, read_write> out: array<f32>;

@compute @workgroup_size(256)
fn main(@builtin(global_invocation_id) id: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
    let i = id.x + id.y * groups.x * 256u;
    if (i >= p.count) {
        return;
    }
    out[i] = a[i] * b[i % p.b_count];
}
