// a (batch, first, width) followed by b (batch, second, width) along the tokens:
// out (batch, first + second, width).
// Dispatch: ceil(count / 256) workgroups (flattened over x and y), 256 threads, one per output.

struct Params {
    count: u32,
    first: u32,
    second: u32,
    width: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
// (batch, first, width)
@group(0) @binding(1) var<storage, read> a: array<f32>;
// (batch, second, width)
@group(0) @binding(2) var<storage, read> b: array<f32>;
// (batch, first + second, width)
@group(0) @binding(3) var<storage, read_write> out: array<f32>;

@compute @workgroup_size(256)
fn main(@builtin(global_invocation_id) id: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
    let i = id.x + id.y * groups.x * 256u;
    if (i >= p.count) {
        return;
    }
    let c = i % p.width;
    let t = (i / p.width) % (p.first + p.second);
    let batch = i / (p.width * (p.first + p.second));
    if (t < p.first) {
        out[i] = a[(batch * p.first + t) * p.width + c];
    } else {
        out[i] = b[(batch * p.second + t - p.first) * p.width + c];
    }
}
