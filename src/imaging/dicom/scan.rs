//! Structural pre-scan of an encoded data set.
//!
//! `dicom-parser` trusts declared value lengths and allocates them before
//! reading, so a 200-byte file declaring a 4 GiB element would commit 4 GiB.
//! Walking every element header first (without allocating) lets us refuse such
//! files as "truncated at byte N" and bounds every later allocation by the
//! file size.

use dicom_core::dictionary::{DataDictionary, DataDictionaryEntry, VirtualVr};
use dicom_core::{Tag, VR};
use dicom_dictionary_std::StandardDataDictionary;

use crate::imaging::error::ErrorKind;

/// Deepest sequence nesting accepted; real CT objects stay far below this.
const MAX_DEPTH: usize = 32;
const UNDEFINED: u32 = 0xFFFF_FFFF;
const ITEM: Tag = Tag(0xFFFE, 0xE000);
const ITEM_DELIM: Tag = Tag(0xFFFE, 0xE00D);
const SEQ_DELIM: Tag = Tag(0xFFFE, 0xE0DD);
const PIXEL_DATA: Tag = Tag(0x7FE0, 0x0010);

/// How a data set is encoded on the wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Encoding {
    pub explicit_vr: bool,
    pub little_endian: bool,
}

impl Encoding {
    pub const IMPLICIT_LE: Encoding = Encoding {
        explicit_vr: false,
        little_endian: true,
    };
    pub const EXPLICIT_LE: Encoding = Encoding {
        explicit_vr: true,
        little_endian: true,
    };
    pub const EXPLICIT_BE: Encoding = Encoding {
        explicit_vr: true,
        little_endian: false,
    };
}

/// One element header as found on the wire.
#[derive(Debug, Clone, Copy)]
pub struct Header {
    pub tag: Tag,
    /// `None` in implicit VR and for item/delimiter tags.
    pub vr: Option<VR>,
    pub len: u32,
    /// Bytes taken by the header itself.
    pub header_len: usize,
}

struct Scanner<'a> {
    data: &'a [u8],
    /// Absolute file offset of `data[0]`, for messages.
    base: u64,
    /// VR UN elements of undefined length met (read as implicit VR LE sequences, CP-246).
    un_sequences: std::cell::Cell<usize>,
}

/// What [`scan_dataset`] found besides "every element fits".
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ScanReport {
    /// VR UN elements of undefined length in an explicit VR data set (PS3.5 §6.2.2 note,
    /// CP-246): their items are implicit VR little endian, which the parser will not know;
    /// `cp246::rewrite` turns them into explicit VR sequences.
    pub un_sequences: usize,
}

/// Whether an element's value is (or looks like) a sequence: SQ, an undefined length, or a
/// value that starts with an item tag (private sequences in implicit VR).
fn sequence_like(h: &Header, value: &[u8]) -> bool {
    h.vr == Some(VR::SQ)
        || h.len == UNDEFINED
        || (h.vr.is_none() && dictionary_says_sequence(h.tag))
        || value.starts_with(&[0xFE, 0xFF, 0x00, 0xE0])
}

fn malformed_sequence(tag: Tag, offset: u64, reason: String) -> ErrorKind {
    ErrorKind::MalformedSequence {
        group: tag.0,
        element: tag.1,
        offset,
        reason,
    }
}

fn truncated(offset: u64, what: impl Into<String>) -> ErrorKind {
    ErrorKind::Truncated {
        offset,
        what: what.into(),
    }
}

fn u16_at(data: &[u8], pos: usize, le: bool) -> Option<u16> {
    let b: [u8; 2] = data.get(pos..pos.checked_add(2)?)?.try_into().ok()?;
    Some(if le {
        u16::from_le_bytes(b)
    } else {
        u16::from_be_bytes(b)
    })
}

