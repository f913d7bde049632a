//! A built-in 5x7 bitmap font for legend labels and titles.
//!
//! Glyphs are 5 columns by 7 rows above the baseline plus one descender row
//! below it, so g, j, p, q, y and commas keep their tails without squashing
//! the lowercase. Text is scaled by whole pixels, which keeps it crisp at any
//! size without anti-aliasing. Printable ASCII is covered; a few common
//! typographic characters (bullets, curly quotes, dashes) map onto close
//! glyphs and anything else draws as '?'.

use image::{Rgb, RgbImage};

use super::raster::fill_rect;

/// Glyph width in font pixels.
pub(super) const GLYPH_WIDTH: u32 = 5;
/// Cap height in font pixels: rows above the baseline.
pub(super) const CAP_HEIGHT: u32 = 7;
/// Glyph height in font pixels, descender included.
pub(super) const GLYPH_HEIGHT: u32 = 8;
/// Horizontal distance between glyph origins in font pixels.
pub(super) const ADVANCE: u32 = GLYPH_WIDTH + 1;

type Glyph = [u8; GLYPH_HEIGHT as usize];

/// Renders `text` with its top-left at (`x`, `y`), each font pixel drawn as a
/// `scale` × `scale` square.
pub(super) fn draw_text(canvas: &mut RgbImage, x: i64, y: i64, text: &str, scale: u32, colour: Rgb<u8>) {
    let step = i64::from(scale);
    for (index, character) in text.chars().enumerate() {
        let origin_x = x + index as i64 * i64::from(ADVANCE) * step;
        for (row, bits) in glyph(character).iter().enumerate() {
            for column in 0..GLYPH_WIDTH {
                if bits & (1 << (GLYPH_WIDTH - 1 - column)) != 0 {
                    let px = origin_x + i64::from(column) * step;
                    let py = y + row as i64 * step;
                    fill_rect(canvas, px, py, scale, scale, colour);
                }
            }
        }
    }
}

/// Width in pixels of `text` drawn at `scale`, without trailing spacing.
pub(super) fn text_width(text: &str, scale: u32) -> u32 {
    let characters = text.chars().count() as u32;
    (characters * ADVANCE).saturating_sub(ADVANCE - GLYPH_WIDTH) * scale
}

/// How many characters fit in `width` pixels at `scale` (at least one).
pub(super) fn characters_within(width: u32, scale: u32) -> usize {
    let spacing = (ADVANCE - GLYPH_WIDTH) * scale;
    ((width + spacing) / (ADVANCE * scale)).max(1) as usize
}

fn glyph(character: char) -> &'static Glyph {
    let printable = match character {
        ' '..='~' => character,
        '\u{2018}' | '\u{2019}' | '\u{201A}' => '\'',
        '\u{201C}' | '\u{201D}' | '\u{201E}' => '"',
        '\u{2010}'..='\u{2015}' | '\u{2212}' => '-',
        '\u{00D7}' => 'x',
        '\u{00B7}' | '\u{2219}' => return &MIDDLE_DOT,
        '\u{2022}' => return &BULLET,
        '\u{2026}' => return &ELLIPSIS,
        c if c.is_whitespace() => ' ',
        _ => '?',
    };
    &ASCII[printable as usize - ' ' as usize]
}

/// Parses a glyph written as rows of '#' (ink) and '.' (paper) separated by
/// spaces; the descender row may be left out. Runs at compile time, so a
/// malformed glyph fails the build rather than a render.
const fn parse_glyph(source: &str) -> Glyph {
    let bytes = source.as_bytes();
    let mut glyph = [0; GLYPH_HEIGHT as usize];
    let (mut row, mut column, mut index) = (0, 0, 0);
    while index < bytes.len() {
        match bytes[index] {
            b'#' => {
                glyph[row] |= 1 << (GLYPH_WIDTH as usize - 1 - column);
                column += 1;
            }
            b'.' => column += 1,
            b' ' => {
                assert!(column == GLYPH_WIDTH as usize, "glyph row of wrong width");
                row += 1;
                column = 0;
            }
            _ => panic!("glyph rows hold only '#' and '.'"),
        }
        assert!(column <= GLYPH_WIDTH as usize, "glyph row too wide");
        index += 1;
    }
    assert!(column == GLYPH_WIDTH as usize, "glyph row of wrong width");
    assert!(row + 1 >= CAP_HEIGHT as usize, "glyph needs at least 7 rows");
    glyph
}

