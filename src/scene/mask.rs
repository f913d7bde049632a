//! Per-object pixel masks: storage, run-length encoding and patch coverage.

use super::geometry::BoundingBox;

/// A binary mask over a `width`×`height` image, one bit per pixel, row-major.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Mask {
    width: u32,
    height: u32,
    words: Vec<u64>,
}

impl Mask {
    /// An empty mask.
    pub fn new(width: u32, height: u32) -> Self {
        let pixels = width as usize * height as usize;
        Self { width, height, words: vec![0; pixels.div_ceil(64)] }
    }

    pub fn width(&self) -> u32 {
        self.width
    }

    pub fn height(&self) -> u32 {
        self.height
    }

    pub fn get(&self, x: u32, y: u32) -> bool {
        let index = self.index(x, y);
        self.words[index / 64] >> (index % 64) & 1 == 1
    }

    pub fn set(&mut self, x: u32, y: u32) {
        let index = self.index(x, y);
        self.words[index / 64] |= 1 << (index % 64);
    }

    /// Number of set pixels.
    pub fn count(&self) -> usize {
        self.words.iter().map(|word| word.count_ones() as usize).sum()
    }

    /// Tightest box holding every set pixel, `None` for an empty mask.
    pub fn bounding_box(&self) -> Option<BoundingBox> {
        let mut bbox: Option<BoundingBox> = None;
        for (x, y) in self.pixels() {
            let grown = match bbox {
                None => BoundingBox::from([x, y, x + 1, y + 1]),
                Some(b) => BoundingBox::from([b.x0.min(x), b.y0.min(y), b.x1.max(x + 1), b.y1.max(y + 1)]),
            };
            bbox = Some(grown);
        }
        bbox
    }

    /// Coordinates of the set pixels, row by row.
    pub fn pixels(&self) -> impl Iterator<Item = (u32, u32)> + '_ {
        let width = self.width as usize;
        self.words.iter().enumerate().flat_map(move |(word_index, &word)| {
            let mut remaining = word;
            std::iter::from_fn(move || {
                if remaining == 0 {
                    return None;
                }
                let bit = remaining.trailing_zeros() as usize;
                remaining &= remaining - 1;
                let index = word_index * 64 + bit;
                Some(((index % width) as u32, (index / width) as u32))
            })
        })
    }

    /// Fraction of each patch covered by the mask, for a `rows`×`cols` grid
    /// over the image, row-major. Patch `r` spans image rows
    /// `r*height/rows .. (r+1)*height/rows` (floor division, likewise for
    /// columns), so uneven sizes still tile every pixel exactly once.
    ///
    /// Panics unless `1 <= rows <= height` and `1 <= cols <= width`, since
    /// otherwise some patch would hold no pixel.
    pub fn patch_coverage(&self, rows: u32, cols: u32) -> Vec<f32> {
        assert!((1..=self.height).contains(&rows), "patch rows {rows} out of range");
        assert!((1..=self.width).contains(&cols), "patch cols {cols} out of range");
        let row_patch = patch_index_of_each_pixel(self.height, rows);
        let col_patch = patch_index_of_each_pixel(self.width, cols);
        let mut covered = vec![0u32; rows as usize * cols as usize];
        for (x, y) in self.pixels() {
            covered[row_patch[y as usize] * cols as usize + col_patch[x as usize]] += 1;
        }
        let row_sizes = patch_sizes(self.height, rows);
        let col_sizes = patch_sizes(self.width, cols);
        covered
            .iter()
            .enumerate()
            .map(|(patch, &count)| {
                let area = row_sizes[patch / cols as usize] * col_sizes[patch % cols as usize];
                count as f32 / area as f32
            })
            .collect()
    }

    /// Run-length encoding over the whole image in row-major order: counts of
    /// alternating runs, starting with unset pixels (so the first count may be
    /// 0), summing to `width * height`.
    pub fn to_rle(&self) -> Vec<u32> {
        let mut runs = Vec::new();
        let mut current_value = false;
        let mut current_length = 0u32;
        for y in 0..self.height {
            for x in 0..self.width {
                if self.get(x, y) != current_value {
                    runs.push(current_length);
                    current_value = !current_value;
                    current_length = 0;
                }
                current_length += 1;
            }
        }
        runs.push(current_length);
        runs
    }

    /// Inverse of [`Mask::to_rle`]; `None` when the runs do not sum to
    /// `width * height`.
    pub fn from_rle(width: u32, height: u32, runs: &[u32]) -> Option<Mask> {
        let total: u64 = runs.iter().map(|&run| u64::from(run)).sum();
        if total != u64::from(width) * u64::from(height) {
            return None;
        }
        let mut mask = Mask::new(width, height);
        let mut index = 0usize;
        for (run_index, &run) in runs.iter().enumerate() {
            let is_set = run_index % 2 == 1;
            for pixel in index..index + run as usize {
                if is_set {
                    mask.words[pixel / 64] |= 1 << (pixel % 64);
                }
            }
            index += run as usize;
        }
        Some(mask)
    }

    fn index(&self, x: u32, y: u32) -> usize {
        assert!(x < self.width && y < self.height, "pixel ({x}, {y}) outside mask");
        y as usize * self.width as usize + x as usize
    }
}

