//! The CPU backend's linear products, on `gemm` directly rather than through candle's matmul.
//! candle zero-fills every product's output before gemm overwrites it and adds a bias in a second
//! pass over the output; here the output is either left for gemm to write or pre-filled with the
//! bias, which gemm then accumulates onto: one pass over the output instead of three.

use crate::error::{Error, Result};
use gemm::{gemm, Parallelism};

/// A matrix read through strides: element (i, j) is `values[i * row_stride + j * col_stride]`.
/// A weight and its transpose are the same values with the strides swapped.
#[derive(Clone, Copy)]
pub(super) struct StridedMatrix<'a> {
    pub values: &'a [f32],
    pub rows: usize,
    pub cols: usize,
    pub row_stride: usize,
    pub col_stride: usize,
}

impl<'a> StridedMatrix<'a> {
    /// `rows` rows of `row_stride` values each, of which the first `cols` are the matrix's.
    pub fn rows_of(values: &'a [f32], rows: usize, cols: usize, row_stride: usize) -> Self {
        StridedMatrix { values, rows, cols, row_stride, col_stride: 1 }
    }

    /// The index of the last element, which must lie inside `values`.
    fn last_index(&self) -> usize {
        (self.rows.saturating_sub(1)) * self.row_stride + (self.cols.saturating_sub(1)) * self.col_stride
    }

    pub fn transposed(self) -> Self {
        StridedMatrix {
            rows: self.cols,
            cols: self.rows,
            row_stride: self.col_stride,
            col_stride: self.row_stride,
            ..self
        }
    }
}

/// x (rows, B.rows) row-major · B, plus `bias` (B.cols) on every row: (rows, B.cols) row-major.
pub(super) fn product(x: &[f32], rows: usize, b: StridedMatrix, bias: Option<&[f32]>) -> Result<Vec<f32>> {
    let (inner, cols) = (b.rows, b.cols);
    if x.len() != rows * inner || bias.is_some_and(|bias| bias.len() != cols) {
        return Err(Error::Internal(format!(
            "linear product: {} input values for {rows} rows of {inner}, bias of {:?} for {cols} outputs",
            x.len(),
            bias.map(<[f32]>::len)
        )));
    }
    let len = rows * cols;
    let mut out = match bias {
        Some(bias) => bias.repeat(rows),
        None => Vec::with_capacity(len),
    };
    if len == 0 || inner == 0 {
        out.resize(len, 0.0);
        return Ok(out);
    }
    check_inside("linear product's weight", &b)?;
    let x = StridedMatrix::rows_of(x, rows, inner, inner);
    // SAFETY: x and b lie inside their slices (checked), and `out` has room for rows × cols
    // values written row-major. With a bias, gemm reads `out` (initialised by `repeat`) and adds
    // the product; without, it writes every element of `out` without reading it (k > 0 here),
    // after which the length can cover them.
    unsafe {
        raw_product(out.as_mut_ptr(), cols, 1, x, b, bias.is_some());
        out.set_len(len);
    }
    Ok(out)
}

/// dst = lhs · rhs, or dst += lhs · rhs when `accumulate`, each read or written through its
/// strides: the attention products work on one head's columns of the (T, H·d) activations in
/// place, with no split or merge copies.
pub(super) fn product_into(
    dst: &mut [f32],
    dst_row_stride: usize,
    dst_col_stride: usize,
    lhs: StridedMatrix,
    rhs: StridedMatrix,
    accumulate: bool,
) -> Result<()> {
    let out = StridedMatrix {
        values: dst,
        rows: lhs.rows,
        cols: rhs.cols,
        row_stride: dst_row_stride,
        col_stride: dst_col_stride,
    };
    if lhs.cols != rhs.rows {
        return Err(Error::Internal(format!(
            "product of ({}, {}) and ({}, {})",
            lhs.rows, lhs.cols, rhs.rows, rhs.cols
        )));
    }
    let (rows, cols) = (out.rows, out.cols);
    if rows == 0 || cols == 0 {
        return Ok(());
    }
    check_inside("product's output", &out)?;
    if lhs.cols == 0 {
        if !accumulate {
            for r in 0..rows {
                for c in 0..cols {
                    dst[r * dst_row_stride + c * dst_col_stride] = 0.0;
                }
            }
        }
        return Ok(());
    }
    check_inside("product's left factor", &lhs)?;
    check_inside("product's right factor", &rhs)?;
    // SAFETY: all three matrices lie inside their slices (checked), `dst` is initialised and
    // exclusively borrowed, and gemm writes every element of it (k > 0), reading it only when
    // accumulating.
    unsafe { raw_product(dst.as_mut_ptr(), dst_row_stride, dst_col_stride, lhs, rhs, accumulate) };
    Ok(())
}

fn check_inside(what: &str, m: &StridedMatrix) -> Result<()> {
    if m.rows > 0 && m.cols > 0 && m.last_index() >= m.values.len() {
        return Err(Error::Internal(format!(
            "{what}: ({}, {}) through strides ({}, {}) reaches past {} values",
            m.rows,
            m.cols,
            m.row_stride,
            m.col_stride,
            m.values.len()
        )));
    }
    Ok(())
}