const fn parse_all(sources: [&str; 95]) -> [Glyph; 95] {
    let mut glyphs = [[0; GLYPH_HEIGHT as usize]; 95];
    let mut index = 0;
    while index < sources.len() {
        glyphs[index] = parse_glyph(sources[index]);
        index += 1;
    }
    glyphs
}

// The middle dot sits right of the glyph centre so it centres on the whole
// advance, spacing column included, between the spaces that surround it.
const MIDDLE_DOT: Glyph = parse_glyph("..... ..... ..... ..##. ..##. ..... .....");
const BULLET: Glyph = parse_glyph("..... ..... .###. .###. .###. ..... .....");
const ELLIPSIS: Glyph = parse_glyph("..... ..... ..... ..... ..... ..... #.#.#");

/// Printable ASCII from ' ' (0x20) to '~' (0x7E), in code order.
#[rustfmt::skip]
const ASCII: [Glyph; 95] = parse_all([
    "..... ..... ..... ..... ..... ..... .....", // space
    "..#.. ..#.. ..#.. ..#.. ..#.. ..... ..#..", // !
    ".#.#. .#.#. .#.#. ..... ..... ..... .....", // "
    ".#.#. .#.#. ##### .#.#. ##### .#.#. .#.#.", // #
    "..#.. .#### #.#.. .###. ..#.# ####. ..#..", // $
    "##... ##..# ...#. ..#.. .#... #..## ...##", // %
    ".##.. #..#. #.#.. .#... #.#.# #..#. .##.#", // &
    "..#.. ..#.. ..#.. ..... ..... ..... .....", // '
    "...#. ..#.. .#... .#... .#... ..#.. ...#.", // (
    ".#... ..#.. ...#. ...#. ...#. ..#.. .#...", // )
    "..... ..#.. #.#.# .###. #.#.# ..#.. .....", // *
    "..... ..#.. ..#.. ##### ..#.. ..#.. .....", // +
    "..... ..... ..... ..... ..... .##.. ..#.. .#...", // ,
    "..... ..... ..... ##### ..... ..... .....", // -
    "..... ..... ..... ..... ..... .##.. .##..", // .
    "..... ....# ...#. ..#.. .#... #.... .....", // /
    ".###. #...# #..## #.#.# ##..# #...# .###.", // 0
    "..#.. .##.. ..#.. ..#.. ..#.. ..#.. .###.", // 1
    ".###. #...# ....# ...#. ..#.. .#... #####", // 2
    "##### ...#. ..#.. ...#. ....# #...# .###.", // 3
    "...#. ..##. .#.#. #..#. ##### ...#. ...#.", // 4
    "##### #.... ####. ....# ....# #...# .###.", // 5
    "..##. .#... #.... ####. #...# #...# .###.", // 6
    "##### ....# ...#. ..#.. .#... .#... .#...", // 7
    ".###. #...# #...# .###. #...# #...# .###.", // 8
    ".###. #...# #...# .#### ....# ...#. .##..", // 9
    "..... .##.. .##.. ..... .##.. .##.. .....", // :
    "..... .##.. .##.. ..... .##.. .##.. ..#.. .#...", // ;
    "...#. ..#.. .#... #.... .#... ..#.. ...#.", // <
    "..... ..... ##### ..... ##### ..... .....", // =
    ".#... ..#.. ...#. ....# ...#. ..#.. .#...", // >
    ".###. #...# ....# ...#. ..#.. ..... ..#..", // ?
    ".###. #...# ....# .##.# #.#.# #.#.# .###.", // @
    ".###. #...# #...# #...# ##### #...# #...#", // A
    "####. #...# #...# ####. #...# #...# ####.", // B
    ".###. #...# #.... #.... #.... #...# .###.", // C
    "###.. #..#. #...# #...# #...# #..#. ###..", // D
    "##### #.... #.... ####. #.... #.... #####", // E
    "##### #.... #.... ####. #.... #.... #....", // F
    ".###. #...# #.... #.### #...# #...# .####", // G
    "#...# #...# #...# ##### #...# #...# #...#", // H
    ".###. ..#.. ..#.. ..#.. ..#.. ..#.. .###.", // I
    "..### ...#. ...#. ...#. ...#. #..#. .##..", // J
    "#...# #..#. #.#.. ##... #.#.. #..#. #...#", // K
    "#.... #.... #.... #.... #.... #.... #####", // L
    "#...# ##.## #.#.# #.#.# #...# #...# #...#", // M
    "#...# #...# ##..# #.#.# #..## #...# #...#", // N
    ".###. #...# #...# #...# #...# #...# .###.", // O
    "####. #...# #...# ####. #.... #.... #....", // P
    ".###. #...# #...# #...# #.#.# #..#. .##.#", // Q
    "####. #...# #...# ####. #.#.. #..#. #...#", // R
    ".#### #.... #.... .###. ....# ....# ####.", // S
    "##### ..#.. ..#.. ..#.. ..#.. ..#.. ..#..", // T
    "#...# #...# #...# #...# #...# #...# .###.", // U
    "#...# #...# #...# #...# #...# .#.#. ..#..", // V
    "#...# #...# #...# #.#.# #.#.# #.#.# .#.#.", // W
    "#...# #...# .#.#. ..#.. .#.#. #...# #...#", // X
    "#...# #...# #...# .#.#. ..#.. ..#.. ..#..", // Y
    "##### ....# ...#. ..#.. .#... #.... #####", // Z
    ".###. .#... .#... .#... .#... .#... .###.", // [
    "..... #.... .#... ..#.. ...#. ....# .....", // backslash
    ".###. ...#. ...#. ...#. ...#. ...#. .###.", // ]
    "..#.. .#.#. #...# ..... ..... ..... .....", // ^
    "..... ..... ..... ..... ..... ..... ..... #####", // _
    ".#... ..#.. ...#. ..... ..... ..... .....", // `
    "..... ..... .###. ....# .#### #...# .####", // a
    "#.... #.... #.##. ##..# #...# #...# ####.", // b
    "..... ..... .###. #.... #.... #...# .###.", // c
    "....# ....# .##.# #..## #...# #...# .####", // d
    "..... ..... .###. #...# ##### #.... .###.", // e
    "..##. .#..# .#... ###.. .#... .#... .#...", // f
    "..... ..... .#### #...# #...# .#### ....# .###.", // g
    "#.... #.... #.##. ##..# #...# #...# #...#", // h
    "..#.. ..... .##.. ..#.. ..#.. ..#.. .###.", // i
    "...#. ..... ..##. ...#. ...#. ...#. #..#. .##..", // j
    "#.... #.... #..#. #.#.. ##... #.#.. #..#.", // k
    ".##.. ..#.. ..#.. ..#.. ..#.. ..#.. .###.", // l
    "..... ..... ##.#. #.#.# #.#.# #...# #...#", // m
    "..... ..... #.##. ##..# #...# #...# #...#", // n
    "..... ..... .###. #...# #...# #...# .###.", // o
    "..... ..... ####. #...# #...# ####. #.... #....", // p
    "..... ..... .#### #...# #...# .#### ....# ....#", // q
    "..... ..... #.##. ##..# #.... #.... #....", // r
    "..... ..... .###. #.... .###. ....# ####.", // s
    ".#... .#... ###.. .#... .#... .#..# ..##.", // t
    "..... ..... #...# #...# #...# #..## .##.#", // u
    "..... ..... #...# #...# #...# .#.#. ..#..", // v
    "..... ..... #...# #...# #.#.# #.#.# .#.#.", // w
    "..... ..... #...# .#.#. ..#.. .#.#. #...#", // x
    "..... ..... #...# #...# #...# .#### ....# .###.", // y
    "..... ..... ##### ...#. ..#.. .#... #####", // z
    "...#. ..#.. ..#.. .#... ..#.. ..#.. ...#.", // {
    "..#.. ..#.. ..#.. ..#.. ..#.. ..#.. ..#..", // |
    ".#... ..#.. ..#.. ...#. ..#.. ..#.. .#...", // }
    "..... ..... .#... #.#.# ...#. ..... .....", // ~
]);

