// Zeroes the entries of a fused attention map at or below the cut found by discard_cut.wgsl
// (ordered by value, then index), except entry 0 (CLS → CLS), as the reference rollout does.
// Dispatch: ceil(count / 256) workgroups (flattened over x and y), 256 threads, one per entry.

struct Params {
    count: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
// (count)
@group(0) @binding(1) var<storage, read> fused: array<f32>;
// (2): the cut's key (f32 bits) and index
@group(0) @binding(2) var<storage, read> cut: array<u32>;
// (count)
@group(0) @binding(3) var<storage, read_write> kept: array<f32>;

@compute @workgroup_size(256)
fn main(@builtin(global_invocation_id) id: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
    let i = id.x + id.y * groups.x * 256u;
    if (i >= p.count) {
        return;
    }
    let key = bitcast<u32>(fused[i]);
    let discarded = i != 0u && (key < cut[0] || (key == cut[0] && i <= cut[1]));
    kept[i] = select(fused[i], 0.0, discarded);
}