fn u32_at(data: &[u8], pos: usize, le: bool) -> Option<u32> {
    let b: [u8; 4] = data.get(pos..pos.checked_add(4)?)?.try_into().ok()?;
    Some(if le {
        u32::from_le_bytes(b)
    } else {
        u32::from_be_bytes(b)
    })
}

/// Reads the element header at `pos`, or `None` when the bytes run out.
pub fn read_header(data: &[u8], pos: usize, enc: Encoding) -> Option<Header> {
    let le = enc.little_endian;
    let group = u16_at(data, pos, le)?;
    let element = u16_at(data, pos + 2, le)?;
    let tag = Tag(group, element);
    if group == 0xFFFE || !enc.explicit_vr {
        let len = u32_at(data, pos + 4, le)?;
        return Some(Header {
            tag,
            vr: None,
            len,
            header_len: 8,
        });
    }
    let vr_bytes = data.get(pos + 4..pos + 6)?;
    let vr = VR::from_binary([vr_bytes[0], vr_bytes[1]]).unwrap_or(VR::UN);
    if has_short_length(vr) {
        let len = u16_at(data, pos + 6, le)?;
        Some(Header {
            tag,
            vr: Some(vr),
            len: u32::from(len),
            header_len: 8,
        })
    } else {
        let len = u32_at(data, pos + 8, le)?;
        Some(Header {
            tag,
            vr: Some(vr),
            len,
            header_len: 12,
        })
    }
}

/// PS3.5 7.1.2: these VRs carry a 16-bit length in explicit VR.
pub(super) fn has_short_length(vr: VR) -> bool {
    use VR::*;
    matches!(
        vr,
        AE | AS
            | AT
            | CS
            | DA
            | DS
            | DT
            | FL
            | FD
            | IS
            | LO
            | LT
            | PN
            | SH
            | SL
            | SS
            | ST
            | TM
            | UI
            | UL
            | US
    )
}

/// The VR dicom-parser will use: the explicit one, or the dictionary's
/// (relaxed as its implicit decoder does) in implicit VR.
pub(super) fn effective_vr(h: &Header) -> VR {
    h.vr.unwrap_or_else(|| dictionary_vr(h.tag))
}

/// The VR of an implicit-VR element: the standard dictionary's, relaxed as dicom-parser's
/// implicit decoder does (US/SS → US, OB/OW → OW); UN for unknown and private tags.
fn dictionary_vr(tag: Tag) -> VR {
    StandardDataDictionary
        .by_tag(tag)
        .map(|e| e.vr().relaxed())
        .unwrap_or(VR::UN)
}

/// Bytes per value of binary VRs. dicom-parser reads ⌊len / size⌋ values but
/// advances its position by `len`, so a length that is not a multiple
/// would desynchronise it from this scan: such elements are refused.
fn value_size(vr: VR) -> usize {
    use VR::*;
    match vr {
        US | SS | OW => 2,
        UL | SL | FL | OF | OL | AT => 4,
        FD | OD | SV | UV | OV => 8,
        _ => 1,
    }
}

fn dictionary_says_sequence(tag: Tag) -> bool {
    StandardDataDictionary
        .by_tag(tag)
        .map(|e| matches!(e.vr(), VirtualVr::Exact(VR::SQ)))
        .unwrap_or(false)
}

