// x (batch, tokens, hidden) with some tokens replaced: token t takes row sources[t] of
// rows (batch, replaced, hidden), or stays when sources[t] is KEPT. With `zero_replaced` the
// replaced tokens become 0 instead (the VJP with respect to x) and `rows` is not read.
// Dispatch: ceil(count / 256) workgroups (flattened over x and y), 256 threads, one per output.

struct Params {
    count: u32,
    tokens: u32,
    hidden: u32,
    replaced: u32,
    zero_replaced: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
// (batch, tokens, hidden)
@group(0) @binding(1) var<storage, read> x: array<f32>;
// (batch, replaced, hidden); a placeholder with zero_replaced
@group(0) @binding(2) var<storage, read> rows: array<f32>;
// (tokens): the replacing row of each token, checked by the launcher
@group(0) @binding(3) var<storage, read> sources: array<u32>;
// (batch, tokens, hidden)
@group(0) @binding(4) var<storage, read_write> out: array<f32>;

// `shapes::KEPT` in the engine.
const KEPT: u32 = 0xffffffffu;

@compute @workgroup_size(256)
fn main(@builtin(global_invocation_id) id: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
    let i = id.x + id.y * groups.x * 256u;
    if (i >= p.count) {
        return;
    }
    let source = sources[(i / p.hidden) % p.tokens];
    if (source == KEPT) {
        out[i] = x[i];
    } else if (p.zero_replaced == 1u) {
        out[i] = 0.0;
    } else {
        let b = i / (p.hidden * p.tokens);
        out[i] = rows[(b * p.replaced + source) * p.hidden + i % p.hidden];
    }
}
