//! The colours and shapes a scene can contain, and the words for them.

use serde::{Deserialize, Serialize};

/// An object colour. Each maps to one exact RGB value, so a pixel shows an
/// object's colour iff it equals [`Colour::rgb`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Colour {
    Red,
    Green,
    Blue,
    Yellow,
}

impl Colour {
    /// Every colour, in the fixed order used for caption lists.
    pub const ALL: [Colour; 4] = [Colour::Red, Colour::Green, Colour::Blue, Colour::Yellow];

    pub fn name(self) -> &'static str {
        match self {
            Colour::Red => "red",
            Colour::Green => "green",
            Colour::Blue => "blue",
            Colour::Yellow => "yellow",
        }
    }

    /// Strongly saturated values: every channel spread (max - min) is at least
    /// 125, far above what a background may reach, so no background pixel can
    /// ever equal an object colour.
    pub fn rgb(self) -> [u8; 3] {
        match self {
            Colour::Red => [215, 35, 35],
            Colour::Green => [40, 165, 60],
            Colour::Blue => [35, 75, 215],
            Colour::Yellow => [240, 205, 30],
        }
    }
}

/// An object shape.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Shape {
    Circle,
    Square,
    /// Upright, apex at the top; base as wide as the extent, height about
    /// sqrt(3)/2 of it, so nearly equilateral.
    Triangle,
}

impl Shape {
    /// Every shape, in the fixed order used for caption lists.
    pub const ALL: [Shape; 3] = [Shape::Circle, Shape::Square, Shape::Triangle];

    pub fn name(self) -> &'static str {
        match self {
            Shape::Circle => "circle",
            Shape::Square => "square",
            Shape::Triangle => "triangle",
        }
    }
}

/// "a red circle": the phrase naming one object, also its single caption.
pub fn object_phrase(colour: Colour, shape: Shape) -> String {
    let colour_name = colour.name();
    format!("{} {colour_name} {}", indefinite_article(colour_name), shape.name())
}

/// Every single-object caption for the given colours and shapes, colour-major
/// (all shapes of the first colour, then the next colour, ...).
pub fn single_captions(colours: &[Colour], shapes: &[Shape]) -> Vec<String> {
    colours.iter().flat_map(|&colour| shapes.iter().map(move |&shape| object_phrase(colour, shape))).collect()
}

/// The 12 single-object captions of the full vocabulary, in fixed order:
/// index `colour_index * Shape::ALL.len() + shape_index`.
pub fn all_single_captions() -> Vec<String> {
    single_captions(&Colour::ALL, &Shape::ALL)
}

fn indefinite_article(word: &str) -> &'static str {
    match word.chars().next() {
        Some('a' | 'e' | 'i' | 'o' | 'u') => "an",
        _ => "a",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn full_vocabulary_has_twelve_captions_in_colour_major_order() {
        let captions = all_single_captions();
        assert_eq!(captions.len(), 12);
        assert_eq!(captions[0], "a red circle");
        assert_eq!(captions[1], "a red square");
        assert_eq!(captions[3], "a green circle");
        assert_eq!(captions[11], "a yellow triangle");
    }

    #[test]
    fn object_colours_are_distinct_and_saturated() {
        for (index, colour) in Colour::ALL.iter().enumerate() {
            let [r, g, b] = colour.rgb();
            assert!(r.max(g).max(b) - r.min(g).min(b) >= 125, "{colour:?}");
            assert!(Colour::ALL[index + 1..].iter().all(|other| other.rgb() != colour.rgb()));
        }
    }
}
