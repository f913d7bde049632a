//! Perceptual colormaps stored as compact control-point tables.
//!
//! Each table holds 33 sRGB colours taken at t = 0, 1/32, …, 1 from
//! matplotlib's published colormap data; linear interpolation between them
//! stays within a few 8-bit steps of the full 256-entry originals while
//! keeping the source small. An odd count puts a control point exactly on
//! the neutral centre of the diverging map.

use std::fmt;
use std::str::FromStr;

use image::Rgb;

use super::HeatmapError;

/// A colour scale used to paint scores.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Colormap {
    /// Sequential, dark blue-violet to yellow.
    Viridis,
    /// Sequential, black through red and orange to pale yellow.
    Inferno,
    /// Sequential, black through purple and pink to pale cream.
    Magma,
    /// Diverging, blue through neutral grey to red; meant for signed scores.
    Coolwarm,
}

impl Colormap {
    /// Every colormap, in the order their names are listed in messages.
    pub const ALL: [Colormap; 4] = [Colormap::Viridis, Colormap::Inferno, Colormap::Magma, Colormap::Coolwarm];

    /// The lower-case name accepted by [`Colormap::from_name`].
    pub fn name(self) -> &'static str {
        match self {
            Colormap::Viridis => "viridis",
            Colormap::Inferno => "inferno",
            Colormap::Magma => "magma",
            Colormap::Coolwarm => "coolwarm",
        }
    }

    /// Looks a colormap up by name, ignoring case and surrounding spaces.
    ///
    /// The error message lists every valid name.
    pub fn from_name(name: &str) -> Result<Self, HeatmapError> {
        let wanted = name.trim();
        Self::ALL
            .into_iter()
            .find(|map| map.name().eq_ignore_ascii_case(wanted))
            .ok_or_else(|| HeatmapError::UnknownColormap { name: name.to_owned() })
    }

    /// The valid names joined for display, e.g. in CLI help.
    pub fn valid_names() -> String {
        Self::ALL.map(Colormap::name).join(", ")
    }

    /// Whether the map's centre stands for zero and its ends for opposite signs.
    pub fn is_diverging(self) -> bool {
        matches!(self, Colormap::Coolwarm)
    }

    /// The colour at position `t`, where 0 is the low end and 1 the high end.
    ///
    /// Positions outside 0..=1 are clamped; NaN reads as 0.
    pub fn sample(self, t: f32) -> Rgb<u8> {
        let points = self.control_points();
        let t = if t.is_nan() { 0.0 } else { t.clamp(0.0, 1.0) };
        let position = t * (points.len() - 1) as f32;
        let lower = (position.floor() as usize).min(points.len() - 2);
        let fraction = position - lower as f32;
        let (from, to) = (points[lower], points[lower + 1]);
        Rgb(std::array::from_fn(|channel| {
            let a = f32::from(from[channel]);
            let b = f32::from(to[channel]);
            (a + (b - a) * fraction).round() as u8
        }))
    }

    fn control_points(self) -> &'static [[u8; 3]; 33] {
        match self {
            Colormap::Viridis => &VIRIDIS,
            Colormap::Inferno => &INFERNO,
            Colormap::Magma => &MAGMA,
            Colormap::Coolwarm => &COOLWARM,
        }
    }
}

impl fmt::Display for Colormap {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Colormap {
    type Err = HeatmapError;

    fn from_str(name: &str) -> Result<Self, Self::Err> {
        Self::from_name(name)
    }
}

#[rustfmt::skip]
const VIRIDIS: [[u8; 3]; 33] = [
    [68, 1, 84], [71, 13, 96], [72, 24, 106], [72, 35, 116],
    [71, 45, 123], [69, 55, 129], [66, 64, 134], [62, 73, 137],
    [59, 82, 139], [55, 91, 141], [51, 99, 141], [47, 107, 142],
    [44, 114, 142], [41, 122, 142], [38, 130, 142], [35, 137, 142],
    [33, 145, 140], [31, 152, 139], [31, 160, 136], [34, 167, 133],
    [40, 174, 128], [50, 182, 122], [63, 188, 115], [78, 195, 107],
    [94, 201, 98], [112, 207, 87], [132, 212, 75], [152, 216, 62],
    [173, 220, 48], [194, 223, 35], [216, 226, 25], [236, 229, 27],
    [253, 231, 37],
];

#[rustfmt::skip]
const INFERNO: [[u8; 3]; 33] = [
    [0, 0, 4], [4, 3, 18], [11, 7, 36], [21, 11, 55],
    [33, 12, 74], [47, 10, 91], [61, 9, 101], [74, 12, 107],
    [87, 16, 110], [100, 21, 110], [113, 25, 110], [125, 30, 109],
    [138, 34, 106], [151, 39, 102], [163, 44, 97], [176, 49, 91],
    [188, 55, 84], [199, 62, 76], [210, 70, 68], [219, 80, 59],
    [228, 90, 49], [235, 102, 40], [241, 115, 29], [246, 128, 19],
    [249, 142, 9], [251, 157, 7], [252, 172, 17], [251, 188, 33],
    [249, 203, 53], [245, 219, 76], [242, 234, 105], [243, 246, 138],
    [252, 255, 164],
];

#[rustfmt::skip]
const MAGMA: [[u8; 3]; 33] = [
    [0, 0, 4], [3, 3, 18], [10, 8, 34], [19, 13, 52],
    [29, 17, 71], [41, 17, 90], [54, 16, 107], [68, 15, 118],
    [81, 18, 124], [93, 23, 127], [106, 28, 129], [118, 33, 129],
    [131, 38, 129], [144, 42, 129], [156, 46, 127], [170, 51, 125],
    [183, 55, 121], [196, 60, 117], [208, 65, 111], [220, 72, 105],
    [231, 82, 99], [239, 93, 94], [245, 107, 92], [249, 121, 93],
    [252, 137, 97], [253, 152, 105], [254, 167, 114], [254, 182, 124],
    [254, 196, 136], [254, 211, 149], [253, 226, 163], [252, 240, 178],
    [252, 253, 191],
];

/// Moreland's "coolwarm", as shipped by matplotlib.
#[rustfmt::skip]
const COOLWARM: [[u8; 3]; 33] = [
    [59, 76, 192], [68, 90, 204], [78, 104, 216], [88, 117, 225],
    [98, 130, 234], [108, 143, 241], [119, 154, 247], [130, 166, 251],
    [141, 176, 254], [152, 185, 255], [163, 194, 254], [174, 201, 252],
    [185, 208, 249], [195, 213, 244], [204, 217, 237], [213, 219, 229],
    [221, 220, 220], [229, 216, 209], [236, 211, 197], [241, 204, 184],
    [245, 196, 172], [247, 186, 159], [247, 176, 147], [246, 165, 134],
    [244, 152, 122], [240, 139, 110], [235, 125, 98], [228, 110, 86],
    [221, 95, 75], [212, 78, 65], [202, 59, 55], [190, 36, 46],
    [180, 4, 38],
];

#[cfg(test)]
mod tests {
    use super::*;

