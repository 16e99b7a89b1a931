//! Encapsulated pixel data → one codestream per frame (PS3.5 §A.4, §A.4.1 "Basic Offset Table").
//!
//! A frame may span several fragments, and the Basic Offset Table that says where each frame
//! starts is optional. When fragments and frames differ in number and the table is empty (or
//! does not fit), frames are found as other readers do: a fragment that begins a JPEG, JPEG-LS
//! (SOI `FFD8`) or JPEG 2000 codestream (SOC+SIZ `FF4F FF51`, or a JP2 signature box) starts a
//! frame; failing that, a fragment whose data ends with EOI/EOC `FFD9` (trailing NUL padding
//! allowed) ends one.

use std::ops::Range;

use crate::imaging::error::ErrorKind;

fn starts_codestream(f: &[u8]) -> bool {
    f.starts_with(&[0xFF, 0xD8])
        || f.starts_with(&[0xFF, 0x4F, 0xFF, 0x51])
        || f.starts_with(&[0, 0, 0, 0x0C, 0x6A, 0x50, 0x20, 0x20])
}

fn ends_codestream(f: &[u8]) -> bool {
    let end = f.iter().rposition(|&b| b != 0).map_or(0, |i| i + 1);
    f.get(..end).is_some_and(|d| d.ends_with(&[0xFF, 0xD9]))
}

/// Groups by the Basic Offset Table: offsets count item bytes (8-byte header + value) from
/// the first fragment, must start at 0, increase, and each fall on a fragment start.
fn by_offset_table(lengths: &[usize], table: &[u32], frames: usize) -> Option<Vec<Range<usize>>> {
    if table.len() != frames || table.first() != Some(&0) {
        return None;
    }
    let mut starts = Vec::with_capacity(frames);
    let mut pos = 0u64;
    let mut next = table.iter().copied().map(u64::from).peekable();
    for (i, len) in lengths.iter().enumerate() {
        if next.peek() == Some(&pos) {
            next.next();
            starts.push(i);
        }
        pos += 8 + *len as u64;
    }
    (next.next().is_none() && starts.len() == frames).then(|| ranges(&starts, lengths.len()))
}

fn ranges(starts: &[usize], n: usize) -> Vec<Range<usize>> {
    starts
        .iter()
        .enumerate()
        .map(|(k, &s)| s..starts.get(k + 1).copied().unwrap_or(n))
        .collect()
}

/// Which fragments (index ranges into `fragments`, without the offset table item) hold each
/// of `frames` frames. `table` is the Basic Offset Table (possibly empty).
///
/// Errors: [`ErrorKind::Decode`] when no grouping yields exactly `frames` frames.
pub fn split<F: AsRef<[u8]>>(
    fragments: &[F],
    table: &[u32],
    frames: u32,
) -> Result<Vec<Range<usize>>, ErrorKind> {
    let n = fragments.len();
    let frames = frames as usize;
    if n == 0 {
        return Err(ErrorKind::Decode(
            "encapsulated pixel data has no fragments".into(),
        ));
    }
    if n == frames {
        return Ok((0..n).map(|i| i..i + 1).collect());
    }
    if frames == 1 {
        return Ok(std::iter::once(0..n).collect());
    }
    let lengths: Vec<usize> = fragments.iter().map(|f| f.as_ref().len()).collect();
    if let Some(r) = by_offset_table(&lengths, table, frames) {
        return Ok(r);
    }
    let starts: Vec<usize> = (0..n)
        .filter(|&i| starts_codestream(fragments[i].as_ref()))
        .collect();
    if starts.len() == frames && starts.first() == Some(&0) {
        return Ok(ranges(&starts, n));
    }
    let ends: Vec<usize> = (0..n)
        .filter(|&i| ends_codestream(fragments[i].as_ref()))
        .collect();
    if ends.len() == frames && ends.last() == Some(&(n - 1)) {
        let starts: Vec<usize> = std::iter::once(0)
            .chain(ends.iter().take(frames - 1).map(|e| e + 1))
            .collect();
        return Ok(ranges(&starts, n));
    }
    Err(ErrorKind::Decode(format!(
        "{n} fragments for {frames} frames: the Basic Offset Table has {} entries, {} fragments \
         start a codestream and {} end one",
        table.len(),
        starts.len(),
        ends.len()
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

    const SOI: [u8; 4] = [0xFF, 0xD8, 1, 2];
    const MID: [u8; 4] = [3, 4, 5, 6];
    const EOI: [u8; 4] = [7, 8, 0xFF, 0xD9];

    #[test]
    fn one_fragment_per_frame_and_single_frame() {
        assert_eq!(split(&[SOI, SOI], &[], 2).unwrap(), vec![0..1, 1..2]);
        assert_eq!(
            split(&[SOI, MID, EOI], &[], 1).unwrap(),
            std::iter::once(0..3).collect::<Vec<_>>()
        );
    }

    #[test]
    fn empty_offset_table_splits_at_start_markers() {
        let f = [SOI, MID, EOI, SOI, EOI];
        assert_eq!(split(&f, &[], 2).unwrap(), vec![0..3, 3..5]);
    }

    #[test]
    fn end_markers_when_starts_do_not_fit() {
        // The second frame's first fragment does not begin with SOI (e.g. a leading pad).
        let f = [SOI, EOI, MID, EOI];
        assert_eq!(split(&f, &[], 2).unwrap(), vec![0..2, 2..4]);
        // Trailing NUL padding after EOI is allowed.
        let padded = [
            vec![0xFF, 0xD8],
            vec![0xFF, 0xD9, 0],
            vec![1],
            vec![0xFF, 0xD9],
        ];
        assert_eq!(split(&padded, &[], 2).unwrap(), vec![0..2, 2..4]);
    }

    #[test]
    fn offset_table_wins_and_is_validated() {
        let f = [SOI, MID, SOI, MID];
        // 8 + 4 bytes per item: frame 1 at item 2 = offset 24.
        assert_eq!(split(&f, &[0, 24], 2).unwrap(), vec![0..2, 2..4]);
        // An offset that is no item start falls back to the markers.
        assert_eq!(split(&f, &[0, 20], 2).unwrap(), vec![0..2, 2..4]);
    }

    #[test]
    fn unsplittable_is_a_clear_error() {
        let e = split(&[SOI, MID, MID], &[], 2).unwrap_err();
        assert!(e.to_string().contains("3 fragments for 2 frames"), "{e}");
        assert!(split::<[u8; 0]>(&[], &[], 1).is_err());
    }
}
