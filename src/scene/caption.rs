//! Captions describing a scene, each tied to the objects it names.

use serde::{Deserialize, Serialize};

use super::vocabulary::object_phrase;
use super::SceneObject;

/// Which template a caption follows.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CaptionKind {
    /// "a red circle"
    Single,
    /// "a red circle and a blue square"
    Conjunction,
    /// "a red circle left of a blue square"; only emitted when the visible
    /// bounding boxes share no column, so the order is unambiguous.
    LeftOf,
}

/// A caption and the indices of the objects it names, in the order named.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Caption {
    pub text: String,
    pub kind: CaptionKind,
    pub objects: Vec<usize>,
}

/// All captions of a scene: singles in object order, then a conjunction for
/// each pair in object order, then "left of" for each horizontally separated pair.
pub(super) fn describe(objects: &[SceneObject]) -> Vec<Caption> {
    let phrase = |index: usize| object_phrase(objects[index].colour, objects[index].shape);
    let pairs: Vec<(usize, usize)> =
        (0..objects.len()).flat_map(|first| (first + 1..objects.len()).map(move |second| (first, second))).collect();
    let singles = (0..objects.len()).map(|index| Caption {
        text: phrase(index),
        kind: CaptionKind::Single,
        objects: vec![index],
    });
    let conjunctions = pairs.iter().map(|&(first, second)| Caption {
        text: format!("{} and {}", phrase(first), phrase(second)),
        kind: CaptionKind::Conjunction,
        objects: vec![first, second],
    });
    let left_of = pairs.iter().filter_map(|&(first, second)| {
        let (a, b) = (&objects[first].bbox, &objects[second].bbox);
        if !a.is_horizontally_disjoint(b) {
            return None;
        }
        let (left, right) = if a.x1 <= b.x0 { (first, second) } else { (second, first) };
        Some(Caption {
            text: format!("{} left of {}", phrase(left), phrase(right)),
            kind: CaptionKind::LeftOf,
            objects: vec![left, right],
        })
    });
    singles.chain(conjunctions).chain(left_of).collect()
}
