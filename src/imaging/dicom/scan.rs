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
fn has_short_length(vr: VR) -> bool {
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
fn effective_vr(h: &Header) -> VR {
    match h.vr {
        Some(vr) => vr,
        None => StandardDataDictionary
            .by_tag(h.tag)
            .map(|e| e.vr().relaxed())
            .unwrap_or(VR::UN),
    }
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
            let h = self.header(pos, end, enc)?;
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
                return Err(ErrorKind::Malformed(format!(
                    "unexpected item tag at byte {}",
                    self.abs(pos)
                )));
            }
            if h.len == UNDEFINED {
                if h.tag == PIXEL_DATA {
                    pos = self.fragments(value_pos, end)?;
                } else {
                    // Any other undefined length is read as a sequence in the
                    // current encoding, exactly as dicom-parser does (PS3.5
                    // 6.2.2 says implicit LE for UN, but what matters here is
                    // bounding what the parser will allocate).
                    pos = self.items(value_pos, end, None, enc, depth + 1)?;
                }
                continue;
            }
            let len = h.len as usize;
            let value_end = value_pos
                .checked_add(len)
                .filter(|&e| e <= end)
                .ok_or_else(|| {
                    truncated(
                        self.abs(pos),
                        format!(
                            "element ({:04X},{:04X}) declares {} bytes but only {} remain",
                            h.tag.0,
                            h.tag.1,
                            h.len,
                            end.saturating_sub(value_pos)
                        ),
                    )
                })?;
            let unit = value_size(effective_vr(&h));
            if !len.is_multiple_of(unit) {
                return Err(ErrorKind::Malformed(format!(
                    "element ({:04X},{:04X}) at byte {} has length {len}, not a multiple of {unit}",
                    h.tag.0,
                    h.tag.1,
                    self.abs(pos)
                )));
            }
            let is_seq = match h.vr {
                Some(VR::SQ) => true,
                Some(_) => false,
                None => dictionary_says_sequence(h.tag),
            };
            if is_seq {
                self.items(value_pos, value_end, Some(value_end), enc, depth + 1)?;
            }
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
pub fn scan_dataset(data: &[u8], base: u64, enc: Encoding) -> Result<(), ErrorKind> {
    let s = Scanner { data, base };
    s.dataset(0, data.len(), enc, 0, false).map(|_| ())
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

/// Walks the group-2 elements starting at `data[0]` (just after "DICM").
pub fn scan_meta(data: &[u8], base: u64) -> Result<MetaScan, ErrorKind> {
    let mut pos = 0usize;
    let mut out = MetaScan::default();
    // (declared length, where the counted elements start)
    let mut group_length: Option<(u32, usize)> = None;
    while let Some(0x0002) = u16_at(data, pos, true) {
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
    fn undefined_length_un_is_scanned_in_the_current_encoding() {
        // Explicit LE, UN with undefined length whose content is an implicit
        // item header: read as explicit (as dicom-parser does), the item's
        // element declares ~3.7 GB and must be refused.
        let mut v = vec![
            0x09, 0x00, 0x10, 0x10, b'U', b'N', 0, 0, 0xFF, 0xFF, 0xFF, 0xFF,
        ];
        v.extend_from_slice(&[0xFE, 0xFF, 0x00, 0xE0, 0xFF, 0xFF, 0xFF, 0xFF]);
        v.extend_from_slice(&[0x08, 0x00, 0x15, 0x11, 0xFF, 0xFF, 0xFF, 0xFF]);
        v.extend_from_slice(&[0xFE, 0xFF, 0x00, 0xE0, 0, 0, 0, 0]);
        assert!(matches!(
            scan_dataset(&v, 0, Encoding::EXPLICIT_LE),
            Err(ErrorKind::Truncated { .. })
        ));
    }
}
