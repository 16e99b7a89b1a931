//! CP-246 (PS3.5 §6.2.2, note on VR UN): an element of VR UN with undefined length holds a
//! sequence encoded in implicit VR little endian, whatever the transfer syntax.
//!
//! `dicom-parser` reads such an element's items in the data set's own (explicit VR)
//! encoding, which misreads every byte after it. [`rewrite`] transcodes the data set once,
//! before parsing: each such element becomes an SQ of undefined length whose items are in
//! the data set's encoding, with VRs from the standard dictionary (UN for unknown and
//! private tags). Everything else is copied byte for byte. The input must have passed
//! `scan::scan_dataset`, so every length here is already known to fit.

use dicom_core::{Tag, VR};

use super::scan::{Encoding, effective_vr, has_short_length, read_header};
use crate::imaging::error::ErrorKind;

const UNDEFINED: u32 = 0xFFFF_FFFF;
const ITEM: Tag = Tag(0xFFFE, 0xE000);
const ITEM_DELIM: Tag = Tag(0xFFFE, 0xE00D);
const SEQ_DELIM: Tag = Tag(0xFFFE, 0xE0DD);
const PIXEL_DATA: Tag = Tag(0x7FE0, 0x0010);
const MAX_DEPTH: usize = 32;

fn bad(msg: impl Into<String>) -> ErrorKind {
    ErrorKind::Malformed(format!("UN sequence (CP-246): {}", msg.into()))
}

struct Writer {
    out: Vec<u8>,
    enc: Encoding,
}

impl Writer {
    fn u16(&mut self, v: u16) {
        let b = if self.enc.little_endian {
            v.to_le_bytes()
        } else {
            v.to_be_bytes()
        };
        self.out.extend_from_slice(&b);
    }

    fn u32(&mut self, v: u32) {
        let b = if self.enc.little_endian {
            v.to_le_bytes()
        } else {
            v.to_be_bytes()
        };
        self.out.extend_from_slice(&b);
    }

    fn tag(&mut self, t: Tag) {
        self.u16(t.0);
        self.u16(t.1);
    }

    /// Item and delimiter headers carry no VR.
    fn marker(&mut self, t: Tag, len: u32) {
        self.tag(t);
        self.u32(len);
    }

    /// An explicit VR header (PS3.5 §7.1.2: 2-byte length for the short VRs).
    fn header(&mut self, t: Tag, vr: VR, len: u32) {
        self.tag(t);
        self.out.extend_from_slice(&vr.to_bytes());
        if has_short_length(vr) {
            self.u16(len as u16);
        } else {
            self.u16(0);
            self.u32(len);
        }
    }

    /// A value read as little endian, written in the output byte order.
    fn value(&mut self, vr: VR, v: &[u8]) {
        if self.enc.little_endian {
            self.out.extend_from_slice(v);
            return;
        }
        let unit = match vr {
            VR::US | VR::SS | VR::OW | VR::AT => 2,
            VR::UL | VR::SL | VR::FL | VR::OF | VR::OL => 4,
            VR::FD | VR::OD | VR::SV | VR::UV | VR::OV => 8,
            _ => 1,
        };
        for chunk in v.chunks(unit) {
            self.out.extend(chunk.iter().rev());
        }
    }
}

struct Reader<'a> {
    data: &'a [u8],
}

