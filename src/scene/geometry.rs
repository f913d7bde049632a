//! Bounding boxes and the pixel-exact rasterisation of shapes.
//!
//! Shapes are tested at pixel centres in doubled integer coordinates (the
//! centre of pixel `x` is `2x + 1`), so rasterisation needs no floating point
//! at all and gives the same pixels on every platform.

use serde::{Deserialize, Serialize};

use super::vocabulary::Shape;

/// Axis-aligned pixel rectangle, half-open: it covers columns `x0..x1` and
/// rows `y0..y1`, so its width is `x1 - x0`. Serialised as `[x0, y0, x1, y1]`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(from = "[u32; 4]", into = "[u32; 4]")]
pub struct BoundingBox {
    pub x0: u32,
    pub y0: u32,
    pub x1: u32,
    pub y1: u32,
}

impl BoundingBox {
    pub fn width(&self) -> u32 {
        self.x1 - self.x0
    }

    pub fn height(&self) -> u32 {
        self.y1 - self.y0
    }

    pub fn contains(&self, x: u32, y: u32) -> bool {
        (self.x0..self.x1).contains(&x) && (self.y0..self.y1).contains(&y)
    }

    /// True when the boxes share no column.
    pub fn is_horizontally_disjoint(&self, other: &BoundingBox) -> bool {
        self.x1 <= other.x0 || other.x1 <= self.x0
    }

    /// True unless at least `gap` empty columns or rows separate the boxes;
    /// with `gap` 0, true exactly when they share a pixel.
    pub(super) fn comes_within(&self, other: &BoundingBox, gap: u32) -> bool {
        self.x0 < other.x1 + gap && other.x0 < self.x1 + gap && self.y0 < other.y1 + gap && other.y0 < self.y1 + gap
    }
}

impl From<[u32; 4]> for BoundingBox {
    fn from([x0, y0, x1, y1]: [u32; 4]) -> Self {
        Self { x0, y0, x1, y1 }
    }
}

impl From<BoundingBox> for [u32; 4] {
    fn from(bbox: BoundingBox) -> Self {
        [bbox.x0, bbox.y0, bbox.x1, bbox.y1]
    }
}

/// A shape of a given extent at a given top-left corner, before occlusion.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct PlacedShape {
    pub shape: Shape,
    pub left: u32,
    pub top: u32,
    /// Width of the shape; also its height except for the shorter triangle.
    pub extent: u32,
}

impl PlacedShape {
    /// Width and height of the box the shape is drawn in.
    pub fn footprint_size(shape: Shape, extent: u32) -> (u32, u32) {
        match shape {
            Shape::Circle | Shape::Square => (extent, extent),
            Shape::Triangle => (extent, triangle_height(extent)),
        }
    }

    /// The box the shape is drawn in; its pixels may not reach every edge.
    pub fn footprint(&self) -> BoundingBox {
        let (width, height) = Self::footprint_size(self.shape, self.extent);
        BoundingBox { x0: self.left, y0: self.top, x1: self.left + width, y1: self.top + height }
    }

    /// Whether the shape covers the centre of pixel (`x`, `y`).
    pub fn covers(&self, x: u32, y: u32) -> bool {
        let footprint = self.footprint();
        if !footprint.contains(x, y) {
            return false;
        }
        let extent = i64::from(self.extent);
        // Offsets of the pixel centre from the footprint's top-left corner, doubled.
        let dx = 2 * i64::from(x - self.left) + 1;
        let dy = 2 * i64::from(y - self.top) + 1;
        match self.shape {
            Shape::Square => true,
            Shape::Circle => {
                let (cx, cy) = (dx - extent, dy - extent);
                cx * cx + cy * cy <= extent * extent
            }
            Shape::Triangle => {
                // Half-width grows linearly from 0 at the apex to extent/2 at
                // the base, which sits `height` below it.
                let height = i64::from(footprint.height());
                (dx - extent).abs() * 2 * height <= extent * dy
            }
        }
    }

    /// Calls `visit(x, y)` for every pixel the shape covers, row by row.
    pub fn for_each_pixel(&self, mut visit: impl FnMut(u32, u32)) {
        let footprint = self.footprint();
        for y in footprint.y0..footprint.y1 {
            for x in footprint.x0..footprint.x1 {
                if self.covers(x, y) {
                    visit(x, y);
                }
            }
        }
    }
}

/// Height of an upright triangle whose base is `extent` wide: round(extent *
/// sqrt(3)/2), with the ratio as a fixed-point integer (887/1024 ≈ 0.8662).
fn triangle_height(extent: u32) -> u32 {
    (extent * 887 + 512) / 1024
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pixel_count(shape: Shape, extent: u32) -> usize {
        let placed = PlacedShape { shape, left: 3, top: 5, extent };
        let mut count = 0;
        placed.for_each_pixel(|_, _| count += 1);
        count
    }

    #[test]
    fn square_fills_its_footprint() {
        assert_eq!(pixel_count(Shape::Square, 7), 49);
    }

    #[test]
    fn areas_approach_the_continuous_shapes() {
        let extent = 200;
        let side = f64::from(extent);
        let circle = pixel_count(Shape::Circle, extent) as f64;
        let circle_area = std::f64::consts::PI * side * side / 4.0;
        assert!((circle / circle_area - 1.0).abs() < 0.01, "circle {circle}");
        let triangle = pixel_count(Shape::Triangle, extent) as f64;
        let triangle_area = side * f64::from(triangle_height(extent)) / 2.0;
        assert!((triangle / triangle_area - 1.0).abs() < 0.02, "triangle {triangle}");
    }

    #[test]
    fn shapes_are_left_right_symmetric() {
        for shape in Shape::ALL {
            for extent in [4, 5, 12, 13] {
                let placed = PlacedShape { shape, left: 0, top: 0, extent };
                let footprint = placed.footprint();
                for y in footprint.y0..footprint.y1 {
                    for x in footprint.x0..footprint.x1 {
                        assert_eq!(placed.covers(x, y), placed.covers(extent - 1 - x, y));
                    }
                }
            }
        }
    }

    #[test]
    fn triangle_widens_downwards() {
        let placed = PlacedShape { shape: Shape::Triangle, left: 0, top: 0, extent: 30 };
        let row_width = |y| (0..30).filter(|&x| placed.covers(x, y)).count();
        let height = placed.footprint().height();
        for y in 1..height {
            assert!(row_width(y) >= row_width(y - 1));
        }
        assert!(row_width(height - 1) >= 28);
    }

    #[test]
    fn gap_test_counts_near_misses() {
        let a = BoundingBox::from([0, 0, 10, 10]);
        let touching = BoundingBox::from([10, 0, 20, 10]);
        let two_apart = BoundingBox::from([12, 0, 20, 10]);
        assert!(!a.comes_within(&touching, 0));
        assert!(a.comes_within(&touching, 1));
        assert!(!a.comes_within(&two_apart, 2));
        assert!(a.comes_within(&two_apart, 3));
    }
}