    /// Relative luminance (WCAG / sRGB), which orders colours by lightness.
    fn luminance(colour: Rgb<u8>) -> f32 {
        let linear = colour.0.map(|channel| {
            let c = f32::from(channel) / 255.0;
            if c <= 0.04045 {
                c / 12.92
            } else {
                ((c + 0.055) / 1.055).powf(2.4)
            }
        });
        0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]
    }

    #[test]
    fn endpoints_match_the_published_colours() {
        let expected = [
            (Colormap::Viridis, [68, 1, 84], [253, 231, 37]),
            (Colormap::Inferno, [0, 0, 4], [252, 255, 164]),
            (Colormap::Magma, [0, 0, 4], [252, 253, 191]),
            (Colormap::Coolwarm, [59, 76, 192], [180, 4, 38]),
        ];
        for (map, low, high) in expected {
            assert_eq!(map.sample(0.0), Rgb(low), "{map} low end");
            assert_eq!(map.sample(1.0), Rgb(high), "{map} high end");
        }
    }

    #[test]
    fn sequential_maps_brighten_monotonically() {
        for map in Colormap::ALL.into_iter().filter(|m| !m.is_diverging()) {
            let points = map.control_points().map(|point| luminance(Rgb(point)));
            assert!(points.windows(2).all(|pair| pair[0] < pair[1]), "{map}");
            // Rounding interpolated colours to 8 bits can dip by a hair.
            let mut previous = luminance(map.sample(0.0));
            for step in 1..=256 {
                let current = luminance(map.sample(step as f32 / 256.0));
                assert!(current >= previous - 5e-4, "{map} darkens at step {step}: {previous} -> {current}");
                previous = current;
            }
            assert!(luminance(map.sample(1.0)) > 10.0 * luminance(map.sample(0.0)));
        }
    }

    #[test]
    fn diverging_map_is_blue_then_neutral_then_red() {
        let map = Colormap::Coolwarm;
        let [r, _, b] = map.sample(0.0).0;
        assert!(b > r, "negative end should be blue");
        let [r, _, b] = map.sample(1.0).0;
        assert!(r > b, "positive end should be red");
        let [r, g, b] = map.sample(0.5).0;
        assert!(r.abs_diff(g) <= 2 && g.abs_diff(b) <= 2, "centre should be grey");
        let centre = luminance(map.sample(0.5));
        assert!(centre > luminance(map.sample(0.0)));
        assert!(centre > luminance(map.sample(1.0)));
    }

    #[test]
    fn out_of_range_positions_clamp() {
        for map in Colormap::ALL {
            assert_eq!(map.sample(-3.0), map.sample(0.0));
            assert_eq!(map.sample(7.0), map.sample(1.0));
            assert_eq!(map.sample(f32::NAN), map.sample(0.0));
        }
    }

    #[test]
    fn names_round_trip_and_ignore_case() {
        for map in Colormap::ALL {
            assert_eq!(Colormap::from_name(map.name()).unwrap(), map);
            assert_eq!(map.name().to_uppercase().parse::<Colormap>().unwrap(), map);
        }
        assert_eq!(Colormap::from_name(" Magma ").unwrap(), Colormap::Magma);
    }

    #[test]
    fn unknown_name_lists_the_valid_ones() {
        let err = Colormap::from_name("jet").unwrap_err();
        assert!(matches!(&err, HeatmapError::UnknownColormap { name } if name == "jet"));
        let message = err.to_string();
        for map in Colormap::ALL {
            assert!(message.contains(map.name()), "{message}");
        }
    }
}