impl Scanner<'_> {
    fn abs(&self, pos: usize) -> u64 {
        self.base + pos as u64
    }

    fn header(&self, pos: usize, end: usize, enc: Encoding) -> Result<Header, ErrorKind> {
        let window = self.data.get(..end).unwrap_or(self.data);
        read_header(window, pos, enc)
            .ok_or_else(|| truncated(self.abs(pos), "incomplete element header"))
    }

    /// Scans a data set in `[pos, end)`; with `until_item_delim`, stops at an
    /// item delimiter and returns the position after it.
    fn dataset(
        &self,
        mut pos: usize,
        end: usize,
        enc: Encoding,
        depth: usize,
        until_item_delim: bool,
    ) -> Result<usize, ErrorKind> {
        if depth > MAX_DEPTH {
            return Err(ErrorKind::Malformed(format!(
                "sequences nested deeper than {MAX_DEPTH} levels"
            )));
        }
        // The previous element at this level when it was sequence-like: (tag, start, length).
        let mut prev_seq: Option<(Tag, usize, u32)> = None;
        loop {
            if pos >= end {
                if until_item_delim {
                    return Err(truncated(self.abs(pos), "missing item delimiter"));
                }
                return Ok(pos);
            }
            // Trailing padding shorter than a header is common (odd files end
            // with a NUL); the parser ignores it, so do we.
            if !until_item_delim
                && end - pos < 8
                && self
                    .data
                    .get(pos..end)
                    .is_some_and(|t| t.iter().all(|&b| b == 0))
            {
                return Ok(end);
            }
            // At top level, a header that is out of tag order right after a sequence means the
            // sequence's declared length was wrong: name the sequence, not the garbage.
            let blame = |e: ErrorKind, tag: Option<Tag>| -> ErrorKind {
                match prev_seq {
                    Some((pt, start, len)) if depth == 0 && tag.is_none_or(|t| t <= pt) => {
                        malformed_sequence(
                            pt,
                            self.abs(start),
                            format!(
                                "its {} does not end at an element boundary ({e})",
                                if len == UNDEFINED {
                                    "undefined length".to_string()
                                } else {
                                    format!("declared length of {len} bytes")
                                }
                            ),
                        )
                    }
                    _ => e,
                }
            };
            let h = self.header(pos, end, enc).map_err(|e| blame(e, None))?;
            let value_pos = pos + h.header_len;
            if h.tag == ITEM_DELIM {
                if until_item_delim {
                    return Ok(value_pos);
                }
                // A stray delimiter at top level carries no value; skip it.
                pos = value_pos;
                continue;
            }
            if h.tag == ITEM || h.tag == SEQ_DELIM {
                return Err(blame(
                    ErrorKind::Malformed(format!("unexpected item tag at byte {}", self.abs(pos))),
                    None,
                ));
            }
            let in_sequence = |e: ErrorKind, defined: bool| -> ErrorKind {
                match e {
                    // A top-level sequence whose bytes are there but do not parse.
                    ErrorKind::Truncated { .. } if !defined => e,
                    ErrorKind::MalformedSequence { .. } => e,
                    e if depth == 0 => malformed_sequence(h.tag, self.abs(pos), e.to_string()),
                    e => e,
                }
            };
            if h.len == UNDEFINED {
                if h.tag == PIXEL_DATA {
                    pos = self.fragments(value_pos, end)?;
                } else if enc.explicit_vr && h.vr == Some(VR::UN) {
                    // PS3.5 §6.2.2 (CP-246): UN of undefined length holds an implicit VR
                    // little endian sequence, whatever the transfer syntax.
                    self.un_sequences.set(self.un_sequences.get() + 1);
                    pos = self
                        .items(value_pos, end, None, Encoding::IMPLICIT_LE, depth + 1)
                        .map_err(|e| in_sequence(e, false))?;
                } else {
                    // Any other undefined length is read as a sequence in the current
                    // encoding, exactly as dicom-parser does.
                    pos = self
                        .items(value_pos, end, None, enc, depth + 1)
                        .map_err(|e| in_sequence(e, false))?;
                }
                prev_seq = Some((h.tag, value_pos - h.header_len, UNDEFINED));
                continue;
            }
            let len = h.len as usize;
            let value_end = value_pos
                .checked_add(len)
                .filter(|&e| e <= end)
                .ok_or_else(|| {
                    blame(
                        truncated(
                            self.abs(pos),
                            format!(
                                "element ({:04X},{:04X}) declares {} bytes but only {} remain",
                                h.tag.0,
                                h.tag.1,
                                h.len,
                                end.saturating_sub(value_pos)
                            ),
                        ),
                        Some(h.tag),
                    )
                })?;
            let unit = value_size(effective_vr(&h));
            if !len.is_multiple_of(unit) {
                return Err(blame(
                    ErrorKind::Malformed(format!(
                        "element ({:04X},{:04X}) at byte {} has length {len}, not a multiple of {unit}",
                        h.tag.0,
                        h.tag.1,
                        self.abs(pos)
                    )),
                    Some(h.tag),
                ));
            }
            let is_seq = match h.vr {
                Some(VR::SQ) => true,
                Some(_) => false,
                None => dictionary_says_sequence(h.tag),
            };
            if is_seq {
                self.items(value_pos, value_end, Some(value_end), enc, depth + 1)
                    .map_err(|e| in_sequence(e, true))?;
            }
            let value = self.data.get(value_pos..value_end).unwrap_or_default();
            prev_seq = sequence_like(&h, value).then_some((h.tag, pos, h.len));
            pos = value_end;
        }
    }

    /// Scans the items of a sequence; `defined_end` is set for a
    /// defined-length sequence, otherwise a sequence delimiter ends it.
    fn items(
        &self,
        mut pos: usize,
        end: usize,
        defined_end: Option<usize>,
        enc: Encoding,
        depth: usize,
    ) -> Result<usize, ErrorKind> {
        loop {
            if let Some(de) = defined_end
                && pos >= de
            {
                return Ok(de);
            }
            let h = self.header(pos, end, enc.with_no_vr())?;
            let value_pos = pos + h.header_len;
            if h.tag == SEQ_DELIM {
                return Ok(value_pos);
            }
            if h.tag != ITEM {
                return Err(ErrorKind::Malformed(format!(
                    "expected a sequence item at byte {}, found ({:04X},{:04X})",
                    self.abs(pos),
                    h.tag.0,
                    h.tag.1
                )));
            }
            if h.len == UNDEFINED {
                pos = self.dataset(value_pos, end, enc, depth, true)?;
            } else {
                let item_end = value_pos
                    .checked_add(h.len as usize)
                    .filter(|&e| e <= end)
                    .ok_or_else(|| {
                        truncated(
                            self.abs(pos),
                            format!("sequence item declares {} bytes", h.len),
                        )
                    })?;
                self.dataset(value_pos, item_end, enc, depth, false)?;
                pos = item_end;
            }
        }
    }

    /// Scans encapsulated pixel data fragments up to the sequence delimiter.
    fn fragments(&self, mut pos: usize, end: usize) -> Result<usize, ErrorKind> {
        loop {
            // Fragment items are always little endian, no VR (PS3.5 A.4).
            let h = self.header(pos, end, Encoding::IMPLICIT_LE)?;
            let value_pos = pos + h.header_len;
            if h.tag == SEQ_DELIM {
                return Ok(value_pos);
            }
            if h.tag != ITEM || h.len == UNDEFINED {
                return Err(ErrorKind::Malformed(format!(
                    "bad pixel data fragment at byte {}",
                    self.abs(pos)
                )));
            }
            pos = value_pos
                .checked_add(h.len as usize)
                .filter(|&e| e <= end)
                .ok_or_else(|| {
                    truncated(
                        self.abs(pos),
                        format!("pixel data fragment declares {} bytes", h.len),
                    )
                })?;
        }
    }
}

