// C = A · B (+ bias), the product behind linear layers, their backward and the patch embedding.
// A is (rows, inner) row-major. B is (cols, inner) when `b_transposed` is 1 (a PyTorch weight
// (out, in), so C = A · Bᵀ) and (inner, cols) otherwise.
//
// Tiling: a workgroup of 16 × 16 threads computes a 64 × 64 block of C; each thread owns a 4 × 4
// sub-block held in registers. The K dimension is walked 16 at a time through two shared tiles
// (64 × 16 of A, 16 × 64 of B), so each element read from global memory is used 64 times.
// Dispatch: (ceil(cols / 64), ceil(rows_in_this_dispatch / 64)); `row_offset` lets the launcher
// split a long product into several dispatches.

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

const BLOCK: u32 = 64u;
const DEPTH: u32 = 16u;
const THREADS: u32 = 256u;

// Both tiles are stored depth-major ([k][row] and [k][col]) so the inner loop reads 4
// consecutive values of one k.
var<workgroup> a_tile: array<f32, 1024>;
var<workgroup> b_tile: array<f32, 1024>;

@compute @workgroup_size(16, 16)
fn main(
    @builtin(workgroup_id) group: vec3<u32>,
    @builtin(local_invocation_id) local: vec3<u32>,
    @builtin(local_invocation_index) thread: u32,
) {
    let row0 = p.row_offset + group.y * BLOCK;
    let col0 = group.x * BLOCK;
    var acc: array<vec4<f32>, 4>;
    for (var k0 = 0u; k0 < p.inner; k0 += DEPTH) {
        for (var e = 0u; e < 4u; e++) {
            let index = thread + e * THREADS;
            // A: consecutive threads read consecutive k of one row (contiguous in memory).
            let r = index / DEPTH;
            let ka = index % DEPTH;
            var va = 0.0;
            if (row0 + r < p.rows && k0 + ka < p.inner) {
                va = a[(row0 + r) * p.inner + k0 + ka];
            }
            a_tile[ka * BLOCK + r] = va;
            // B: read along whichever dimension is contiguous.
            var n: u32;
            var kb: u32;
            if (p.b_transposed == 1u) {
                n = index / DEPTH;
                kb = index % DEPTH;
            } else {
                kb = index / BLOCK;
                n = index % BLOCK;
            }
            var vb = 0.0;
            if (col0 + n < p.cols && k0 + kb < p.inner) {
                if (p.b_transposed == 1u) {
                    vb = b[(col0 + n) * p.inner + k0 + kb];
                } else {
                    vb = b[(k0 + kb) * p.cols + col0 + n];
                }
            }
            b_tile[kb * BLOCK + n] = vb;
        }
        workgroupBarrier();
        for (var k = 0u; k < DEPTH; k++) {
            let bv = vec4<f32>(
                b_tile[k * BLOCK + local.x * 4u],
                b_tile[k * BLOCK + local.x * 4u + 1u],
                b_tile[k * BLOCK + local.x * 4u + 2u],
                b_tile[k * BLOCK + local.x * 4u + 3u],
            );
            for (var i = 0u; i < 4u; i++) {
                acc[i] += a_tile[k * BLOCK + local.y * 4u + i] * bv;
            }
        }
        workgroupBarrier();
    }
    for (var i = 0u; i < 4u; i++) {
        let row = row0 + local.y * 4u + i;
        if (row >= p.rows) {
            break;
        }
        for (var j = 0u; j < 4u; j++) {
            let col = col0 + local.x * 4u + j;
            if (col < p.cols) {
                var value = acc[i][j];
                if (p.has_bias == 1u) {
                    value += bias[col];
                }
                c[row * p.cols + col] = value;
            }
        }
    }
}
