//! The few box reads mp4parse does not cover: it has no HEVC sample entry (an `hvc1`/`hev1`
//! track comes back as an unknown description), so the video track's sample entry is read
//! here by walking the box tree `moov/trak/mdia/minf/stbl/stsd`, every size checked.

/// One box: its type and its payload (after the header).
struct Mp4Box<'a> {
    kind: [u8; 4],
    body: &'a [u8],
}

/// The boxes laid end to end in `bytes`; stops at the first malformed header.
fn children(mut bytes: &[u8]) -> impl Iterator<Item = Mp4Box<'_>> {
    std::iter::from_fn(move || {
        let size = u32::from_be_bytes(bytes.get(0..4)?.try_into().ok()?);
        let kind: [u8; 4] = bytes.get(4..8)?.try_into().ok()?;
        let (header, total) = match size {
            // A 64-bit size follows the type.
            1 => (
                16,
                usize::try_from(u64::from_be_bytes(bytes.get(8..16)?.try_into().ok()?)).ok()?,
            ),
            // The box runs to the end of its parent.
            0 => (8, bytes.len()),
            n => (8, usize::try_from(n).ok()?),
        };
        if total < header || total > bytes.len() {
            return None;
        }
        let body = &bytes[header..total];
        bytes = &bytes[total..];
        Some(Mp4Box { kind, body })
    })
}

fn child<'a>(bytes: &'a [u8], kind: &[u8; 4]) -> Option<&'a [u8]> {
    children(bytes).find(|b| &b.kind == kind).map(|b| b.body)
}

/// The first sample entry of a visual track: its four-character code and frame size.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct VisualEntry {
    pub fourcc: [u8; 4],
    pub width: u16,
    pub height: u16,
}

/// The first sample entry of the `track`-th `trak` (0-based, file order, as mp4parse lists
/// tracks), when it is there and long enough to be a visual sample entry.
pub fn visual_entry(file: &[u8], track: usize) -> Option<VisualEntry> {
    let moov = child(file, b"moov")?;
    let trak = children(moov).filter(|b| &b.kind == b"trak").nth(track)?;
    let stbl = [b"mdia", b"minf", b"stbl"]
        .iter()
        .try_fold(trak.body, |at, kind| child(at, kind))?;
    // `stsd` is a full box: version and flags, an entry count, then the entries.
    let stsd = child(stbl, b"stsd")?;
    let entry = children(stsd.get(8..)?).next()?;
    // VisualSampleEntry: 6 reserved, data reference index, 16 pre-defined/reserved, then
    // width and height (ISO/IEC 14496-12 §12.1.3).
    let dim = |at: usize| {
        Some(u16::from_be_bytes(
            entry.body.get(at..at + 2)?.try_into().ok()?,
        ))
    };
    Some(VisualEntry {
        fourcc: entry.kind,
        width: dim(24)?,
        height: dim(26)?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn boxed(kind: &[u8; 4], body: &[u8]) -> Vec<u8> {
        let mut out = ((body.len() + 8) as u32).to_be_bytes().to_vec();
        out.extend_from_slice(kind);
        out.extend_from_slice(body);
        out
    }

    fn file_with(entry: &[u8]) -> Vec<u8> {
        let mut stsd = vec![0, 0, 0, 0, 0, 0, 0, 1];
        stsd.extend(entry);
        let stbl = boxed(b"stbl", &boxed(b"stsd", &stsd));
        let trak = boxed(b"trak", &boxed(b"mdia", &boxed(b"minf", &stbl)));
        let mut moov = boxed(b"mvhd", &[0; 4]);
        moov.extend(boxed(b"trak", &boxed(b"tkhd", &[0; 4])));
        moov.extend(trak);
        let mut file = boxed(b"ftyp", b"isom");
        file.extend(boxed(b"moov", &moov));
        file
    }

    #[test]
    fn reads_the_entry_of_the_nth_track() {
        let mut body = vec![0u8; 24];
        body.extend(1080u16.to_be_bytes());
        body.extend(1920u16.to_be_bytes());
        body.extend([0; 50]);
        let file = file_with(&boxed(b"hvc1", &body));
        assert_eq!(
            visual_entry(&file, 1),
            Some(VisualEntry {
                fourcc: *b"hvc1",
                width: 1080,
                height: 1920
            })
        );
        // The first trak has no media box; there is no third.
        assert_eq!(visual_entry(&file, 0), None);
        assert_eq!(visual_entry(&file, 2), None);
    }

    #[test]
    fn damaged_sizes_end_the_walk_instead_of_reading_past_it() {
        let mut body = vec![0u8; 28];
        body.extend([0; 8]);
        let good = file_with(&boxed(b"hev1", &body));
        assert!(visual_entry(&good, 1).is_some());
        for cut in 0..good.len() {
            // Every truncation is answered, none panics.
            let _ = visual_entry(&good[..cut], 1);
        }
        let mut huge = good.clone();
        let at = huge.windows(4).position(|w| w == b"hev1").unwrap() - 4;
        huge[at..at + 4].copy_from_slice(&u32::MAX.to_be_bytes());
        assert_eq!(visual_entry(&huge, 1), None);
        // A short entry is not a visual sample entry.
        assert_eq!(visual_entry(&file_with(&boxed(b"hvc1", &[0; 10])), 1), None);
    }
}
