//! Rotary position embeddings on the CPU: each head's channel pair (i, i + d/2) of the token at
//! position p turned by the angle of (p, i), read from the f32 tables.

/// x (rows of `width` = H·d values, token t of row r being r mod `tokens`) rotated from position
/// `offset`, with tables cos and sin (P, d/2); `transposed` turns each pair back by its angle
/// (the VJP).
pub(super) fn rotate(
    x: &[f32],
    (cos, sin): (&[f32], &[f32]),
    half: usize,
    (tokens, width): (usize, usize),
    offset: usize,
    transposed: bool,
) -> Vec<f32> {
    let direction = if transposed { -1.0 } else { 1.0 };
    let mut out = vec![0f32; x.len()];
    for (r, (row, out_row)) in x.chunks_exact(width).zip(out.chunks_exact_mut(width)).enumerate() {
        let table_row = (offset + r % tokens) * half;
        let (cos, sin) = (&cos[table_row..table_row + half], &sin[table_row..table_row + half]);
        for (head, out_head) in row.chunks_exact(2 * half).zip(out_row.chunks_exact_mut(2 * half)) {
            let (first, second) = head.split_at(half);
            let (out_first, out_second) = out_head.split_at_mut(half);
            for i in 0..half {
                let s = direction * sin[i];
                out_first[i] = first[i] * cos[i] - second[i] * s;
                out_second[i] = second[i] * cos[i] + first[i] * s;
            }
        }
    }
    out
}
