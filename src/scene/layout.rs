//! Choosing which objects appear where, so that every object stays well
//! visible and no two same-coloured objects touch.

use super::geometry::PlacedShape;
use super::rng::SplitMix64;
use super::spec::{grid_cells_per_side, SceneSpec, MAX_OBJECTS, SEPARATION_GAP};
use super::vocabulary::{Colour, Shape};

/// Random positions tried for one object before the layout is restarted.
const PLACEMENT_TRIES: usize = 40;

/// Random layouts tried before falling back to one object per grid cell,
/// which always fits a validated spec; random layouts almost never run out.
const RANDOM_LAYOUT_ATTEMPTS: usize = 200;

/// An overlapping object must hide at least this share of the object it
/// overlaps: a sliver of overlap reads as two shapes touching, not overlapping.
const MIN_OCCLUDED_FRACTION: f64 = 0.1;

/// Object label of a pixel showing the background.
pub(super) const BACKGROUND_LABEL: u8 = 0;

/// Objects in drawing order, later ones on top.
pub(super) struct Layout {
    pub objects: Vec<LaidOutObject>,
    /// Per pixel, row-major: `BACKGROUND_LABEL`, or 1 + index of the visible object.
    pub labels: Vec<u8>,
}

pub(super) struct LaidOutObject {
    pub colour: Colour,
    pub placed: PlacedShape,
    /// Pixels the shape covers before anything is drawn over it.
    pub full_area: u32,
}

pub(super) fn lay_out(rng: &mut SplitMix64, size: u32, spec: &SceneSpec) -> Layout {
    let count = rng.in_range(spec.min_objects as u32, spec.max_objects as u32) as usize;
    let identities = choose_identities(rng, spec, count);
    for _ in 0..RANDOM_LAYOUT_ATTEMPTS {
        if let Some(layout) = random_layout(rng, size, spec, &identities) {
            return layout;
        }
    }
    grid_layout(rng, size, spec, &identities)
}

/// `count` distinct (colour, shape) pairs, so each caption names one object.
fn choose_identities(rng: &mut SplitMix64, spec: &SceneSpec, count: usize) -> Vec<(Colour, Shape)> {
    let mut pairs: Vec<(Colour, Shape)> =
        spec.colours.iter().flat_map(|&colour| spec.shapes.iter().map(move |&shape| (colour, shape))).collect();
    rng.shuffle(&mut pairs);
    pairs.truncate(count);
    pairs
}

fn random_layout(rng: &mut SplitMix64, size: u32, spec: &SceneSpec, identities: &[(Colour, Shape)]) -> Option<Layout> {
    let mut canvas = Canvas::new(size, spec.min_visible_fraction);
    for &(colour, shape) in identities {
        let has_other_colour = canvas.objects.iter().any(|object| object.colour != colour);
        let wants_overlap = has_other_colour && rng.chance(spec.overlap_probability);
        // An overlap that cannot be arranged falls back to a free-standing object.
        let placed = match place_object(rng, &canvas, spec, colour, shape, wants_overlap) {
            Some(placed) => placed,
            None if wants_overlap => place_object(rng, &canvas, spec, colour, shape, false)?,
            None => return None,
        };
        canvas.commit(colour, placed);
    }
    Some(canvas.into_layout())
}

/// Tries random positions until one satisfies every rule, or gives up.
fn place_object(
    rng: &mut SplitMix64,
    canvas: &Canvas,
    spec: &SceneSpec,
    colour: Colour,
    shape: Shape,
    overlapping: bool,
) -> Option<PlacedShape> {
    let (min_extent, max_extent) = spec.extent_range(canvas.size);
    let other_colours: Vec<usize> =
        (0..canvas.objects.len()).filter(|&index| canvas.objects[index].colour != colour).collect();
    for _ in 0..PLACEMENT_TRIES {
        let extent = rng.in_range(min_extent, max_extent);
        let (width, height) = PlacedShape::footprint_size(shape, extent);
        let target = overlapping.then(|| other_colours[rng.below(other_colours.len() as u64) as usize]);
        let (left, top) = match target {
            Some(index) => {
                let around = canvas.objects[index].placed.footprint();
                (
                    position_touching(rng, around.x0, around.x1, width, canvas.size),
                    position_touching(rng, around.y0, around.y1, height, canvas.size),
                )
            }
            None => (rng.in_range(0, canvas.size - width), rng.in_range(0, canvas.size - height)),
        };
        let placed = PlacedShape { shape, left, top, extent };
        if canvas.accepts(&placed, colour, target) {
            return Some(placed);
        }
    }
    None
}

/// A start for a span of `length` in `0..=frame - length` that shares at
/// least one position with `start..end`.
fn position_touching(rng: &mut SplitMix64, start: u32, end: u32, length: u32, frame: u32) -> u32 {
    let lowest = (start + 1).saturating_sub(length);
    let highest = (end - 1).min(frame - length);
    rng.in_range(lowest, highest)
}