impl Encoding {
    /// Items and delimiters never carry a VR, whatever the transfer syntax.
    fn with_no_vr(self) -> Encoding {
        Encoding {
            explicit_vr: false,
            little_endian: self.little_endian,
        }
    }
}

/// Checks that every element of the data set in `data` fits in the bytes
/// that hold it. `base` is the absolute offset of `data[0]` in the file.
///
/// Errors: [`ErrorKind::Truncated`] (a length runs past the end),
/// [`ErrorKind::MalformedSequence`] (a top-level sequence whose items do not parse, or whose
/// declared length leaves the next header out of tag order), [`ErrorKind::Malformed`].
pub fn scan_dataset(data: &[u8], base: u64, enc: Encoding) -> Result<ScanReport, ErrorKind> {
    let s = Scanner {
        data,
        base,
        un_sequences: std::cell::Cell::new(0),
    };
    s.dataset(0, data.len(), enc, 0, false)?;
    Ok(ScanReport {
        un_sequences: s.un_sequences.get(),
    })
}

/// Bytes searched after a malformed sequence for the next element (1 MiB).
const RESYNC_WINDOW: usize = 1 << 20;

/// Where the data set goes on after the malformed top-level sequence `tag` starting at
/// `start` (offsets into `data`): the even offset nearest to where its declared length ends
/// (either side, within [`RESYNC_WINDOW`] bytes, past its header) whose element has a higher
/// tag and from which the rest of the data set scans cleanly. `None` when there is none.
/// This is how readers such as fo-dicom get past a private sequence written in the wrong VR
/// encoding or with a wrong length.
pub fn resync_after(data: &[u8], start: usize, tag: Tag, enc: Encoding) -> Option<usize> {
    let h = read_header(data, start, enc)?;
    let first = start + h.header_len;
    let declared_end = if h.len == UNDEFINED {
        first
    } else {
        first.saturating_add(h.len as usize).min(data.len())
    };
    let fits = |p: usize| {
        p >= first
            && p < data.len()
            && read_header(data, p, enc).is_some_and(|h| {
                h.tag > tag
                    && h.tag.0 != 0xFFFE
                    && data
                        .get(p..)
                        .is_some_and(|rest| scan_dataset(rest, p as u64, enc).is_ok())
            })
    };
    (0..RESYNC_WINDOW / 2).find_map(|k| {
        let d = 2 * k;
        [
            declared_end.checked_add(d),
            declared_end.checked_sub(d).filter(|_| d > 0),
        ]
        .into_iter()
        .flatten()
        .find(|&p| fits(p))
    })
}

