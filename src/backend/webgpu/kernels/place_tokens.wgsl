// Each batch element's row at its own token: rows (batch, hidden) → out (batch, tokens, hidden),
// out[b, t] = rows[b] where t = positions[b], zero elsewhere (the seeds of a batch of backward
// passes, one per explained token). The launcher has checked every position against the tokens.
// Dispatch: ceil(count / 256) workgroups (flattened over x and y), 256 threads, one per output.

struct Params {
    count: u32,
    tokens: u32,
    hidden: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
// (batch, hidden)
@group(0) @binding(1) var<storage, read> rows: array<f32>;
// (batch)
@group(0) @binding(2) var<storage, read> positions: array<u32>;
// (batch, tokens, hidden)
@group(0) @binding(3) var<storage, read_write> out: array<f32>;

@compute @workgroup_size(256)
fn main(@builtin(global_invocation_id) id: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
    let i = id.x + id.y * groups.x * 256u;
    if (i >= p.count) {
        return;
    }
    let t = (i / p.hidden) % p.tokens;
    let b = i / (p.hidden * p.tokens);
    out[i] = select(0.0, rows[b * p.hidden + i % p.hidden], t == positions[b]);
}
