//! The shape rules both backends check before an op runs, so that a wrong shape is the same
//! `Error::Internal` on the CPU and on the GPU (whose kernels index without bounds).

use crate::error::{Error, Result};

/// (rows, width) of a row-wise op (a norm) on `x` (.., D) with a weight of `weight` values (D).
pub(crate) fn rows_and_width(op: &str, x: &[usize], weight: usize) -> Result<(usize, usize)> {
    let width = x.last().copied().unwrap_or(0);
    if width == 0 || weight != width {
        return Err(Error::Internal(format!("{op}: input {x:?} vs a weight of {weight} values")));
    }
    Ok((x.iter().product::<usize>() / width, width))
}

/// Checks that a tensor the forward pass saved (`saved`) fits the gradient flowing back
/// (`incoming`, (K, ..)): the same shape, or a batch of one standing for K repeated copies (one
/// forward serving K backward passes run as one batch).
pub(crate) fn check_saved_batch(op: &str, saved: &[usize], incoming: &[usize]) -> Result<()> {
    let broadcast = saved.len() == incoming.len() && saved.first() == Some(&1) && saved[1..] == incoming[1..];
    if saved != incoming && !broadcast {
        return Err(Error::Internal(format!(
            "{op}: saved tensor {saved:?} is neither the gradient's shape {incoming:?} nor a batch of one of it"
        )));
    }
    Ok(())
}

/// (B, T, D) of a token tensor.
pub(crate) fn tokens_shape(op: &str, x: &[usize]) -> Result<(usize, usize, usize)> {
    match *x {
        [batch, tokens, width] => Ok((batch, tokens, width)),
        _ => Err(Error::Internal(format!("{op}: shape {x:?} is not (B, T, D)"))),
    }
}

/// Marks a token that `replace_rows` keeps: no replacing row.
pub(crate) const KEPT: u32 = u32::MAX;

/// For each of `tokens` tokens, the row of `positions` that replaces it, or [`KEPT`]. Positions
/// must lie inside the sequence and be distinct (a token replaced twice has no single source,
/// and its gradient would belong to neither).
pub(crate) fn replacement_sources(op: &str, tokens: usize, positions: &[u32]) -> Result<Vec<u32>> {
    let mut sources = vec![KEPT; tokens];
    for (row, &position) in positions.iter().enumerate() {
        match sources.get_mut(position as usize) {
            Some(source) if *source == KEPT => *source = row as u32,
            Some(_) => return Err(Error::Internal(format!("{op}: position {position} is given twice"))),
            None => return Err(Error::Internal(format!("{op}: position {position} of {tokens} tokens"))),
        }
    }
    Ok(sources)
}

/// Checks `positions` against a sequence of `tokens` tokens (each may repeat: rows are read,
/// not written).
pub(crate) fn check_positions(op: &str, tokens: usize, positions: &[u32]) -> Result<()> {
    match positions.iter().find(|&&p| p as usize >= tokens) {
        Some(bad) => Err(Error::Internal(format!("{op}: position {bad} of {tokens} tokens"))),
        None => Ok(()),
    }
}

/// The shape of `a` (B, T1, W) followed by `b` (B, T2, W) along the tokens: (B, T1 + T2, W).
pub(crate) fn concatenated(a: &[usize], b: &[usize]) -> Result<[usize; 3]> {
    let (batch, first, width) = tokens_shape("concat tokens", a)?;
    let (other_batch, second, other_width) = tokens_shape("concat tokens", b)?;
    if (batch, width) != (other_batch, other_width) {
        return Err(Error::Internal(format!("concat tokens: {a:?} and {b:?} differ in batch or width")));
    }
    Ok([batch, first + second, width])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_batch_of_one_stands_for_repeated_copies() {
        assert!(check_saved_batch("op", &[1, 3, 4], &[5, 3, 4]).is_ok());
        assert!(check_saved_batch("op", &[5, 3, 4], &[5, 3, 4]).is_ok());
        assert!(check_saved_batch("op", &[2, 3, 4], &[4, 3, 4]).is_err());
        assert!(check_saved_batch("op", &[1, 3, 5], &[4, 3, 4]).is_err());
        assert!(check_saved_batch("op", &[1, 12], &[4, 3, 4]).is_err());
    }

    #[test]
    fn replaced_positions_are_distinct_and_inside_the_sequence() {
        assert_eq!(replacement_sources("op", 4, &[2, 0]).unwrap(), [1, KEPT, 0, KEPT]);
        assert!(replacement_sources("op", 4, &[1, 1]).is_err());
        assert!(replacement_sources("op", 4, &[4]).is_err());
        assert!(check_positions("op", 3, &[2, 2, 0]).is_ok());
        assert!(check_positions("op", 3, &[3]).is_err());
    }
}

/// (B, D) of `place_tokens`'s rows, with one position inside the sequence per batch element.
pub(crate) fn placed_tokens(op: &str, rows: &[usize], positions: &[u32], tokens: usize) -> Result<(usize, usize)> {
    let &[batch, width] = rows else {
        return Err(Error::Internal(format!("{op}: rows {rows:?} are not (B, D)")));
    };
    if positions.len() != batch {
        return Err(Error::Internal(format!("{op}: {} positions for {batch} rows", positions.len())));
    }
    check_positions(op, tokens, positions)?;
    Ok((batch, width))
}

/// Errors unless `dims` hold as many values as `shape`.
pub(crate) fn check_reshape(shape: &[usize], dims: &[usize]) -> Result<()> {
    if shape.iter().product::<usize>() != dims.iter().product::<usize>() {
        return Err(Error::Internal(format!("reshape of {shape:?} to {dims:?}")));
    }
    Ok(())
}