#[cfg(test)]
mod tests {
    use super::*;

    const INK: Rgb<u8> = Rgb([255, 255, 255]);

    /// Draws `character` in the middle of a 3x3-cell canvas and returns the
    /// bounding box of its ink relative to its own cell.
    fn ink_box(character: char, scale: u32) -> Option<(u32, u32, u32, u32)> {
        let (cell_w, cell_h) = (ADVANCE * scale, GLYPH_HEIGHT * scale);
        let mut canvas = RgbImage::new(3 * cell_w, 3 * cell_h);
        let text = character.to_string();
        draw_text(&mut canvas, cell_w.into(), cell_h.into(), &text, scale, INK);
        let lit: Vec<(u32, u32)> =
            canvas.enumerate_pixels().filter(|(_, _, p)| **p == INK).map(|(x, y, _)| (x, y)).collect();
        let min_x = lit.iter().map(|p| p.0).min()?;
        let max_x = lit.iter().map(|p| p.0).max()?;
        let min_y = lit.iter().map(|p| p.1).min()?;
        let max_y = lit.iter().map(|p| p.1).max()?;
        assert!(min_x >= cell_w && min_y >= cell_h, "{character:?} leaks up/left");
        Some((min_x - cell_w, min_y - cell_h, max_x - cell_w, max_y - cell_h))
    }

