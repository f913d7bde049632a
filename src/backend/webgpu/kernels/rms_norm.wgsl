// RMSNorm over the last dimension as Llama applies it, one row per workgroup:
//   y = x / √(mean(x²) + eps) · w   (the mean of squares is not centred).
// Dispatch: one workgroup per row (flattened over x and y), 256 threads each.

struct Params {
    rows: u32,
    width: u32,
    eps: f32,
}

@group(0) @binding(0) var<uniform> p: Params;
// (rows, width)
@group(0) @binding(1) var<storage, read> x: array<f32>;
// (width)
@group(0) @binding(2) var<storage, read> w: array<f32>;
// (rows, width)
@group(0) @binding(3) var<storage, read_write> y: array<f32>;

// The workgroup size; reduce_sum comes from workgroup_reduce.wgsl, appended by the launcher.
const THREADS: u32 = 256u;

@compute @workgroup_size(256)
fn main(
    @builtin(workgroup_id) group: vec3<u32>,
    @builtin(num_workgroups) groups: vec3<u32>,
    @builtin(local_invocation_index) lane: u32,
) {
    let row = group.x + group.y * groups.x;
    if (row >= p.rows) {
        return;
    }
    let start = row * p.width;
    var squares = 0.0;
    for (var i = lane; i < p.width; i += THREADS) {
        let v = x[start + i];
        squares += v * v;
    }
    let r = inverseSqrt(reduce_sum(lane, squares) / f32(p.width) + p.eps);
    for (var i = lane; i < p.width; i += THREADS) {
        y[start + i] = x[start + i] * r * w[i];
    }
}
