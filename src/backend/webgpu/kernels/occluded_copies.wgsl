// Copies of one image (3, S, S), copy k with patch first_patch + k of the G × G grid of P × P
// patches set to 0 in every channel: occlusion's inputs, made on the device instead of uploaded.
// Pixels past the last whole patch belong to no patch and are never occluded.
// Dispatch: ceil(copies · 3 · S² / 256) workgroups (flattened over x and y), 256 threads each.

struct Params {
    copies: u32,
    image_size: u32,
    patch_size: u32,
    grid_side: u32,
    first_patch: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
// (3, S, S)
@group(0) @binding(1) var<storage, read> x: array<f32>;
// (copies, 3, S, S)
@group(0) @binding(2) var<storage, read_write> out: array<f32>;

@compute @workgroup_size(256)
fn main(@builtin(global_invocation_id) id: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
    let i = id.x + id.y * groups.x * 256u;
    let pixels = p.image_size * p.image_size;
    let per_copy = 3u * pixels;
    if (i >= p.copies * per_copy) {
        return;
    }
    let copy = i / per_copy;
    let value = i % per_copy;
    let pixel = value % pixels;
    let row = (pixel / p.image_size) / p.patch_size;
    let column = (pixel % p.image_size) / p.patch_size;
    let occluded = row < p.grid_side && column < p.grid_side && row * p.grid_side + column == p.first_patch + copy;
    out[i] = select(x[value], 0.0, occluded);
}
