// Layer norm over the last dimension, one row per workgroup: y = (x − mean) / √(var + eps) · γ + β.
// Mean first, then the variance as the mean of squared deviations (two passes over the row in
// registers/cache, which keeps f32 accurate where E[x²] − E[x]² would cancel).
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
@group(0) @binding(2) var<storage, read> gamma: array<f32>;
@group(0) @binding(3) var<storage, read> beta: array<f32>;
// (rows, width)
@group(0) @binding(4) var<storage, read_write> y: array<f32>;

// The workgroup size; reduce_sum and reduce_max come from workgroup_reduce.wgsl, appended by the launcher.
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
    var sum = 0.0;
    for (var i = lane; i < p.width; i += THREADS) {
        sum += x[start + i];
    }
    let mean = reduce_sum(lane, sum) / f32(p.width);
    var squares = 0.0;
    for (var i = lane; i < p.width; i += THREADS) {
        let centered = x[start + i] - mean;
        squares += centered * centered;
    }
    let rstd = inverseSqrt(reduce_sum(lane, squares) / f32(p.width) + p.eps);
    for (var i = lane; i < p.width; i += THREADS) {
        y[start + i] = (x[start + i] - mean) * rstd * gamma[i] + beta[i];
    }
}
