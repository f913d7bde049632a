//! Maps that use no model, to read every metric against: what chance gives (`random`) and what a
//! centre prior gives (`centre`). A method has to beat both before its numbers mean anything: the
//! pointing game in particular rewards guessing the middle whenever objects tend to sit there.

use crate::explain::noise::SplitMix64;
use serde::Serialize;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Baseline {
    /// Independent uniform scores in [0, 1) per patch.
    Random,
    /// Closeness to the image centre: minus the distance of the patch centre to it, shifted so
    /// the farthest patches score 0.
    Centre,
}

impl Baseline {
    pub const ALL: [Baseline; 2] = [Baseline::Random, Baseline::Centre];

    pub fn name(self) -> &'static str {
        match self {
            Baseline::Random => "random",
            Baseline::Centre => "centre",
        }
    }

    /// The map over a `grid_side`² grid; `seed` picks the random baseline's draw and is ignored
    /// by the centre one.
    pub fn patch_scores(self, grid_side: usize, seed: u64) -> Vec<f32> {
        match self {
            Baseline::Random => random_patch_scores(grid_side * grid_side, seed),
            Baseline::Centre => centre_patch_scores(grid_side),
        }
    }
}

/// `patches` independent uniform draws in [0, 1), the same for the same seed.
pub fn random_patch_scores(patches: usize, seed: u64) -> Vec<f32> {
    let mut rng = SplitMix64::new(seed);
    (0..patches).map(|_| rng.next_f64() as f32).collect()
}

/// Minus the Euclidean distance, in patch units, of each patch centre to the grid centre, plus
/// the largest such distance: the order of minus the distance, but non-negative, so that the
/// positive-relevance metrics (mass and rank accuracy) see the prior rather than an empty map.
pub fn centre_patch_scores(grid_side: usize) -> Vec<f32> {
    let centre = grid_side as f64 / 2.0;
    let distance = |index: usize| {
        let (row, col) = ((index / grid_side) as f64 + 0.5, (index % grid_side) as f64 + 0.5);
        ((row - centre).powi(2) + (col - centre).powi(2)).sqrt()
    };
    let patches = grid_side * grid_side;
    let farthest = (0..patches).map(distance).fold(0.0, f64::max);
    (0..patches).map(|index| (farthest - distance(index)) as f32).collect()
}
