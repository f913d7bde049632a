// The dequantizing operand of the tiled product (matmul_tiles.wgsl, appended to this file by the
// launcher): a weight W (w_rows, w_cols) kept as integer codes in groups of 32 values along its
// rows, expanded only as the tile loader reads it. ggml's q8_0, q4_0 and q4_k all fit one form
// (see quantized.rs, which repacks their blocks on upload):
//
//   W[r, c] = scale[g] · (code[r, c] − zero) − minimum[g],   g = (r · w_cols + c) / 32
//
// so each value is the product candle's dequantizer computes, not a re-rounded approximation.
//
// The forward (b_transposed = 1) is C = A · Wᵀ with W (cols, inner); the backward (0) is
// C = A · W with W (inner, cols): either way b_at(n, k) is one element of W.

struct Params {
    rows: u32,
    cols: u32,
    inner: u32,
    row_offset: u32,
    b_transposed: u32,
    has_bias: u32,
    // 8 or 4 bits per code
    bits: u32,
    // the code that stands for 0 (128 for q8_0's signed bytes, 8 for q4_0, 0 for q4_k)
    zero: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
// (rows, inner)
@group(0) @binding(1) var<storage, read> a: array<f32>;
// W's codes in row-major order, packed little-end first: 4 per word at 8 bits, 8 at 4 bits
@group(0) @binding(2) var<storage, read> codes: array<u32>;
// (groups, 2): each group's scale and minimum
@group(0) @binding(3) var<storage, read> scales: array<f32>;
// (cols); a placeholder when has_bias is 0
@group(0) @binding(4) var<storage, read> bias: array<f32>;
// (rows, cols)
@group(0) @binding(5) var<storage, read_write> c: array<f32>;

const GROUP: u32 = 32u;

fn weight(index: u32) -> f32 {
    let per_word = 32u / p.bits;
    let shift = (index % per_word) * p.bits;
    let mask = (1u << p.bits) - 1u;
    let code = (codes[index / per_word] >> shift) & mask;
    let g = index / GROUP;
    return scales[2u * g] * f32(i32(code) - i32(p.zero)) - scales[2u * g + 1u];
}

// B's value for output column n at depth k; the caller has checked n < cols and k < inner.
fn b_at(n: u32, k: u32) -> f32 {
    if (p.b_transposed == 1u) {
        return weight(n * p.inner + k);
    }
    return weight(k * p.cols + n);
}
