//! Whether a JPEG file reaches its end-of-image marker. The JPEG decoder fills whatever a cut-off
//! file lacks with grey and reports nothing; Pillow refuses such a file ("image file is
//! truncated"), and an explanation of half a photo and a grey band would mislead, so it is refused
//! here too.

const MARKER: u8 = 0xFF;
const END_OF_IMAGE: u8 = 0xD9;
const START_OF_SCAN: u8 = 0xDA;
/// Restart markers and TEM stand alone: no length follows them.
fn stands_alone(marker: u8) -> bool {
    (0xD0..=0xD7).contains(&marker) || marker == 0x01
}

/// True when the bytes end before the end-of-image marker. A structure this walk does not
/// recognize is left to the decoder (false), so it never refuses what a decoder would read.
pub fn is_truncated(jpeg: &[u8]) -> bool {
    let mut at = 2; // after the start-of-image marker
    loop {
        let Some(&byte) = jpeg.get(at) else { return true };
        if byte != MARKER {
            return false;
        }
        let Some(&marker) = jpeg.get(at + 1) else { return true };
        match marker {
            MARKER => at += 1, // fill byte before a marker
            END_OF_IMAGE => return false,
            m if stands_alone(m) => at += 2,
            m => {
                let Some(length) = jpeg.get(at + 2..at + 4) else { return true };
                at += 2 + usize::from(u16::from_be_bytes([length[0], length[1]]));
                if m == START_OF_SCAN {
                    match next_marker_after_scan(jpeg, at) {
                        Some(next) => at = next,
                        None => return true,
                    }
                }
            }
        }
    }
}

/// The position of the first marker after entropy-coded data starting at `from`: in that data a
/// 0xFF byte is followed by 0x00 (a stuffed byte) or a restart marker, never by anything else.
fn next_marker_after_scan(jpeg: &[u8], from: usize) -> Option<usize> {
    let data = jpeg.get(from..)?;
    data.windows(2).position(|pair| pair[0] == MARKER && pair[1] != 0 && !stands_alone(pair[1])).map(|i| from + i)
}

#[cfg(test)]
mod tests {
    use super::is_truncated;

    /// SOI, a 4-byte segment, a scan with stuffed and restart bytes, EOI.
    fn complete() -> Vec<u8> {
        let mut jpeg = vec![0xFF, 0xD8, 0xFF, 0xE0, 0x00, 0x04, 0xAA, 0xBB];
        jpeg.extend([0xFF, 0xDA, 0x00, 0x03, 0x01]);
        jpeg.extend([0x12, 0xFF, 0x00, 0x34, 0xFF, 0xD3, 0x56]);
        jpeg.extend([0xFF, 0xD9]);
        jpeg
    }

    #[test]
    fn a_complete_file_is_not_truncated_and_any_cut_is() {
        let jpeg = complete();
        assert!(!is_truncated(&jpeg));
        for cut in 3..jpeg.len() {
            assert!(is_truncated(&jpeg[..cut]), "cut at {cut} of {}", jpeg.len());
        }
    }

    #[test]
    fn data_after_the_end_is_allowed() {
        let mut jpeg = complete();
        jpeg.extend(b"a video a phone appended");
        assert!(!is_truncated(&jpeg));
    }

    #[test]
    fn progressive_files_walk_every_scan() {
        let mut jpeg = complete();
        let end = jpeg.len() - 2;
        // A second table segment and a second scan before the end.
        jpeg.splice(end..end, [0xFF, 0xC4, 0x00, 0x03, 0x00, 0xFF, 0xDA, 0x00, 0x02, 0x77, 0xFF, 0x00]);
        assert!(!is_truncated(&jpeg));
        assert!(is_truncated(&jpeg[..jpeg.len() - 2]));
    }
}
