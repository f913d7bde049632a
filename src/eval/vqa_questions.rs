//! The questions a generative model is asked about a synthetic scene, with the answers its exact
//! contents give: the six kinds of issue "a default generative model" names. Each question names
//! the object its answer word is about, so a map of that word can be scored against the object's
//! mask.

use crate::scene::{BoundingBox, Colour, Scene, SceneObject, Shape};
use serde::Serialize;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum QuestionKind {
    /// "What colour is the {shape}?" (the shape unique in the scene) → the colour.
    Colour,
    /// "What shape is the {colour} object?" (the colour unique) → the shape.
    Shape,
    /// "What is in the image?" → every object, left to right.
    Listing,
    /// "Is there a {colour} {shape}?" → yes or no.
    Presence,
    /// "How many objects are there?" → one … four.
    Count,
    /// "Where is the {colour} {shape}?" → left, right, top, bottom or centre.
    Position,
}

impl QuestionKind {
    pub const ALL: [QuestionKind; 6] = [
        QuestionKind::Colour,
        QuestionKind::Shape,
        QuestionKind::Listing,
        QuestionKind::Presence,
        QuestionKind::Count,
        QuestionKind::Position,
    ];

    pub fn name(self) -> &'static str {
        match self {
            QuestionKind::Colour => "colour",
            QuestionKind::Shape => "shape",
            QuestionKind::Listing => "listing",
            QuestionKind::Presence => "presence",
            QuestionKind::Count => "count",
            QuestionKind::Position => "position",
        }
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct SceneQuestion {
    pub kind: QuestionKind,
    pub text: String,
    /// The exact answer: one word, or for a listing "a red circle and a blue square".
    pub answer: String,
    /// The object the answer word is about, when there is one (its mask scores the map).
    pub object: Option<usize>,
}

/// Within this share of the side from the image's centre (both ways), an object is "centre".
const CENTRE_BAND: f64 = 1.0 / 6.0;

/// Where an object mostly is: its visible box's centre, relative to the image's centre; "centre"
/// within a sixth of the side both ways, else the side it is farther towards (left/right when
/// the horizontal offset is at least the vertical one).
pub fn dominant_position(object: &SceneObject, size: u32) -> &'static str {
    let BoundingBox { x0, y0, x1, y1 } = object.bbox;
    let half = f64::from(size) / 2.0;
    let dx = (f64::from(x0 + x1) / 2.0 - half) / f64::from(size);
    let dy = (f64::from(y0 + y1) / 2.0 - half) / f64::from(size);
    if dx.abs() < CENTRE_BAND && dy.abs() < CENTRE_BAND {
        "centre"
    } else if dx.abs() >= dy.abs() {
        if dx < 0.0 {
            "left"
        } else {
            "right"
        }
    } else if dy < 0.0 {
        "top"
    } else {
        "bottom"
    }
}

const COUNT_WORDS: [&str; 4] = ["one", "two", "three", "four"];

/// "a red circle and a blue square": every object, left to right by its box's centre.
pub fn listing(scene: &Scene) -> String {
    let mut order: Vec<&SceneObject> = scene.objects.iter().collect();
    order.sort_by_key(|o| o.bbox.x0 + o.bbox.x1);
    order.iter().map(|o| o.phrase()).collect::<Vec<_>>().join(" and ")
}

