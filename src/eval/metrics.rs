//! The scores of one patch map against one object's mask, and the curve and rank statistics.
//!
//! A map is one value per region of pixels: per patch for patch maps, per pixel for the pixel maps
//! that gradient methods define (a pixel is a 1×1 patch). Pixel-level metrics spread each region's
//! value uniformly over its pixels, so every map is compared at pixel level whatever its native
//! resolution; since the spread map is constant inside a region, each metric is computed exactly
//! from per-region counts of mask pixels instead of per-pixel loops.

use crate::error::{Error, Result};
use crate::explain::Geometry;
use crate::scene::Mask;

/// How many pixels of each patch an object covers, at the model-input resolution.
#[derive(Clone, Debug, PartialEq)]
pub struct PatchOverlap {
    /// Mask pixels in each patch, row-major over the grid.
    pub mask_pixels: Vec<u32>,
    /// Pixels in each patch.
    pub patch_pixels: Vec<u32>,
}

impl PatchOverlap {
    /// The overlap of a mask that covers exactly the model's patch grid (side `grid_side ·
    /// patch_size`), through the scene's patch-coverage helper.
    pub fn from_mask(mask: &Mask, geometry: Geometry) -> Result<Self> {
        let covered_side = (geometry.grid_side * geometry.patch_size) as u32;
        if mask.width() != covered_side || mask.height() != covered_side {
            return Err(Error::InvalidOption(format!(
                "a {}×{} mask does not match the {covered_side}-pixel patch grid",
                mask.width(),
                mask.height()
            )));
        }
        let grid = geometry.grid_side as u32;
        let patch_area = (geometry.patch_size * geometry.patch_size) as u32;
        // Coverage is a fraction of a whole-pixel count, so rounding recovers the count exactly.
        let mask_pixels = mask
            .patch_coverage(grid, grid)
            .iter()
            .map(|fraction| (fraction * patch_area as f32).round() as u32)
            .collect();
        Ok(PatchOverlap { mask_pixels, patch_pixels: vec![patch_area; geometry.patches()] })
    }

    /// The overlap at pixel resolution, for pixel maps over the same `side`² pixels as the mask:
    /// every pixel is a region of its own.
    pub fn per_pixel(mask: &Mask) -> Self {
        let (width, height) = (mask.width(), mask.height());
        let mask_pixels = (0..height).flat_map(|y| (0..width).map(move |x| u32::from(mask.get(x, y)))).collect();
        PatchOverlap { mask_pixels, patch_pixels: vec![1; (width * height) as usize] }
    }

    pub fn mask_size(&self) -> u32 {
        self.mask_pixels.iter().sum()
    }

    fn check_map(&self, map: &[f32]) -> Result<()> {
        if map.len() != self.patch_pixels.len() {
            return Err(Error::InvalidOption(format!(
                "a map of {} patches does not match a grid of {}",
                map.len(),
                self.patch_pixels.len()
            )));
        }
        if let Some(bad) = map.iter().find(|v| !v.is_finite()) {
            return Err(Error::InvalidOption(format!("the map holds a non-finite score ({bad})")));
        }
        Ok(())
    }
}

/// Groups of patch indices with equal values, highest value first, by `value(patch)`.
fn tie_groups(count: usize, value: impl Fn(usize) -> f64) -> Vec<Vec<usize>> {
    let mut order: Vec<usize> = (0..count).collect();
    order.sort_by(|&a, &b| value(b).total_cmp(&value(a)).then(a.cmp(&b)));
    let mut groups: Vec<Vec<usize>> = Vec::new();
    for patch in order {
        match groups.last_mut() {
            Some(group) if value(group[0]) == value(patch) => group.push(patch),
            _ => groups.push(vec![patch]),
        }
    }
    groups
}

/// The patches tied for the highest score: one patch unless several share the top value.
fn top_patches(map: &[f32], overlap: &PatchOverlap) -> Result<Vec<usize>> {
    overlap.check_map(map)?;
    let top = tie_groups(map.len(), |p| f64::from(map[p])).into_iter().next();
    top.ok_or_else(|| Error::InvalidOption("an empty map has no top patch".into()))
}

