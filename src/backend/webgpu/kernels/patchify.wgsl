// The gather half of the ViT patch convolution (im2col): pixels (batch, channels, size, size) →
// patches (batch · side², channels · patch²), each row one patch flattened in the weight's
// (channel, ky, kx) order, so the convolution becomes patches · Wᵀ (matmul.wgsl).
// Pixels beyond the last whole patch (size not a multiple of patch) are never read.
// Dispatch: ceil(count / 256) workgroups (flattened over x and y), 256 threads, one per output.

struct Params {
    count: u32,
    channels: u32,
    size: u32,
    patch_size: u32,
    side: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
// (batch, channels, size, size)
@group(0) @binding(1) var<storage, read> pixels: array<f32>;
// (batch · side², channels · patch²)
@group(0) @binding(2) var<storage, read_write> patches: array<f32>;

@compute @workgroup_size(256)
fn main(@builtin(global_invocation_id) id: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
    let i = id.x + id.y * groups.x * 256u;
    if (i >= p.count) {
        return;
    }
    let patch_len = p.channels * p.patch_size * p.patch_size;
    let within = i % patch_len;
    let patch_index = i / patch_len;
    let n = patch_index % (p.side * p.side);
    let b = patch_index / (p.side * p.side);
    let c = within / (p.patch_size * p.patch_size);
    let ky = (within / p.patch_size) % p.patch_size;
    let kx = within % p.patch_size;
    let y = (n / p.side) * p.patch_size + ky;
    let x = (n % p.side) * p.patch_size + kx;
    patches[i] = pixels[((b * p.channels + c) * p.size + y) * p.size + x];
}
