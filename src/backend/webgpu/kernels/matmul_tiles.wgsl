// The tiled body of C = A · B (+ bias), shared by the dense (matmul_dense.wgsl) and the
// dequantizing (matmul_quantized.wgsl) products: the launcher appends it to one of them, which
// declare `p` (rows, cols, inner, row_offset, b_transposed, has_bias), the bindings `a`, `bias`,
// `c`, and `fn b_at(n, k)`, B's value for output column n at depth k.
//
// Tiling: a workgroup of 16 × 16 threads computes a 64 × 64 block of C; each thread owns a 4 × 4
// sub-block held in registers. The K dimension is walked 16 at a time through two shared tiles
// (64 × 16 of A, 16 × 64 of B), so each element read from global memory is used 64 times.
// Dispatch: (ceil(cols / 64), ceil(rows_in_this_dispatch / 64)); `row_offset` lets the launcher
// split a long product into several dispatches.

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
                vb = b_at(col0 + n, k0 + kb);
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
