//! Smooth resampling of a score grid to the crop's pixel size.
//!
//! When enlarging, each grid value is treated as a sample at the centre of
//! its cell (a patch for patch maps, a pixel for pixel maps) and output
//! pixels interpolate bilinearly between the nearest centres; beyond the
//! outermost centres the edge value is held, so the border does not fade
//! towards zero. When shrinking (a 224 px pixel map over a smaller crop),
//! each output pixel averages the cells it covers instead, because point
//! sampling would alias the fine noise of gradient maps.
//!
//! Both axes are handled separately, one pass each.

/// A validated row-major score grid.
#[derive(Clone, Copy, Debug)]
pub(super) struct Grid<'a> {
    pub rows: usize,
    pub cols: usize,
    pub values: &'a [f32],
}

/// The source cells that make up one output value, with their weights.
type Taps = Vec<(usize, f32)>;

/// Resamples `grid` to `width` × `height` values, row-major.
pub(super) fn resample(grid: Grid<'_>, width: usize, height: usize) -> Vec<f32> {
    let column_taps = axis_taps(grid.cols, width);
    let row_taps = axis_taps(grid.rows, height);
    let widened: Vec<f32> = grid
        .values
        .chunks_exact(grid.cols)
        .flat_map(|row| column_taps.iter().map(move |taps| weighted_sum(taps, |col| row[col])))
        .collect();
    let mut output = Vec::with_capacity(width * height);
    for taps in &row_taps {
        output.extend((0..width).map(|x| weighted_sum(taps, |row| widened[row * width + x])));
    }
    output
}

fn weighted_sum(taps: &[(usize, f32)], value_at: impl Fn(usize) -> f32) -> f32 {
    taps.iter().map(|&(index, weight)| value_at(index) * weight).sum()
}

/// Taps for every output index along one axis of `source_len` cells.
fn axis_taps(source_len: usize, output_len: usize) -> Vec<Taps> {
    let step = source_len as f64 / output_len as f64;
    (0..output_len)
        .map(|index| if step > 1.0 { box_taps(index, step, source_len) } else { linear_taps(index, step, source_len) })
        .collect()
}

fn linear_taps(index: usize, step: f64, source_len: usize) -> Taps {
    let last = (source_len - 1) as f64;
    let centre = ((index as f64 + 0.5) * step - 0.5).clamp(0.0, last);
    let near = centre.floor() as usize;
    let far = (near + 1).min(source_len - 1);
    let far_weight = (centre - near as f64) as f32;
    vec![(near, 1.0 - far_weight), (far, far_weight)]
}

/// Averages the source cells overlapped by output pixel `index`, each
/// weighted by how much of the pixel it covers.
fn box_taps(index: usize, step: f64, source_len: usize) -> Taps {
    let start = index as f64 * step;
    let end = ((index + 1) as f64 * step).min(source_len as f64);
    let first = start.floor() as usize;
    let last = (end.ceil() as usize).min(source_len);
    (first..last)
        .map(|cell| {
            let overlap = end.min((cell + 1) as f64) - start.max(cell as f64);
            (cell, (overlap / (end - start)) as f32)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn grid(rows: usize, cols: usize, values: &[f32]) -> Grid<'_> {
        Grid { rows, cols, values }
    }

    #[test]
    fn constant_map_stays_constant() {
        let values = [0.37; 12];
        let output = resample(grid(3, 4, &values), 53, 41);
        assert_eq!(output.len(), 53 * 41);
        assert!(output.iter().all(|&v| (v - 0.37).abs() < 1e-6));
    }

    #[test]
    fn one_hot_patch_peaks_inside_that_patch() {
        let (rows, cols, patch) = (4, 5, 16);
        let mut values = vec![0.0; rows * cols];
        values[2 * cols + 3] = 1.0;
        let (width, height) = (cols * patch, rows * patch);
        let output = resample(grid(rows, cols, &values), width, height);
        let peak = output.iter().enumerate().max_by(|a, b| a.1.total_cmp(b.1)).map(|(index, _)| index).unwrap();
        let (y, x) = (peak / width, peak % width);
        assert_eq!((y / patch, x / patch), (2, 3));
        assert!(output[peak] > 0.9);
        assert!(output.iter().all(|&v| (0.0..=1.0).contains(&v)));
    }

    #[test]
    fn matching_size_reproduces_the_grid() {
        let values: Vec<f32> = (0..20).map(|v| v as f32).collect();
        assert_eq!(resample(grid(4, 5, &values), 5, 4), values);
    }

    #[test]
    fn single_cell_fills_everything() {
        let output = resample(grid(1, 1, &[2.5]), 7, 3);
        assert_eq!(output, vec![2.5; 21]);
    }

    #[test]
    fn edges_hold_the_outermost_value() {
        let output = resample(grid(1, 2, &[0.0, 1.0]), 8, 1);
        assert_eq!(output[0], 0.0);
        assert_eq!(output[7], 1.0);
        assert!(output.windows(2).all(|pair| pair[0] <= pair[1]));
    }

    #[test]
    fn shrinking_averages_instead_of_aliasing() {
        let checkerboard: Vec<f32> = (0..224 * 224).map(|i| ((i / 224 + i % 224) % 2) as f32).collect();
        let output = resample(grid(224, 224, &checkerboard), 100, 100);
        assert!(output.iter().all(|&v| (v - 0.5).abs() < 0.05), "aliased");
        let constant = vec![1.0; 224 * 224];
        let output = resample(grid(224, 224, &constant), 97, 31);
        assert!(output.iter().all(|&v| (v - 1.0).abs() < 1e-5));
    }
}