/// The share of `patches` for which `hit` holds: the chance that a uniformly random pick among
/// tied top patches hits.
fn share(patches: &[usize], hit: impl Fn(usize) -> bool) -> f64 {
    patches.iter().filter(|&&p| hit(p)).count() as f64 / patches.len() as f64
}

/// Pointing game, lenient (Zhang et al. 2016, <https://arxiv.org/abs/1608.00507>, with the
/// patch as the tolerance): 1 when the highest scoring patch holds at least one mask pixel,
/// else 0. Several patches tied for the top count as the expectation over a uniformly random
/// pick among them.
pub fn pointing_game(map: &[f32], overlap: &PatchOverlap) -> Result<f64> {
    let top = top_patches(map, overlap)?;
    Ok(share(&top, |p| overlap.mask_pixels[p] > 0))
}

/// Pointing game, strict: 1 when the highest scoring patch is mostly object (more than half of
/// its pixels in the mask). A patch that only grazes the object's edge scores in the lenient game
/// but not here. Ties as in [`pointing_game`].
pub fn strict_pointing_game(map: &[f32], overlap: &PatchOverlap) -> Result<f64> {
    let top = top_patches(map, overlap)?;
    Ok(share(&top, |p| 2 * overlap.mask_pixels[p] > overlap.patch_pixels[p]))
}

/// Text dependence of one two-object scene: with each object prompted in turn, 1 when both maps'
/// top patches touch their own prompted object and are different patches, else 0 (a map that
/// ignores the prompt cannot score by pointing at one patch touching both objects). Ties count
/// as the expectation over independent uniform picks among each map's tied top patches.
pub fn text_dependence(
    first_map: &[f32],
    first_overlap: &PatchOverlap,
    second_map: &[f32],
    second_overlap: &PatchOverlap,
) -> Result<f64> {
    let (first, second) = (top_patches(first_map, first_overlap)?, top_patches(second_map, second_overlap)?);
    let pairs = first
        .iter()
        .filter(|&&p| first_overlap.mask_pixels[p] > 0)
        .map(|&p| second.iter().filter(|&&q| q != p && second_overlap.mask_pixels[q] > 0).count())
        .sum::<usize>();
    Ok(pairs as f64 / (first.len() * second.len()) as f64)
}

/// Positive relevance per pixel of each patch: negative scores clipped to 0, then spread evenly
/// over the patch's pixels.
fn positive_density(map: &[f32], overlap: &PatchOverlap) -> Vec<f64> {
    map.iter().zip(&overlap.patch_pixels).map(|(&v, &n)| f64::from(v.max(0.0)) / f64::from(n)).collect()
}

/// Relevance mass accuracy (Arras, Osman, Samek 2022, CLEVR-XAI,
/// <https://doi.org/10.1016/j.inffus.2021.11.008>): the share of positive relevance that falls
/// inside the mask. 0 for a map without positive relevance, which puts none on the object.
pub fn relevance_mass_accuracy(map: &[f32], overlap: &PatchOverlap) -> Result<f64> {
    overlap.check_map(map)?;
    let density = positive_density(map, overlap);
    let total: f64 = density.iter().zip(&overlap.patch_pixels).map(|(d, &n)| d * f64::from(n)).sum();
    if total == 0.0 {
        return Ok(0.0);
    }
    let inside: f64 = density.iter().zip(&overlap.mask_pixels).map(|(d, &m)| d * f64::from(m)).sum();
    Ok(inside / total)
}