/// dst (lhs.rows, rhs.cols) = lhs · rhs, plus dst's previous values when `accumulate`, on gemm
/// with candle's thread count.
///
/// # Safety
/// `dst` must be valid for writes (and reads, when `accumulate`) at every index its strides
/// reach for lhs.rows × rhs.cols elements, and lhs.cols == rhs.rows > 0.
unsafe fn raw_product(
    dst: *mut f32,
    dst_row_stride: usize,
    dst_col_stride: usize,
    lhs: StridedMatrix,
    rhs: StridedMatrix,
    accumulate: bool,
) {
    let threads = candle_core::utils::get_num_threads();
    let parallelism = if threads > 1 { Parallelism::Rayon(threads) } else { Parallelism::None };
    gemm(
        lhs.rows,
        rhs.cols,
        lhs.cols,
        dst,
        dst_col_stride as isize,
        dst_row_stride as isize,
        accumulate,
        lhs.values.as_ptr(),
        lhs.col_stride as isize,
        lhs.row_stride as isize,
        rhs.values.as_ptr(),
        rhs.col_stride as isize,
        rhs.row_stride as isize,
        1.0,
        1.0,
        false,
        false,
        false,
        parallelism,
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    fn naive(x: &[f32], rows: usize, b: StridedMatrix, bias: Option<&[f32]>) -> Vec<f32> {
        let mut out = vec![0f32; rows * b.cols];
        for r in 0..rows {
            for c in 0..b.cols {
                let dot: f64 = (0..b.rows)
                    .map(|i| x[r * b.rows + i] as f64 * b.values[i * b.row_stride + c * b.col_stride] as f64)
                    .sum();
                out[r * b.cols + c] = dot as f32 + bias.map_or(0.0, |bias| bias[c]);
            }
        }
        out
    }

    fn values(n: usize, seed: u32) -> Vec<f32> {
        (0..n)
            .map(|i| ((i as u32).wrapping_mul(2_654_435_761).wrapping_add(seed) % 1000) as f32 / 500.0 - 1.0)
            .collect()
    }

    #[test]
    fn products_match_a_naive_loop_in_both_weight_layouts() {
        for &(rows, inner, cols) in &[(1, 1, 1), (197, 64, 70), (5, 33, 1), (50, 17, 129)] {
            let x = values(rows * inner, 1);
            let weight = values(cols * inner, 2); // (cols, inner) row-major, as PyTorch stores it
            let bias = values(cols, 3);
            let as_stored = StridedMatrix::rows_of(&weight, cols, inner, inner).transposed();
            let copy: Vec<f32> = (0..inner * cols).map(|j| weight[(j % cols) * inner + j / cols]).collect();
            let transposed_copy = StridedMatrix::rows_of(&copy, inner, cols, cols);
            for b in [as_stored, transposed_copy] {
                for bias in [None, Some(bias.as_slice())] {
                    let expected = naive(&x, rows, b, bias);
                    let actual = product(&x, rows, b, bias).unwrap();
                    for (a, e) in actual.iter().zip(&expected) {
                        assert!((a - e).abs() <= 1e-4 * (1.0 + e.abs()), "{rows}x{inner}x{cols}: {a} vs {e}");
                    }
                }
            }
        }
    }

    #[test]
    fn empty_inner_dimension_gives_the_bias() {
        let b = StridedMatrix::rows_of(&[], 0, 3, 3);
        assert_eq!(product(&[], 2, b, Some(&[1.0, 2.0, 3.0])).unwrap(), vec![1.0, 2.0, 3.0, 1.0, 2.0, 3.0]);
        assert_eq!(product(&[], 2, b, None).unwrap(), vec![0.0; 6]);
    }

    #[test]
    fn strided_products_write_only_their_own_columns() {
        // Two heads of width 3 side by side in (4, 6) activations: each head's product lands in
        // its own columns, the other's untouched.
        let (tokens, width) = (4, 3);
        let q = values(tokens * 2 * width, 5);
        let k = values(tokens * 2 * width, 6);
        let mut dst = vec![7.0f32; tokens * 2 * tokens];
        for head in 0..2 {
            let q_head = StridedMatrix::rows_of(&q[head * width..], tokens, width, 2 * width);
            let k_head = StridedMatrix::rows_of(&k[head * width..], tokens, width, 2 * width);
            product_into(&mut dst[head * tokens..], 2 * tokens, 1, q_head, k_head.transposed(), false).unwrap();
            let expected = naive(
                &q.iter().enumerate().filter(|(i, _)| (i / width) % 2 == head).map(|(_, v)| *v).collect::<Vec<_>>(),
                tokens,
                k_head.transposed(),
                None,
            );
            for r in 0..tokens {
                for c in 0..tokens {
                    let actual = dst[r * 2 * tokens + head * tokens + c];
                    assert!((actual - expected[r * tokens + c]).abs() < 1e-5);
                }
            }
        }
    }

    #[test]
    fn mismatched_shapes_and_strides_are_errors() {
        let weight = [0f32; 6];
        let b = StridedMatrix::rows_of(&weight, 2, 3, 3);
        assert!(product(&[0.0; 3], 2, b, None).is_err());
        assert!(product(&[0.0; 4], 2, b, Some(&[0.0; 2])).is_err());
        let too_far = StridedMatrix { row_stride: 4, ..b };
        assert!(product(&[0.0; 4], 2, too_far, None).is_err());
        let mut dst = [0f32; 6];
        let lhs = StridedMatrix::rows_of(&weight, 2, 2, 2);
        assert!(product_into(&mut dst, 3, 1, lhs, b, false).is_ok());
        assert!(product_into(&mut dst[1..], 3, 1, lhs, b, false).is_err(), "the output reaches past its slice");
        assert!(product_into(&mut dst, 3, 1, b, b, false).is_err(), "inner sizes differ");
    }
}
