// Rotary position embeddings as transformers' Llama applies them ("rotate half"): in each head of
// d = 2 · half channels, the pair (c, c + half) of the token at position offset + t is turned by
// that position's angle c, whose cos and sin the tables hold (computed on the host);
// `direction` −1 turns it back (the VJP).
//   out[c]        = x[c] · cos − x[c + half] · sin
//   out[c + half] = x[c + half] · cos + x[c] · sin
// Dispatch: ceil(pairs / 256) workgroups (flattened over x and y), 256 threads, one per pair.

struct Params {
    pairs: u32,
    tokens: u32,
    heads: u32,
    half: u32,
    offset: u32,
    direction: f32,
}

@group(0) @binding(0) var<uniform> p: Params;
// (batch, tokens, heads · 2 · half)
@group(0) @binding(1) var<storage, read> x: array<f32>;
// (positions, half)
@group(0) @binding(2) var<storage, read> cos_table: array<f32>;
@group(0) @binding(3) var<storage, read> sin_table: array<f32>;
// (batch, tokens, heads · 2 · half)
@group(0) @binding(4) var<storage, read_write> out: array<f32>;

@compute @workgroup_size(256)
fn main(@builtin(global_invocation_id) id: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
    let i = id.x + id.y * groups.x * 256u;
    if (i >= p.pairs) {
        return;
    }
    let c = i % p.half;
    // The (batch, token, head) the pair belongs to, and where that head starts.
    let head_row = i / p.half;
    let start = head_row * 2u * p.half;
    let token = (head_row / p.heads) % p.tokens;
    let angle = (p.offset + token) * p.half + c;
    let cosine = cos_table[angle];
    let sine = p.direction * sin_table[angle];
    let first = x[start + c];
    let second = x[start + c + p.half];
    out[start + c] = first * cosine - second * sine;
    out[start + c + p.half] = second * cosine + first * sine;
}
