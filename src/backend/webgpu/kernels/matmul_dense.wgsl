// The dense operand of the tiled product (matmul_tiles.wgsl, appended to this file by the
// launcher): B in f32, read by `b_at`.
//
// C = A · B (+ bias), the product behind linear layers, their backward and the patch embedding.
// A is (rows, inner) row-major. B is (cols, inner) when `b_transposed` is 1 (a PyTorch weight
// (out, in), so C = A · Bᵀ) and (inner, cols) otherwise.

struct Params {
    rows: u32,
    cols: u32,
    inner: u32,
    row_offset: u32,
    b_transposed: u32,
    has_bias: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
// (rows, inner)
@group(0) @binding(1) var<storage, read> a: array<f32>;
// (cols, inner) or (inner, cols)
@group(0) @binding(2) var<storage, read> b: array<f32>;
// (cols); a placeholder when has_bias is 0
@group(0) @binding(3) var<storage, read> bias: array<f32>;
// (rows, cols)
@group(0) @binding(4) var<storage, read_write> c: array<f32>;

// B's value for output column n at depth k; the caller has checked n < cols and k < inner.
fn b_at(n: u32, k: u32) -> f32 {
    if (p.b_transposed == 1u) {
        return b[n * p.inner + k];
    }
    return b[k * p.cols + n];
}