/// Every kind of question the scene answers unambiguously, once each (presence twice: a present
/// object, and the first colour and shape of the vocabulary that is not in the scene).
pub fn scene_questions(scene: &Scene) -> Vec<SceneQuestion> {
    let objects = &scene.objects;
    let unique_shape = |o: &SceneObject| objects.iter().filter(|p| p.shape == o.shape).count() == 1;
    let unique_colour = |o: &SceneObject| objects.iter().filter(|p| p.colour == o.colour).count() == 1;
    let mut questions = Vec::new();
    if let Some((i, o)) = objects.iter().enumerate().find(|(_, o)| unique_shape(o)) {
        questions.push(SceneQuestion {
            kind: QuestionKind::Colour,
            text: format!("What colour is the {}?", o.shape.name()),
            answer: o.colour.name().into(),
            object: Some(i),
        });
    }
    if let Some((i, o)) = objects.iter().enumerate().find(|(_, o)| unique_colour(o)) {
        questions.push(SceneQuestion {
            kind: QuestionKind::Shape,
            text: format!("What shape is the {} object?", o.colour.name()),
            answer: o.shape.name().into(),
            object: Some(i),
        });
    }
    questions.push(SceneQuestion {
        kind: QuestionKind::Listing,
        text: "What is in the image?".into(),
        answer: listing(scene),
        object: None,
    });
    if let Some(o) = objects.first() {
        questions.push(SceneQuestion {
            kind: QuestionKind::Presence,
            text: format!("Is there a {} {}?", o.colour.name(), o.shape.name()),
            answer: "yes".into(),
            object: Some(0),
        });
    }
    let absent = Colour::ALL
        .iter()
        .flat_map(|&c| Shape::ALL.iter().map(move |&s| (c, s)))
        .find(|&(c, s)| !objects.iter().any(|o| o.colour == c && o.shape == s));
    if let Some((colour, shape)) = absent {
        questions.push(SceneQuestion {
            kind: QuestionKind::Presence,
            text: format!("Is there a {} {}?", colour.name(), shape.name()),
            answer: "no".into(),
            object: None,
        });
    }
    if let Some(word) = COUNT_WORDS.get(objects.len().wrapping_sub(1)) {
        questions.push(SceneQuestion {
            kind: QuestionKind::Count,
            text: "How many objects are there?".into(),
            answer: (*word).into(),
            object: None,
        });
    }
    if let Some((i, o)) =
        objects.iter().enumerate().find(|(_, o)| objects.iter().filter(|p| p.phrase() == o.phrase()).count() == 1)
    {
        questions.push(SceneQuestion {
            kind: QuestionKind::Position,
            text: format!("Where is the {} {}?", o.colour.name(), o.shape.name()),
            answer: dominant_position(o, scene.size).into(),
            object: Some(i),
        });
    }
    questions
}

/// An answer as compared: lower case, without surrounding punctuation or spaces.
pub fn normalized_answer(text: &str) -> String {
    text.trim().trim_end_matches(['.', '!', '?', ',']).trim().to_lowercase()
}

/// Whether `said` answers `question` exactly: the first word for one-word answers; for a listing,
/// every object named and none invented, in any order.
pub fn answer_is_right(question: &SceneQuestion, said: &str) -> bool {
    let said = normalized_answer(said);
    match question.kind {
        QuestionKind::Listing => {
            let mut expected: Vec<&str> = question.answer.split(" and ").collect();
            let mut given: Vec<&str> = said.split(" and ").map(str::trim).collect();
            expected.sort_unstable();
            given.sort_unstable();
            expected == given
        }
        _ => said.split_whitespace().next().map(|w| normalized_answer(w)) == Some(question.answer.clone()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scene::SceneSpec;

    #[test]
    fn every_scene_gets_unambiguous_questions_with_exact_answers() {
        for seed in 0..50 {
            let scene = Scene::generate(seed, 96, &SceneSpec::default()).unwrap();
            let questions = scene_questions(&scene);
            for q in &questions {
                if let Some(i) = q.object {
                    let o = &scene.objects[i];
                    match q.kind {
                        QuestionKind::Colour => assert_eq!(q.answer, o.colour.name()),
                        QuestionKind::Shape => assert_eq!(q.answer, o.shape.name()),
                        _ => {}
                    }
                }
                assert!(answer_is_right(q, &q.answer), "{q:?}");
                assert!(answer_is_right(q, &format!("{}.", q.answer.to_uppercase())), "casing and punctuation");
            }
            let count = questions.iter().find(|q| q.kind == QuestionKind::Count).unwrap();
            assert_eq!(count.answer, COUNT_WORDS[scene.objects.len() - 1]);
            assert!(questions.iter().any(|q| q.kind == QuestionKind::Listing));
        }
    }

    #[test]
    fn a_listing_must_name_every_object_and_invent_none() {
        let q = SceneQuestion {
            kind: QuestionKind::Listing,
            text: String::new(),
            answer: "a red circle and a blue square".into(),
            object: None,
        };
        assert!(answer_is_right(&q, "a blue square and a red circle"));
        assert!(!answer_is_right(&q, "a red circle"));
        assert!(!answer_is_right(&q, "a red circle and a blue square and a green triangle"));
        let colour =
            SceneQuestion { kind: QuestionKind::Colour, text: String::new(), answer: "red".into(), object: None };
        assert!(answer_is_right(&colour, "Red, I think"));
        assert!(!answer_is_right(&colour, "reddish"));
    }
}
