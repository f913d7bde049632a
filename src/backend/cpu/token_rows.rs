//! The decoder's token rows on the CPU: reading the rows at given positions, and replacing them
//! (image features put in place of a prompt's image tokens).

use crate::backend::shapes::KEPT;

/// x (B, T, D) → (B, N, D), the rows at `positions`.
pub(super) fn select_rows(x: &[f32], (tokens, width): (usize, usize), positions: &[u32]) -> Vec<f32> {
    let mut out = Vec::with_capacity(x.len() / tokens.max(1) * positions.len());
    for sequence in x.chunks_exact(tokens * width) {
        for &p in positions {
            let start = p as usize * width;
            out.extend_from_slice(&sequence[start..start + width]);
        }
    }
    out
}

/// x (B, T, D) with token t replaced by row `sources[t]` of `rows` (B, N, D), or by zeros when
/// `rows` is `None`; tokens whose source is `KEPT` stay.
pub(super) fn replace_rows(
    x: &[f32],
    rows: Option<&[f32]>,
    (tokens, width): (usize, usize),
    sources: &[u32],
    replaced: usize,
) -> Vec<f32> {
    let mut out = x.to_vec();
    for (b, sequence) in out.chunks_exact_mut(tokens * width).enumerate() {
        for (token, &source) in sequence.chunks_exact_mut(width).zip(sources) {
            if source == KEPT {
                continue;
            }
            match rows {
                Some(rows) => {
                    let start = (b * replaced + source as usize) * width;
                    token.copy_from_slice(&rows[start..start + width]);
                }
                None => token.fill(0.0),
            }
        }
    }
    out
}