impl Reader<'_> {
    fn slice(&self, from: usize, len: usize) -> Result<&[u8], ErrorKind> {
        from.checked_add(len)
            .and_then(|e| self.data.get(from..e))
            .ok_or_else(|| bad(format!("value at byte {from} runs past the end")))
    }

    /// Copies a data set in `src` encoding from `pos` until `end` or, with `until_delim`,
    /// an item delimiter; returns the position after what it consumed.
    fn dataset(
        &self,
        w: &mut Writer,
        mut pos: usize,
        end: usize,
        src: Encoding,
        until_delim: bool,
        depth: usize,
    ) -> Result<usize, ErrorKind> {
        if depth > MAX_DEPTH {
            return Err(bad(format!("nested deeper than {MAX_DEPTH} levels")));
        }
        loop {
            if pos >= end {
                return if until_delim {
                    Err(bad("missing item delimiter"))
                } else {
                    Ok(end)
                };
            }
            if !until_delim
                && end - pos < 8
                && self
                    .data
                    .get(pos..end)
                    .is_some_and(|t| t.iter().all(|&b| b == 0))
            {
                return Ok(end);
            }
            let h = read_header(self.data, pos, src)
                .ok_or_else(|| bad(format!("incomplete header at byte {pos}")))?;
            let value_pos = pos + h.header_len;
            if h.tag == ITEM_DELIM {
                if until_delim {
                    return Ok(value_pos);
                }
                pos = value_pos;
                continue;
            }
            if h.tag == PIXEL_DATA && depth == 0 && src == w.enc {
                // Pixel data (native or fragments) is copied as it is, with the rest.
                w.out
                    .extend_from_slice(self.data.get(pos..end).unwrap_or_default());
                return Ok(end);
            }
            let vr = effective_vr(&h);
            let cp246 = h.len == UNDEFINED && (vr == VR::UN || h.vr.is_none());
            if vr == VR::SQ || cp246 {
                // The items' encoding: implicit LE for a UN sequence (CP-246) and inside one.
                let items_enc = if h.vr == Some(VR::UN) {
                    Encoding::IMPLICIT_LE
                } else {
                    src
                };
                w.header(h.tag, VR::SQ, UNDEFINED);
                let defined_end = (h.len != UNDEFINED)
                    .then(|| value_pos.checked_add(h.len as usize))
                    .flatten();
                pos = self.items(w, value_pos, defined_end, end, items_enc, depth + 1)?;
                w.marker(SEQ_DELIM, 0);
                continue;
            }
            if h.len == UNDEFINED {
                return Err(bad(format!(
                    "({:04X},{:04X}) of VR {vr:?} has an undefined length",
                    h.tag.0, h.tag.1
                )));
            }
            let value = self.slice(value_pos, h.len as usize)?;
            if src == w.enc {
                w.out
                    .extend_from_slice(self.data.get(pos..value_pos).unwrap_or_default());
                w.out.extend_from_slice(value);
            } else {
                // Implicit LE → the output's explicit encoding.
                let vr = if has_short_length(vr) && h.len > u32::from(u16::MAX) {
                    VR::UN
                } else {
                    vr
                };
                w.header(h.tag, vr, h.len);
                w.value(vr, value);
            }
            pos = value_pos + h.len as usize;
        }
    }

    /// Copies the items of a sequence as undefined-length items; returns the position after
    /// the sequence (its delimiter, or `defined_end`).
    fn items(
        &self,
        w: &mut Writer,
        mut pos: usize,
        defined_end: Option<usize>,
        end: usize,
        src: Encoding,
        depth: usize,
    ) -> Result<usize, ErrorKind> {
        let no_vr = Encoding {
            explicit_vr: false,
            little_endian: src.little_endian,
        };
        loop {
            if let Some(de) = defined_end
                && pos >= de
            {
                return Ok(de);
            }
            let h = read_header(self.data, pos, no_vr)
                .ok_or_else(|| bad(format!("incomplete item header at byte {pos}")))?;
            let value_pos = pos + h.header_len;
            if h.tag == SEQ_DELIM {
                return Ok(value_pos);
            }
            if h.tag != ITEM {
                return Err(bad(format!("expected an item at byte {pos}")));
            }
            w.marker(ITEM, UNDEFINED);
            pos = if h.len == UNDEFINED {
                self.dataset(w, value_pos, end, src, true, depth)?
            } else {
                let item_end = value_pos
                    .checked_add(h.len as usize)
                    .filter(|&e| e <= end)
                    .ok_or_else(|| bad(format!("item at byte {pos} runs past the end")))?;
                self.dataset(w, value_pos, item_end, src, false, depth)?;
                item_end
            };
            w.marker(ITEM_DELIM, 0);
        }
    }
}

/// Transcodes an explicit VR data set (`enc`) so that every VR UN element of undefined
/// length becomes an SQ in `enc` (see the module docs). Output length is bounded by about
/// twice the input (implicit headers grow by at most 4 bytes, items gain delimiters).
///
/// Errors: [`ErrorKind::Malformed`] when the structure does not transcode (never on data
/// that `scan::scan_dataset` accepted, except for nesting deeper than 32 levels).
pub fn rewrite(data: &[u8], enc: Encoding) -> Result<Vec<u8>, ErrorKind> {
    let mut w = Writer {
        out: Vec::with_capacity(data.len() + data.len() / 8),
        enc,
    };
    Reader { data }.dataset(&mut w, 0, data.len(), enc, false, 0)?;
    Ok(w.out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::imaging::dicom::scan::scan_dataset;

    #[test]
    fn un_sequence_becomes_explicit_sq() {
        // (0008,0060) CS "CT", then (0008,2112) UN undefined holding one implicit item with
        // (0008,1150) UI "1" and (0008,1155) UI "2", then (0028,0010) US 4.
        let mut v = vec![0x08, 0x00, 0x60, 0x00, b'C', b'S', 2, 0, b'C', b'T'];
        v.extend_from_slice(&[
            0x08, 0x00, 0x12, 0x21, b'U', b'N', 0, 0, 0xFF, 0xFF, 0xFF, 0xFF,
        ]);
        v.extend_from_slice(&[0xFE, 0xFF, 0x00, 0xE0, 20, 0, 0, 0]);
        v.extend_from_slice(&[0x08, 0x00, 0x50, 0x11, 2, 0, 0, 0, b'1', 0]);
        v.extend_from_slice(&[0x08, 0x00, 0x55, 0x11, 2, 0, 0, 0, b'2', 0]);
        v.extend_from_slice(&[0xFE, 0xFF, 0xDD, 0xE0, 0, 0, 0, 0]);
        v.extend_from_slice(&[0x28, 0x00, 0x10, 0x00, b'U', b'S', 2, 0, 4, 0]);
        assert_eq!(
            scan_dataset(&v, 0, Encoding::EXPLICIT_LE)
                .unwrap()
                .un_sequences,
            1
        );
        let out = rewrite(&v, Encoding::EXPLICIT_LE).unwrap();
        assert_eq!(
            scan_dataset(&out, 0, Encoding::EXPLICIT_LE)
                .unwrap()
                .un_sequences,
            0
        );
        use dicom_encoding::TransferSyntaxIndex;
        let ts = dicom_transfer_syntax_registry::TransferSyntaxRegistry
            .get("1.2.840.10008.1.2.1")
            .unwrap();
        let ds = dicom_object::InMemDicomObject::read_dataset_with_ts(out.as_slice(), ts).unwrap();
        let item = &ds.element(Tag(0x0008, 0x2112)).unwrap().items().unwrap()[0];
        let uid = item.element(Tag(0x0008, 0x1155)).unwrap().to_str().unwrap();
        assert_eq!(uid.trim_end_matches('\0'), "2");
        assert_eq!(
            ds.element(Tag(0x0028, 0x0010))
                .unwrap()
                .to_int::<u16>()
                .unwrap(),
            4
        );
    }
}
