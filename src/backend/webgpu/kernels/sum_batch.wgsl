// Sum over the batch, optionally of absolute values, added to a running total: out[i] = total[i] +
// Σ_b f(x[b, i]) with f = identity or |·|. Integrated gradients and SmoothGrad accumulate their
// batches' gradients this way on the device, so only the final sum is read back.
// Dispatch: ceil(count / 256) workgroups (flattened over x and y), 256 threads, one per value.

struct Params {
    // values per batch element
    count: u32,
    batch: u32,
    absolute: u32,
    // 0 when there is no running total yet (binding 1 is then a placeholder)
    has_total: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
// (count), or a placeholder
@group(0) @binding(1) var<storage, read> total: array<f32>;
// (batch, count)
@group(0) @binding(2) var<storage, read> x: array<f32>;
// (count)
@group(0) @binding(3) var<storage, read_write> out: array<f32>;

@compute @workgroup_size(256)
fn main(@builtin(global_invocation_id) id: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
    let i = id.x + id.y * groups.x * 256u;
    if (i >= p.count) {
        return;
    }
    var sum = 0.0;
    if (p.has_total != 0u) {
        sum = total[i];
    }
    for (var b = 0u; b < p.batch; b++) {
        let value = x[b * p.count + i];
        sum += select(value, abs(value), p.absolute != 0u);
    }
    out[i] = sum;
}
