// The scatter half of the patch convolution's backward (col2im): d_patches (batch · side²,
// channels · patch²) → d_pixels (batch, channels, size, size). Patches do not overlap, so every
// pixel has at most one source; pixels beyond the last whole patch get 0.
// Dispatch: ceil(count / 256) workgroups (flattened over x and y), 256 threads, one per pixel.

struct Params {
    count: u32,
    channels: u32,
    size: u32,
    patch_size: u32,
    side: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
// (batch · side², channels · patch²)
@group(0) @binding(1) var<storage, read> d_patches: array<f32>;
// (batch, channels, size, size)
@group(0) @binding(2) var<storage, read_write> d_pixels: array<f32>;

@compute @workgroup_size(256)
fn main(@builtin(global_invocation_id) id: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
    let i = id.x + id.y * groups.x * 256u;
    if (i >= p.count) {
        return;
    }
    let x = i % p.size;
    let y = (i / p.size) % p.size;
    let c = (i / (p.size * p.size)) % p.channels;
    let b = i / (p.size * p.size * p.channels);
    let row = y / p.patch_size;
    let col = x / p.patch_size;
    if (row >= p.side || col >= p.side) {
        d_pixels[i] = 0.0;
        return;
    }
    let n = row * p.side + col;
    let within = (c * p.patch_size + y % p.patch_size) * p.patch_size + x % p.patch_size;
    d_pixels[i] = d_patches[(b * p.side * p.side + n) * (p.channels * p.patch_size * p.patch_size) + within];
}
