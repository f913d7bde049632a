// RMSNorm VJP with respect to x, one row of dy per workgroup:
//   dx = r · (g − x̂ · mean(g ⊙ x̂)),  g = dy ⊙ w,  x̂ = x · r,  r = 1 / √(mean(x²) + eps).
// r is recomputed from x rather than saved by the forward. x holds `x_rows` rows and row i of dy
// reads row i mod x_rows: x of one batch element serves a dy of K (one forward, K backward passes).
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
@group(0) @binding(2) var<storage, read> w: array<f32>;
// (rows, width)
@group(0) @binding(3) var<storage, read> dy: array<f32>;
// (rows, width)
@group(0) @binding(4) var<storage, read_write> dx: array<f32>;

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
    let x_start = (row % p.x_rows) * p.width;
    var squares = 0.0;
    for (var i = lane; i < p.width; i += THREADS) {
        let v = x[x_start + i];
        squares += v * v;
    }
    let r = inverseSqrt(reduce_sum(lane, squares) / f32(p.width) + p.eps);
    var sum_gx = 0.0;
    for (var i = lane; i < p.width; i += THREADS) {
        sum_gx += dy[start + i] * w[i] * x[x_start + i] * r;
    }
    let mean_gx = reduce_sum(lane, sum_gx) / f32(p.width);
    for (var i = lane; i < p.width; i += THREADS) {
        dx[start + i] = r * (dy[start + i] * w[i] - x[x_start + i] * r * mean_gx);
    }
}
