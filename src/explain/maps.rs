//! Turning per-pixel gradients into the maps the methods define: channel reductions to one value
//! per pixel, then one value per patch.

/// How one patch's pixels are combined into its score.
#[derive(Clone, Copy, Debug)]
pub enum PatchReduction {
    Mean,
    Sum,
}

/// Pixel geometry of the model input: S × S pixels, patches of P × P, a G × G grid.
#[derive(Clone, Copy, Debug)]
pub struct Geometry {
    pub image_size: usize,
    pub patch_size: usize,
    pub grid_side: usize,
}

impl Geometry {
    pub fn pixels(&self) -> usize {
        self.image_size * self.image_size
    }

    pub fn patches(&self) -> usize {
        self.grid_side * self.grid_side
    }

    /// The runs of patch `index`'s values in a (3, S, S) row-major input: one per channel and row.
    pub fn patch_spans(&self, index: usize) -> impl Iterator<Item = std::ops::Range<usize>> {
        crate::backend::patch_spans(self.image_size, self.patch_size, self.grid_side, index)
    }
}

/// max over channels of |g|, for (3, S, S) values → S·S.
pub fn max_abs_over_channels(values: &[f32], geometry: Geometry) -> Vec<f32> {
    let n = geometry.pixels();
    (0..n).map(|i| (0..3).map(|c| values[c * n + i].abs()).fold(0.0, f32::max)).collect()
}

/// Σ over channels, for (3, S, S) values → S·S.
pub fn sum_over_channels(values: &[f32], geometry: Geometry) -> Vec<f32> {
    let n = geometry.pixels();
    (0..n).map(|i| (0..3).map(|c| values[c * n + i]).sum()).collect()
}

/// One value per patch (row-major over the grid); pixels past the last whole patch are ignored,
/// as the patch convolution ignores them.
pub fn pixels_to_patches(pixels: &[f32], geometry: Geometry, reduction: PatchReduction) -> Vec<f32> {
    let Geometry { image_size, patch_size, grid_side } = geometry;
    let mut patches = vec![0f32; geometry.patches()];
    for (index, patch) in patches.iter_mut().enumerate() {
        let (row, col) = (index / grid_side, index % grid_side);
        let mut total = 0f64;
        for y in row * patch_size..(row + 1) * patch_size {
            for x in col * patch_size..(col + 1) * patch_size {
                total += pixels[y * image_size + x] as f64;
            }
        }
        *patch = match reduction {
            PatchReduction::Sum => total as f32,
            PatchReduction::Mean => (total / (patch_size * patch_size) as f64) as f32,
        };
    }
    patches
}