    #[test]
    fn every_printable_ascii_character_stays_within_its_cell() {
        for scale in [1, 3] {
            for character in ' '..='~' {
                let Some((_, _, max_x, max_y)) = ink_box(character, scale) else {
                    assert_eq!(character, ' ', "{character:?} draws nothing");
                    continue;
                };
                assert_ne!(character, ' ', "space should be blank");
                assert!(max_x < GLYPH_WIDTH * scale, "{character:?} too wide");
                assert!(max_y < GLYPH_HEIGHT * scale, "{character:?} too tall");
            }
        }
    }

    #[test]
    fn only_descenders_reach_below_the_baseline() {
        for character in ' '..='~' {
            let descends = ink_box(character, 1).is_some_and(|b| b.3 >= CAP_HEIGHT);
            assert_eq!(descends, ",;_gjpqy".contains(character), "{character:?}");
        }
    }

    #[test]
    fn glyphs_are_distinct() {
        let mut seen = std::collections::HashMap::new();
        for character in ' '..='~' {
            if let Some(other) = seen.insert(*glyph(character), character) {
                panic!("{character:?} looks like {other:?}");
            }
        }
    }

    #[test]
    fn unsupported_characters_draw_as_question_marks() {
        assert_eq!(glyph('é'), glyph('?'));
        assert_eq!(glyph('\u{1F600}'), glyph('?'));
        assert_eq!(glyph('\u{2019}'), glyph('\''));
        assert_eq!(glyph('\u{2212}'), glyph('-'));
        assert_eq!(glyph('\t'), glyph(' '));
        assert_ne!(glyph('·'), glyph('?'));
        assert_ne!(glyph('·'), glyph('+'));
    }

    #[test]
    fn width_counts_characters_not_bytes() {
        assert_eq!(text_width("", 2), 0);
        assert_eq!(text_width("a", 2), 10);
        assert_eq!(text_width("ab·", 1), 17);
        assert_eq!(characters_within(17, 1), 3);
        assert_eq!(characters_within(16, 1), 2);
        assert_eq!(characters_within(0, 4), 1);
    }
}