/// Result of scanning the file meta group (always explicit VR LE).
#[derive(Debug, Clone, Default)]
pub struct MetaScan {
    /// Length of the meta group in bytes, from its start.
    pub len: usize,
    /// Transfer syntax UID, if present.
    pub transfer_syntax: Option<String>,
    /// Whether (0002,0000) exists and counts exactly the group-2 bytes after
    /// it. Readers that trust the group length (dicom-object does) would
    /// otherwise start the data set somewhere this scan never checked.
    pub group_length_matches: bool,
}

/// Walks the group-2 elements starting at `data[0]` (just after "DICM"), up to the end its
/// group length (0002,0000) gives when that falls on an element boundary (PS3.10 §7.1).
pub fn scan_meta(data: &[u8], base: u64) -> Result<MetaScan, ErrorKind> {
    let mut pos = 0usize;
    let mut out = MetaScan::default();
    // (declared length, where the counted elements start)
    let mut group_length: Option<(u32, usize)> = None;
    while let Some(0x0002) = u16_at(data, pos, true) {
        // The group length bounds the group (PS3.10 §7.1): group-2 elements after it are a
        // second, stale meta group inside the data set, not part of this one.
        if group_length.is_some_and(|(g, from)| from.checked_add(g as usize) == Some(pos)) {
            break;
        }
        let h = read_header(data, pos, Encoding::EXPLICIT_LE)
            .ok_or_else(|| truncated(base + pos as u64, "incomplete file meta header"))?;
        let value_pos = pos + h.header_len;
        let value_end = value_pos
            .checked_add(h.len as usize)
            .filter(|&e| e <= data.len() && h.len != UNDEFINED)
            .ok_or_else(|| truncated(base + pos as u64, "file meta element runs past the end"))?;
        if h.tag == Tag(0x0002, 0x0000) && h.len == 4 {
            group_length = u32_at(data, value_pos, true).map(|g| (g, value_end));
        }
        if h.tag == Tag(0x0002, 0x0010) {
            let raw = data.get(value_pos..value_end).unwrap_or_default();
            let s = String::from_utf8_lossy(raw)
                .trim_end_matches(['\0', ' '])
                .trim()
                .to_string();
            if !s.is_empty() {
                out.transfer_syntax = Some(s);
            }
        }
        pos = value_end;
    }
    out.len = pos;
    out.group_length_matches = group_length.is_some_and(|(g, from)| from + g as usize == pos);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn elem_explicit(tag: (u16, u16), vr: &[u8; 2], value: &[u8]) -> Vec<u8> {
        let mut v = Vec::new();
        v.extend_from_slice(&tag.0.to_le_bytes());
        v.extend_from_slice(&tag.1.to_le_bytes());
        v.extend_from_slice(vr);
        v.extend_from_slice(&(value.len() as u16).to_le_bytes());
        v.extend_from_slice(value);
        v
    }

    #[test]
    fn accepts_well_formed_and_flags_overlong_element() {
        let mut ok = elem_explicit((0x0008, 0x0060), b"CS", b"CT");
        assert!(scan_dataset(&ok, 0, Encoding::EXPLICIT_LE).is_ok());
        // OB with a 4 GiB declared length must be refused, not allocated.
        ok.extend_from_slice(&[0xE0, 0x7F, 0x10, 0x00, b'O', b'B', 0, 0]);
        ok.extend_from_slice(&0xFFFF_FFF0u32.to_le_bytes());
        let err = scan_dataset(&ok, 132, Encoding::EXPLICIT_LE).unwrap_err();
        match err {
            ErrorKind::Truncated { offset, .. } => assert_eq!(offset, 132 + 10),
            other => panic!("unexpected {other:?}"),
        }
    }

    #[test]
    fn meta_group_length_must_count_exactly_the_group() {
        let ts = elem_explicit((0x0002, 0x0010), b"UI", b"1.2.840.10008.1.2\0");
        let meta = |claimed: u32| {
            let mut v = elem_explicit((0x0002, 0x0000), b"UL", &claimed.to_le_bytes());
            v.extend_from_slice(&ts);
            v.extend_from_slice(&[0x08, 0x00, 0x60, 0x00, 2, 0, 0, 0, b'C', b'T']);
            v
        };
        let exact = scan_meta(&meta(ts.len() as u32), 0).unwrap();
        assert_eq!(exact.len, 12 + ts.len());
        assert!(exact.group_length_matches);
        assert!(
            !scan_meta(&meta(ts.len() as u32 + 8), 0)
                .unwrap()
                .group_length_matches
        );
        assert!(!scan_meta(&ts, 0).unwrap().group_length_matches);
    }

    #[test]
    fn implicit_undefined_sequence_needs_delimiter() {
        // (0008,1140) undefined length, one empty undefined item, no seq delim.
        let mut v = Vec::new();
        v.extend_from_slice(&[0x08, 0x00, 0x40, 0x11, 0xFF, 0xFF, 0xFF, 0xFF]);
        v.extend_from_slice(&[0xFE, 0xFF, 0x00, 0xE0, 0xFF, 0xFF, 0xFF, 0xFF]);
        v.extend_from_slice(&[0xFE, 0xFF, 0x0D, 0xE0, 0, 0, 0, 0]);
        assert!(matches!(
            scan_dataset(&v, 0, Encoding::IMPLICIT_LE),
            Err(ErrorKind::Truncated { .. })
        ));
        v.extend_from_slice(&[0xFE, 0xFF, 0xDD, 0xE0, 0, 0, 0, 0]);
        assert!(scan_dataset(&v, 0, Encoding::IMPLICIT_LE).is_ok());
    }

    #[test]
    fn binary_value_with_partial_last_value_is_refused() {
        // Implicit (0000,0000) is UL: a 6-byte value would desynchronise the
        // parser (found by fuzzing: it then read a 4 GiB length).
        let mut v = vec![0, 0, 0, 0, 6, 0, 0, 0, 1, 2, 3, 4, 5, 6];
        assert!(matches!(
            scan_dataset(&v, 0, Encoding::IMPLICIT_LE),
            Err(ErrorKind::Malformed(_))
        ));
        v[4] = 4;
        v.truncate(12);
        assert!(scan_dataset(&v, 0, Encoding::IMPLICIT_LE).is_ok());
    }

    #[test]
    fn undefined_length_un_is_scanned_as_implicit_le() {
        // Explicit LE, UN with undefined length (CP-246): its items are implicit VR LE.
        let mut v = vec![
            0x09, 0x00, 0x10, 0x10, b'U', b'N', 0, 0, 0xFF, 0xFF, 0xFF, 0xFF,
        ];
        v.extend_from_slice(&[0xFE, 0xFF, 0x00, 0xE0, 0xFF, 0xFF, 0xFF, 0xFF]);
        // (0008,1150) UI, implicit: 4-byte length 2.
        v.extend_from_slice(&[0x08, 0x00, 0x50, 0x11, 2, 0, 0, 0, b'1', 0]);
        v.extend_from_slice(&[0xFE, 0xFF, 0x0D, 0xE0, 0, 0, 0, 0]);
        let open = v.clone();
        v.extend_from_slice(&[0xFE, 0xFF, 0xDD, 0xE0, 0, 0, 0, 0]);
        let r = scan_dataset(&v, 0, Encoding::EXPLICIT_LE).unwrap();
        assert_eq!(r.un_sequences, 1);
        // Without its sequence delimiter the file is cut short.
        assert!(matches!(
            scan_dataset(&open, 0, Encoding::EXPLICIT_LE),
            Err(ErrorKind::Truncated { .. })
        ));
    }

    fn elem_implicit(tag: (u16, u16), value: &[u8]) -> Vec<u8> {
        let mut v = Vec::new();
        v.extend_from_slice(&tag.0.to_le_bytes());
        v.extend_from_slice(&tag.1.to_le_bytes());
        v.extend_from_slice(&(value.len() as u32).to_le_bytes());
        v.extend_from_slice(value);
        v
    }

    #[test]
    fn wrong_private_sequence_length_is_named_and_skippable() {
        // Implicit LE: a private sequence whose declared length stops 4 bytes short of its
        // item delimiter, then (0029,0010) and pixel data.
        let mut seq = vec![0xFE, 0xFF, 0x00, 0xE0, 0xFF, 0xFF, 0xFF, 0xFF];
        seq.extend_from_slice(&[0xFE, 0xFF, 0x0D, 0xE0, 0, 0, 0, 0]);
        let mut v = elem_implicit((0x0008, 0x0060), b"MR");
        let start = v.len();
        v.extend_from_slice(&elem_implicit((0x2005, 0x140F), &seq));
        let len_at = start + 4;
        v[len_at..len_at + 4].copy_from_slice(&12u32.to_le_bytes());
        v.extend_from_slice(&elem_implicit((0x2005, 0x141A), b""));
        v.extend_from_slice(&elem_implicit((0x7FE0, 0x0010), &[1, 2, 3, 4]));
        match scan_dataset(&v, 0, Encoding::IMPLICIT_LE) {
            Err(ErrorKind::MalformedSequence {
                group: 0x2005,
                element: 0x140F,
                offset,
                ..
            }) => assert_eq!(offset, start as u64),
            other => panic!("unexpected {other:?}"),
        }
        let p = resync_after(&v, start, Tag(0x2005, 0x140F), Encoding::IMPLICIT_LE).unwrap();
        assert_eq!(p, start + 8 + 16);
    }
}