/// Relevance rank accuracy (Arras, Osman, Samek 2022): with K mask pixels, the share of the K
/// most relevant pixels that lie in the mask. Pixels of equal relevance form one tie group; the
/// group that straddles the K-th place counts as the expectation over a uniformly random order
/// inside it (its in-mask share times the places left), so the result never depends on pixel
/// order. Errors for an empty mask, where K = 0 makes the ratio undefined.
pub fn relevance_rank_accuracy(map: &[f32], overlap: &PatchOverlap) -> Result<f64> {
    overlap.check_map(map)?;
    let k = f64::from(overlap.mask_size());
    if k == 0.0 {
        return Err(Error::InvalidOption("rank accuracy is undefined for an empty mask".into()));
    }
    let density = positive_density(map, overlap);
    let (mut taken, mut hits) = (0.0, 0.0);
    for group in tie_groups(map.len(), |p| density[p]) {
        let pixels: f64 = group.iter().map(|&p| f64::from(overlap.patch_pixels[p])).sum();
        let inside: f64 = group.iter().map(|&p| f64::from(overlap.mask_pixels[p])).sum();
        let places = (k - taken).min(pixels);
        hits += inside * places / pixels;
        taken += places;
        if taken >= k {
            break;
        }
    }
    Ok(hits / k)
}

/// Patch indices by decreasing score, ties by increasing index: the order in which deletion
/// removes and insertion restores patches.
pub fn relevance_order(map: &[f32]) -> Vec<usize> {
    let mut order: Vec<usize> = (0..map.len()).collect();
    order.sort_by(|&a, &b| map[b].total_cmp(&map[a]).then(a.cmp(&b)));
    order
}

/// Area under a curve sampled at evenly spaced x in [0, 1] (first sample at 0, last at 1), by the
/// trapezoid rule: the curve's mean height. Errors on fewer than two samples.
pub fn trapezoid_auc(curve: &[f64]) -> Result<f64> {
    if curve.len() < 2 {
        return Err(Error::InvalidOption(format!("an AUC needs at least two samples, got {}", curve.len())));
    }
    let intervals = (curve.len() - 1) as f64;
    Ok(curve.windows(2).map(|pair| (pair[0] + pair[1]) / 2.0).sum::<f64>() / intervals)
}

/// 1-based ranks in increasing order of value, tied values sharing their average rank.
pub fn average_ranks(values: &[f32]) -> Vec<f64> {
    let mut order: Vec<usize> = (0..values.len()).collect();
    order.sort_by(|&a, &b| values[a].total_cmp(&values[b]));
    let mut ranks = vec![0.0; values.len()];
    let mut start = 0;
    while start < order.len() {
        let mut end = start + 1;
        while end < order.len() && values[order[end]] == values[order[start]] {
            end += 1;
        }
        // Places start+1 ..= end share their mean.
        let shared = (start + 1 + end) as f64 / 2.0;
        order[start..end].iter().for_each(|&i| ranks[i] = shared);
        start = end;
    }
    ranks
}

/// Spearman's rank correlation with average ranks for ties: Pearson's correlation of the ranks.
/// `None` when either map is constant (no ranking to correlate) or the lengths differ.
/// Adebayo et al. report it on the maps and on their absolute values ([`abs_spearman`]).
pub fn spearman(a: &[f32], b: &[f32]) -> Option<f64> {
    if a.len() != b.len() || a.len() < 2 {
        return None;
    }
    let (ra, rb) = (average_ranks(a), average_ranks(b));
    let mean = (a.len() + 1) as f64 / 2.0;
    let (mut cov, mut var_a, mut var_b) = (0.0, 0.0, 0.0);
    for (x, y) in ra.iter().zip(&rb) {
        cov += (x - mean) * (y - mean);
        var_a += (x - mean) * (x - mean);
        var_b += (y - mean) * (y - mean);
    }
    (var_a > 0.0 && var_b > 0.0).then(|| cov / (var_a * var_b).sqrt())
}

/// Spearman's ρ between the absolute values of two maps: the randomization check's variant that
/// ignores sign, for methods whose sign flips while their magnitudes still follow the input.
pub fn abs_spearman(a: &[f32], b: &[f32]) -> Option<f64> {
    let magnitudes = |map: &[f32]| map.iter().map(|v| v.abs()).collect::<Vec<f32>>();
    spearman(&magnitudes(a), &magnitudes(b))
}