fn patch_index_of_each_pixel(length: u32, patches: u32) -> Vec<usize> {
    let (length, patches) = (u64::from(length), u64::from(patches));
    // Inverse of the floor-division boundaries: pixel p lies in patch
    // floor(((p + 1) * patches - 1) / length).
    (0..length).map(|pixel| (((pixel + 1) * patches - 1) / length) as usize).collect()
}

fn patch_sizes(length: u32, patches: u32) -> Vec<u32> {
    let boundary = |patch: u32| (u64::from(patch) * u64::from(length) / u64::from(patches)) as u32;
    (0..patches).map(|patch| boundary(patch + 1) - boundary(patch)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn diagonal_mask(size: u32) -> Mask {
        let mut mask = Mask::new(size, size);
        for i in 0..size {
            mask.set(i, i);
        }
        mask
    }

    #[test]
    fn rle_round_trips_and_starts_with_background() {
        let mask = diagonal_mask(9);
        let runs = mask.to_rle();
        assert_eq!(runs[0], 0);
        assert_eq!(runs.iter().sum::<u32>(), 81);
        assert_eq!(Mask::from_rle(9, 9, &runs), Some(mask));
        assert_eq!(Mask::from_rle(9, 9, &[80]), None);
        assert_eq!(Mask::new(4, 4).to_rle(), vec![16]);
    }

    #[test]
    fn pixels_and_bounding_box_agree_with_set() {
        let mut mask = Mask::new(70, 3);
        mask.set(69, 0);
        mask.set(5, 2);
        assert_eq!(mask.pixels().collect::<Vec<_>>(), vec![(69, 0), (5, 2)]);
        assert_eq!(mask.bounding_box(), Some(BoundingBox::from([5, 0, 70, 3])));
        assert_eq!(Mask::new(3, 3).bounding_box(), None);
    }

    #[test]
    fn patch_index_matches_patch_boundaries() {
        for (length, patches) in [(10, 3), (64, 8), (7, 7), (13, 1), (100, 14)] {
            let index = patch_index_of_each_pixel(length, patches);
            let sizes = patch_sizes(length, patches);
            for (patch, &size) in sizes.iter().enumerate() {
                let members = index.iter().filter(|&&i| i == patch).count() as u32;
                assert_eq!(members, size, "length {length} patches {patches}");
            }
        }
    }

    #[test]
    fn coverage_of_full_and_uneven_grids() {
        let mut full = Mask::new(10, 10);
        for y in 0..10 {
            for x in 0..10 {
                full.set(x, y);
            }
        }
        assert!(full.patch_coverage(3, 4).iter().all(|&f| f == 1.0));
        let coverage = diagonal_mask(4).patch_coverage(2, 2);
        assert_eq!(coverage, vec![0.5, 0.0, 0.0, 0.5]);
    }
}
