// Attention backward, second half, one key/value row j per workgroup, reading the columns of P
// and of dS (written by attention_backward_rows.wgsl):
//   d_v[j] = Σ_i P[i, j] d_out[i]
//   d_k[j] = Σ_i dS[i, j] q[i]
// Dispatch: batch · heads · tokens workgroups (flattened over x and y), 64 threads each, one
// lane per head dimension.

struct Params {
    batch: u32,
    tokens: u32,
    hidden: u32,
    heads: u32,
    head_dim: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
// (batch, tokens, hidden)
@group(0) @binding(1) var<storage, read> q: array<f32>;
// (batch, heads, tokens, tokens)
@group(0) @binding(2) var<storage, read> probs: array<f32>;
// (batch, heads, tokens, tokens)
@group(0) @binding(3) var<storage, read> d_scores: array<f32>;
// (batch, tokens, hidden)
@group(0) @binding(4) var<storage, read> d_out: array<f32>;
// (batch, tokens, hidden)
@group(0) @binding(5) var<storage, read_write> d_k: array<f32>;
@group(0) @binding(6) var<storage, read_write> d_v: array<f32>;

const THREADS: u32 = 64u;

@compute @workgroup_size(64)
fn main(
    @builtin(workgroup_id) group: vec3<u32>,
    @builtin(num_workgroups) groups: vec3<u32>,
    @builtin(local_invocation_index) lane: u32,
) {
    let column = group.x + group.y * groups.x;
    if (column >= p.batch * p.heads * p.tokens) {
        return;
    }
    let j = column % p.tokens;
    let bh = column / p.tokens;
    let h = bh % p.heads;
    let b = bh / p.heads;
    let j_row = (b * p.tokens + j) * p.hidden + h * p.head_dim;
    for (var d = lane; d < p.head_dim; d += THREADS) {
        var dv = 0.0;
        var dk = 0.0;
        for (var i = 0u; i < p.tokens; i++) {
            let entry = (bh * p.tokens + i) * p.tokens + j;
            let i_row = (b * p.tokens + i) * p.hidden + h * p.head_dim + d;
            dv += probs[entry] * d_out[i_row];
            dk += d_scores[entry] * q[i_row];
        }
        d_v[j_row + d] = dv;
        d_k[j_row + d] = dk;
    }
}
