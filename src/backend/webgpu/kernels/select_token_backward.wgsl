// dy (batch, hidden) → (batch, tokens, hidden): dy at `position`, zero at every other token.
// Dispatch: ceil(count / 256) workgroups (flattened over x and y), 256 threads, one per output.

struct Params {
    count: u32,
    tokens: u32,
    hidden: u32,
    position: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
// (batch, hidden)
@group(0) @binding(1) var<storage, read> dy: array<f32>;
// (batch, tokens, hidden)
@group(0) @binding(2) var<storage, read_write> dx: array<f32>;

@compute @workgroup_size(256)
fn main(@builtin(global_invocation_id) id: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
    let i = id.x + id.y * groups.x * 256u;
    if (i >= p.count) {
        return;
    }
    let t = (i / p.hidden) % p.tokens;
    let b = i / (p.hidden * p.tokens);
    dx[i] = select(0.0, dy[b * p.hidden + i % p.hidden], t == p.position);
}
