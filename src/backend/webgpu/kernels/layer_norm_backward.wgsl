// Layer norm VJP with respect to x, one row per workgroup:
//   dx = rstd · (g − mean(g) − x̂ · mean(g ⊙ x̂)),  g = dy ⊙ γ,  x̂ = (x − mean) · rstd.
// The row statistics are recomputed from x rather than saved by the forward. x holds `x_rows`
// rows and row i of dy reads row i mod x_rows: x of one batch element serves a dy of K (one
// forward, K backward passes).
// Dispatch: one workgroup per row of dy (flattened over x and y), 256 threads each.

struct Params {
    rows: u32,
    width: u32,
    eps: f32,
    x_rows: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
// (x_rows, width), the forward's input
@group(0) @binding(1) var<storage, read> x: array<f32>;
// (width)
@group(0) @binding(2) var<storage, read> gamma: array<f32>;
// (rows, width)
@group(0) @binding(3) var<storage, read> dy: array<f32>;
// (rows, width)
@group(0) @binding(4) var<storage, read_write> dx: array<f32>;

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
    let x_start = (row % p.x_rows) * p.width;
    let n = f32(p.width);
    var sum = 0.0;
    for (var i = lane; i < p.width; i += THREADS) {
        sum += x[x_start + i];
    }
    let mean = reduce_sum(lane, sum) / n;
    var squares = 0.0;
    for (var i = lane; i < p.width; i += THREADS) {
        let centered = x[x_start + i] - mean;
        squares += centered * centered;
    }
    let rstd = inverseSqrt(reduce_sum(lane, squares) / n + p.eps);
    var sum_g = 0.0;
    var sum_gx = 0.0;
    for (var i = lane; i < p.width; i += THREADS) {
        let g = dy[start + i] * gamma[i];
        sum_g += g;
        sum_gx += g * (x[x_start + i] - mean) * rstd;
    }
    let mean_g = reduce_sum(lane, sum_g) / n;
    let mean_gx = reduce_sum(lane, sum_gx) / n;
    for (var i = lane; i < p.width; i += THREADS) {
        let xhat = (x[x_start + i] - mean) * rstd;
        dx[start + i] = rstd * (dy[start + i] * gamma[i] - mean_g - xhat * mean_gx);
    }
}
