// Combines the heads of one layer's attention on batch element 0: out[i, j] = mean, max or min
// over h of A[0, h, i, j]. The first step of rollout (and, with the mean, raw attention).
// Dispatch: ceil(tokens² / 256) workgroups (flattened over x and y), 256 threads, one per entry.

struct Params {
    heads: u32,
    tokens: u32,
    // 0 = mean, 1 = max, 2 = min
    fusion: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
// (batch, heads, tokens, tokens); only batch element 0 is read
@group(0) @binding(1) var<storage, read> probs: array<f32>;
// (tokens, tokens)
@group(0) @binding(2) var<storage, read_write> fused: array<f32>;

@compute @workgroup_size(256)
fn main(@builtin(global_invocation_id) id: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
    let entry = id.x + id.y * groups.x * 256u;
    let size = p.tokens * p.tokens;
    if (entry >= size) {
        return;
    }
    var combined = probs[entry];
    for (var h = 1u; h < p.heads; h++) {
        let value = probs[h * size + entry];
        switch p.fusion {
            case 1u: { combined = max(combined, value); }
            case 2u: { combined = min(combined, value); }
            default: { combined += value; }
        }
    }
    if (p.fusion == 0u) {
        combined /= f32(p.heads);
    }
    fused[entry] = combined;
}