/// Fallback: shuffled cells of a square grid, one smallest-extent-or-more
/// object per cell, separated by at least the gap.
fn grid_layout(rng: &mut SplitMix64, size: u32, spec: &SceneSpec, identities: &[(Colour, Shape)]) -> Layout {
    let cells_per_side = grid_cells_per_side(identities.len());
    let cell = size / cells_per_side;
    let (min_extent, max_extent) = spec.extent_range(size);
    let mut cells: Vec<u32> = (0..cells_per_side * cells_per_side).collect();
    rng.shuffle(&mut cells);
    let mut canvas = Canvas::new(size, spec.min_visible_fraction);
    for (&(colour, shape), &cell_index) in identities.iter().zip(&cells) {
        let room = cell - SEPARATION_GAP;
        let extent = rng.in_range(min_extent, max_extent.min(room));
        let (width, height) = PlacedShape::footprint_size(shape, extent);
        let left = (cell_index % cells_per_side) * cell + rng.in_range(0, room - width);
        let top = (cell_index / cells_per_side) * cell + rng.in_range(0, room - height);
        canvas.commit(colour, PlacedShape { shape, left, top, extent });
    }
    canvas.into_layout()
}

/// The layout under construction, with per-pixel labels for occlusion checks.
struct Canvas {
    size: u32,
    min_visible_fraction: f64,
    objects: Vec<LaidOutObject>,
    labels: Vec<u8>,
    visible_pixels: Vec<u32>,
}

impl Canvas {
    fn new(size: u32, min_visible_fraction: f64) -> Self {
        Self {
            size,
            min_visible_fraction,
            objects: Vec::new(),
            labels: vec![BACKGROUND_LABEL; size as usize * size as usize],
            visible_pixels: Vec::new(),
        }
    }

    fn label_at(&self, x: u32, y: u32) -> u8 {
        self.labels[y as usize * self.size as usize + x as usize]
    }

    /// Whether `placed` may be drawn next: it keeps clear of same-coloured
    /// objects (and of all objects unless it overlaps `target`), covers a
    /// noticeable part of `target`, and leaves every earlier object visible enough.
    fn accepts(&self, placed: &PlacedShape, colour: Colour, target: Option<usize>) -> bool {
        let footprint = placed.footprint();
        let too_close = |other: &LaidOutObject| {
            let must_keep_clear = target.is_none() || other.colour == colour;
            must_keep_clear && footprint.comes_within(&other.placed.footprint(), SEPARATION_GAP)
        };
        if self.objects.iter().any(too_close) {
            return false;
        }
        let mut hidden = [0u32; MAX_OBJECTS];
        placed.for_each_pixel(|x, y| {
            let label = self.label_at(x, y);
            if label != BACKGROUND_LABEL {
                hidden[usize::from(label - 1)] += 1;
            }
        });
        let hides_enough =
            |index: usize| f64::from(hidden[index]) >= MIN_OCCLUDED_FRACTION * f64::from(self.objects[index].full_area);
        if target.is_some_and(|index| !hides_enough(index)) {
            return false;
        }
        self.objects.iter().enumerate().all(|(index, object)| {
            let remaining = self.visible_pixels[index] - hidden[index];
            f64::from(remaining) >= self.min_visible_fraction * f64::from(object.full_area)
        })
    }

    fn commit(&mut self, colour: Colour, placed: PlacedShape) {
        let label = self.objects.len() as u8 + 1;
        let mut full_area = 0;
        let size = self.size as usize;
        placed.for_each_pixel(|x, y| {
            let pixel = &mut self.labels[y as usize * size + x as usize];
            if *pixel != BACKGROUND_LABEL {
                self.visible_pixels[usize::from(*pixel - 1)] -= 1;
            }
            *pixel = label;
            full_area += 1;
        });
        self.visible_pixels.push(full_area);
        self.objects.push(LaidOutObject { colour, placed, full_area });
    }

    fn into_layout(self) -> Layout {
        Layout { objects: self.objects, labels: self.labels }
    }
}

#[cfg(test)]
mod tests {
    use super::super::geometry::BoundingBox;
    use super::*;

    #[test]
    fn touching_positions_overlap_the_span_and_stay_in_frame() {
        let mut rng = SplitMix64::new(3);
        for _ in 0..2_000 {
            let start = rng.in_range(0, 50);
            let end = start + rng.in_range(1, 13);
            let length = rng.in_range(1, 20);
            let position = position_touching(&mut rng, start, end, length, 64);
            assert!(position + length <= 64);
            assert!(position < end && start < position + length);
        }
    }

    #[test]
    fn grid_fallback_respects_gap_and_frame() {
        let spec = SceneSpec::default();
        let identities: Vec<_> = Colour::ALL.iter().map(|&colour| (colour, Shape::Square)).collect();
        for seed in 0..50 {
            let layout = grid_layout(&mut SplitMix64::new(seed), 32, &spec, &identities);
            let boxes: Vec<BoundingBox> = layout.objects.iter().map(|o| o.placed.footprint()).collect();
            for (index, a) in boxes.iter().enumerate() {
                assert!(a.x1 <= 32 && a.y1 <= 32);
                assert!(boxes[index + 1..].iter().all(|b| !a.comes_within(b, SEPARATION_GAP)));
            }
        }
    }
}
